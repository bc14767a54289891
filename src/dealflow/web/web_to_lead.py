"""The public Web-to-Lead endpoint: `POST /web-to-lead` and `POST /servlet/servlet.WebToLead`
(the address Salesforce's generated forms post to), no sign-in (docs/web-to-lead.md).

The defences run in this order, each on by default: a per-address rate limit
(django-ratelimit, the address read as login throttling reads it), a honeypot field, the
captcha hook (DEALFLOW_WEB_TO_LEAD_CAPTCHA), the organisation id (`oid`). Then the service
(leads.web_to_lead.web_to_lead_submit) checks every value and creates or updates the lead;
its refusal is a 400 naming each field by the label the form shows ("Last Name is
required."): a plain page listing them with "Go back" for a browser, or, for a client that
asks for JSON (`Accept: application/json`), the API's error shape with the form names in
`fields`. A success goes back to `retURL` when an admin allowed its host, else to a plain
thank-you page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.web_to_lead import (
    form_field,
    form_name_of,
    organization_id,
    return_url_allowed,
    web_to_lead_settings,
    web_to_lead_submit,
)

logger = logging.getLogger("dealflow.web_to_lead")

# A field people never see (the generated form puts it off screen) and bots fill in.
HONEYPOT_FIELD = "hp_comment"
RATE_LIMIT_GROUP = "web-to-lead"


def _page(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    return render(request, f"web/web_to_lead/{template}", context, status=status)


def _refused(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    return _page(request, "refused.html", status, title=title, text=text)


def _done(request: HttpRequest) -> HttpResponse:
    """To the form's retURL when its host is allowed; else the thank-you page."""
    target = request.POST.get("retURL", "")
    if target and return_url_allowed(target):
        return HttpResponseRedirect(target.strip())
    return _page(request, "thanks.html", 200)


def _captcha_solved(request: HttpRequest) -> bool:
    path = settings.DEALFLOW_WEB_TO_LEAD_CAPTCHA
    if not path:
        return True
    return bool(import_string(path)(request))


def _field_errors(error: DomainError) -> list[dict[str, str]]:
    """One entry per refused field, worded for the person who filled in the form:
    {"label": the form's label, "name": its form name, "code": the error code, "text": a
    sentence naming the field by its label ("Last Name is required.", "Annual Revenue:
    expected a number, got 'lots'.")}. The internal name stays out of `text`."""
    lines = []
    for refusal in error.every():
        for public_name in refusal.fields or [""]:
            form_name = form_name_of(public_name)
            try:
                label = form_field(form_name).label
            except KeyError:
                label = form_name
            if refusal.code == ErrorCode.REQUIRED_FIELD_MISSING:
                text = f"{label} is required."
            else:
                detail = refusal.detail(public_name)
                text = f"{label}: {detail}" if label else detail
                text = text if text.endswith((".", "!", "?")) else text + "."
            lines.append(
                {"label": label, "name": form_name, "code": str(refusal.code), "text": text}
            )
    return lines


def _wants_json(request: HttpRequest) -> bool:
    """A script that asks for JSON (`Accept: application/json` preferred to HTML); a
    browser's form, curl's `*/*` and no Accept at all get the page."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _invalid(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The 400 for refused values: the page listing each field by label with "Go back",
    or {"errors": [{"code", "message", "fields": [form name], "label"}]} for JSON clients."""
    errors = _field_errors(error)
    if _wants_json(request):
        payload = {
            "errors": [
                {
                    "code": line["code"],
                    "message": line["text"],
                    "fields": [line["name"]] if line["name"] else [],
                    "label": line["label"],
                }
                for line in errors
            ]
        }
        return JsonResponse(payload, status=400)
    return _page(request, "invalid.html", 400, errors=errors, back_url=_back_url(request))


def _back_url(request: HttpRequest) -> str:
    """Where "Go back" links when the browser runs no script: the page the form was on,
    as far as the Referer tells it (often only the other site's origin); "" without one."""
    referer = request.headers.get("Referer", "").strip()
    if referer.startswith(("http://", "https://")) and not any(c in referer for c in "\r\n"):
        return referer[:2000]
    return ""


# Forms on other sites post here, and they cannot carry this site's CSRF token. CSRF
# protects a signed-in user's session from a forged request; this endpoint acts for no
# session (it reads no cookie or signed-in user and acts as the Web-to-Lead creator), so
# a forged post can do nothing that a direct post cannot. The defences above stand in.
@csrf_exempt
@require_POST
def web_to_lead(request: HttpRequest) -> HttpResponse:
    """Take one Web-to-Lead submission (Salesforce's form field names)."""
    configuration = web_to_lead_settings.get()
    if is_ratelimited(
        request, group=RATE_LIMIT_GROUP, key="ip", rate=configuration.rate, increment=True
    ):
        logger.info("web-to-lead: rate limit reached by %s", request.META.get("REMOTE_ADDR"))
        return _refused(
            request,
            429,
            "Too many submissions",
            "This address has sent too many forms. Please try again later.",
        )
    if request.POST.get(HONEYPOT_FIELD, "").strip():
        logger.info("web-to-lead: honeypot filled; nothing created")
        return _done(request)  # a bot learns nothing from the answer
    if not _captcha_solved(request):
        return _refused(request, 400, "Not sent", "The captcha was not solved. Please try again.")
    oid = request.POST.get("oid")
    if oid is not None and oid.strip() != organization_id():
        return _refused(
            request, 400, "Not sent", "This form was made for another organisation (oid)."
        )
    try:
        web_to_lead_submit(form=request.POST)
    except DomainError as error:
        if error.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY:
            logger.warning("web-to-lead: %s", error.message)
            return _refused(request, 503, "Not sent", "This form cannot take submissions now.")
        return _invalid(request, error)
    return _done(request)
