"""Import jobs (docs/import.md): upload a CSV, follow its progress, revert it.

The upload is one request, so DEALFLOW_MAX_REQUEST_BYTES (2.5 MB by default) bounds it;
bigger files go through `dealflow import` on the server, which streams any size.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Router

from dealflow.api import docs
from dealflow.api.support import error_response, json_response, run
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.dataio.models import OnDuplicate
from dealflow.dataio.selectors import import_job_get, import_job_json
from dealflow.dataio.services import (
    error_report,
    import_revert,
    import_start,
    imports_directory,
)
from dealflow.dataio.tasks import run_import

router = Router(tags=["Imports"])

JOB_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "object": {"type": "string"},
        "file_name": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "done", "failed", "reverted"]},
        "rows_read": {"type": "integer"},
        "rows_created": {"type": "integer"},
        "rows_updated": {"type": "integer"},
        "rows_skipped": {"type": "integer"},
        "rows_failed": {"type": "integer"},
        "errors": {"type": "integer"},
    },
}


def _uploaded(request: HttpRequest) -> tuple[bytes, str]:
    """The file's bytes and name: a multipart `file` part, or the raw body (text/csv).
    INVALID_FIELD (400) for a multipart body Django cannot read (no or a bad boundary)."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError as error:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"file: the multipart body cannot be read ({error})", ["file"]
        ) from None
    if upload is not None:
        return upload.read(), upload.name or "upload.csv"
    if request.content_type.startswith("multipart/"):  # its body was read as parts
        raise DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING,
            "file: the multipart body has no part named file",
            ["file"],
        )
    return request.body, "upload.csv"


@router.post(
    "/imports",
    operation_id="import_create",
    summary="Upload a CSV (multipart `file` or a text/csv body) and start importing it",
    openapi_extra=docs.action_doc(JOB_SCHEMA),
)
def import_create(
    request,
    object: str,
    on_duplicate: str = OnDuplicate.SKIP,
    dry_run: bool = False,
    mapping: str | None = None,
):
    def operation():
        content, name = _uploaded(request)
        path = imports_directory() / f"{uuid.uuid4().hex}.csv"
        path.write_bytes(content)
        try:
            job = import_start(
                actor=request.auth,
                target=object,
                path=path,
                file_name=name,
                on_duplicate=on_duplicate,
                dry_run=dry_run,
                mapping_name=mapping,
            )
        except DomainError:
            path.unlink(missing_ok=True)
            raise
        run_import.delay(job.pk)
        job.refresh_from_db()
        return json_response(import_job_json(job), status=201)

    return run(operation, atomic=False)


@router.get(
    "/imports/{job_id}",
    operation_id="import_get",
    summary="An import job: its status, progress and counts",
    openapi_extra=docs.action_doc(JOB_SCHEMA),
)
def import_get(request, job_id: str):
    return run(
        lambda: json_response(import_job_json(import_job_get(actor=request.auth, job_id=job_id))),
        atomic=False,
    )


@router.get(
    "/imports/{job_id}/errors",
    operation_id="import_errors",
    summary="An import job's error report as CSV (row, field, value, code, message)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The error report",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **docs.error_responses(401, 404),
        }
    },
)
def import_errors(request, job_id: str):
    try:
        job = import_job_get(actor=request.auth, job_id=job_id)
    except DomainError as error:
        return error_response(error)
    response = StreamingHttpResponse(error_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@router.post(
    "/imports/{job_id}/revert",
    operation_id="import_revert",
    summary="Remove what an import created and restore what it updated",
    openapi_extra=docs.action_doc(JOB_SCHEMA),
)
def import_revert_job(request, job_id: str):
    def operation():
        job = import_job_get(actor=request.auth, job_id=job_id)
        return json_response(import_job_json(import_revert(actor=request.auth, job_id=job.pk)))

    return run(operation, atomic=False)
