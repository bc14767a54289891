"""The Import page: upload a CSV, follow the job's progress (htmx polling), download its
error report, revert it. The rules are the services' (dealflow.dataio.services)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealflow.core.errors import DomainError
from dealflow.dataio.models import ImportObject, ImportStatus, OnDuplicate
from dealflow.dataio.selectors import import_job_get, import_jobs
from dealflow.dataio.services import (
    error_report,
    import_revert,
    import_start,
    imports_directory,
    require_import,
)
from dealflow.dataio.tasks import run_import
from dealflow.web.pages import page_view

RECENT_JOBS = 20


def _importable(actor: Any) -> list[tuple[str, str]]:
    """The objects the form offers: those `require_import` lets the user import (a sales
    rep: leads only)."""
    offered = []
    for value, label in ImportObject.choices:
        try:
            require_import(actor, value)
        except DomainError:
            continue
        offered.append((value, label))
    return offered


def _form_context(request: HttpRequest, error: DomainError | None = None) -> dict:
    return {
        "jobs": list(import_jobs(actor=request.user)[:RECENT_JOBS]),
        "objects": _importable(request.user),
        "duplicates": OnDuplicate.choices,
        "error": error,
        "posted": request.POST,
    }


@page_view
def import_list(request: HttpRequest) -> HttpResponse:
    """The upload form and the user's recent imports; a POST starts an import."""
    if request.method != "POST":
        return render(request, "web/imports/list.html", _form_context(request))
    upload = request.FILES.get("file")
    path = imports_directory() / f"{uuid.uuid4().hex}.csv"
    with path.open("wb") as stream:
        for chunk in upload.chunks() if upload else []:
            stream.write(chunk)
    try:
        job = import_start(
            actor=request.user,  # type: ignore[arg-type]
            target=request.POST.get("object", ""),
            path=path,
            file_name=upload.name if upload else "",
            on_duplicate=request.POST.get("on_duplicate", OnDuplicate.SKIP),
            dry_run=request.POST.get("dry_run") == "on",
        )
    except DomainError as error:
        path.unlink(missing_ok=True)
        return render(request, "web/imports/list.html", _form_context(request, error), status=400)
    run_import.delay(job.pk)
    return redirect("import_detail", job_id=job.pk)


def _detail_context(request: HttpRequest, job_id: str) -> dict:
    job = import_job_get(actor=request.user, job_id=job_id)  # type: ignore[arg-type]
    first_errors = list(job.errors.order_by("row_number", "id")[:20])
    return {
        "job": job,
        "running": job.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        "error_count": job.errors.count(),
        "first_errors": first_errors,
    }


@page_view
def import_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    return render(request, "web/imports/detail.html", _detail_context(request, job_id))


@page_view
def import_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """The progress card alone, which the detail page polls while the job runs."""
    return render(request, "web/imports/_progress.html", _detail_context(request, job_id))


@page_view
def import_errors(request: HttpRequest, job_id: str) -> HttpResponse:
    job = import_job_get(actor=request.user, job_id=job_id)  # type: ignore[arg-type]
    response = StreamingHttpResponse(error_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@require_POST
@page_view
def import_revert_page(request: HttpRequest, job_id: str) -> HttpResponse:
    job = import_job_get(actor=request.user, job_id=job_id)  # type: ignore[arg-type]
    try:
        import_revert(actor=request.user, job_id=job.pk)  # type: ignore[arg-type]
    except DomainError as error:
        context = _detail_context(request, job_id)
        context["revert_error"] = error
        return render(request, "web/imports/detail.html", context, status=400)
    return redirect("import_detail", job_id=job.pk)
