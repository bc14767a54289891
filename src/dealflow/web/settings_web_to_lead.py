"""The Web-to-Lead Settings page (admins only): the organisation id forms carry, the
settings (allowed retURL hosts, repeat window, rate limit, default lead source and
creator, the auto-response email to submitters), and the embeddable HTML form generated
for the fields an admin picks.

Writes go through `leads.web_to_lead.web_to_lead_settings_set`, whose refusal comes back
next to the input it names (400, nothing written). The generated form is text shown in a
read-only box (escaped like any page text) with a copy button (web/static/web/settings.js).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.web_to_lead import (
    FORM_FIELDS,
    form_field,
    organization_id,
    web_to_lead_settings,
    web_to_lead_settings_set,
)
from dealflow.people.models import User
from dealflow.web.forms import picklist_choices
from dealflow.web.pages import admin_view, signed_in_user
from dealflow.web.records import user_choices
from dealflow.web.settings_forms import SettingsForm, posted, posted_integer, saved, settings_page
from dealflow.web.web_to_lead import HONEYPOT_FIELD

SETTING_FIELDS = (
    "allowed_return_hosts",
    "repeat_window_minutes",
    "submissions_per_hour",
    "default_lead_source",
    "default_creator",
    "auto_response_enabled",
    "auto_response_from",
    "auto_response_subject",
    "auto_response_body",
)
CHECKBOXES = ("auto_response_enabled",)
# The inputs' labels, beside them and before a refusal shown above the form.
SETTING_LABELS = {
    "allowed_return_hosts": "Allowed return hosts",
    "repeat_window_minutes": "Repeat window (minutes)",
    "submissions_per_hour": "Submissions per hour from one address",
    "default_lead_source": "Default lead source",
    "default_creator": "Default lead creator",
    "auto_response_enabled": "Send the auto-response",
    "auto_response_from": "Auto-response from address",
    "auto_response_subject": "Auto-response subject",
    "auto_response_body": "Auto-response body",
}
# The service names a bad lead source by the Lead field it checks it as.
_ERROR_FIELDS = {"lead_source": "default_lead_source"}
# Fields every generated form has: Salesforce requires them of a lead.
REQUIRED_FORM_FIELDS = ("last_name", "company")
DEFAULT_FORM_FIELDS = ("first_name", "last_name", "email", "company")


def _current_values() -> dict[str, Any]:
    configuration = web_to_lead_settings.get()
    creator = ""
    if configuration.default_creator_id:
        creator = ids.encode("User", configuration.default_creator_id)
    return {
        "allowed_return_hosts": "\n".join(configuration.allowed_return_hosts),
        "repeat_window_minutes": configuration.repeat_window_minutes,
        "submissions_per_hour": configuration.submissions_per_hour,
        "default_lead_source": configuration.default_lead_source,
        "default_creator": creator,
        "auto_response_enabled": configuration.auto_response_enabled,
        "auto_response_from": configuration.auto_response_from,
        "auto_response_subject": configuration.auto_response_subject,
        "auto_response_body": configuration.auto_response_body,
    }


def _posted_creator(post: QueryDict) -> User | None:
    text = post.get("default_creator", "").strip()
    if not text:
        return None
    try:
        primary_key = ids.decode(text, "User")[1]
    except ids.InvalidIdError:
        primary_key = 0
    user = User.objects.filter(pk=primary_key, is_active=True).first()
    if user is None:
        raise DomainError(
            ErrorCode.INVALID_FIELD, "default_creator: choose an active user", ["default_creator"]
        )
    return user


def _save(request: HttpRequest) -> None:
    post = request.POST
    hosts = [line.strip() for line in post.get("allowed_return_hosts", "").splitlines()]
    window = posted_integer(post, "repeat_window_minutes", low=1, high=10**6)
    rate = posted_integer(post, "submissions_per_hour", low=1, high=10**6)
    values: dict[str, Any] = {
        "allowed_return_hosts": [host for host in hosts if host],
        "default_lead_source": post.get("default_lead_source", ""),
        "default_creator": _posted_creator(post),
        "auto_response_enabled": post.get("auto_response_enabled") == "on",
        "auto_response_from": post.get("auto_response_from", ""),
        "auto_response_subject": post.get("auto_response_subject", ""),
        "auto_response_body": post.get("auto_response_body", ""),
    }
    if window is not None:
        values["repeat_window_minutes"] = window
    if rate is not None:
        values["submissions_per_hour"] = rate
    web_to_lead_settings_set(actor=signed_in_user(request), **values)


def _form_field(form_name: str) -> dict[str, Any]:
    """One field of the generated form: its form name, label and input kind."""
    definition = form_field(form_name)
    kind = "text"
    choices: list[str] = []
    if definition.type == "boolean":
        kind = "checkbox"
    elif definition.type == "textarea":
        kind = "textarea"
    elif definition.is_picklist:
        kind = "select"
        choices = [value for value, _label in picklist_choices(definition)]
    return {
        "name": form_name,
        "label": definition.label,
        "kind": kind,
        "choices": choices,
        "length": definition.length if kind == "text" else None,
    }


def embeddable_form(request: HttpRequest, names: list[str], return_url: str) -> str:
    """The HTML of a Web-to-Lead form posting to this site, for the fields `names` (in
    FORM_FIELDS order, last name and company always), with the oid, the retURL and the
    honeypot (off screen, so people never fill it in)."""
    wanted = set(names) | set(REQUIRED_FORM_FIELDS)
    context = {
        "action": request.build_absolute_uri(reverse("web_to_lead")),
        "oid": organization_id(),
        "return_url": return_url,
        "fields": [_form_field(name) for name in FORM_FIELDS if name in wanted],
        "honeypot": HONEYPOT_FIELD,
    }
    text = render_to_string("web/web_to_lead/embed.html", context)
    return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"


@admin_view
def web_to_lead(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The settings form (POST saves it) and the form generator (GET `fields`, `return_url`)."""
    form = SettingsForm("web-to-lead", SETTING_FIELDS, _current_values(), SETTING_LABELS)
    if request.method == "POST":
        form = SettingsForm(
            "web-to-lead",
            SETTING_FIELDS,
            posted(request.POST, SETTING_FIELDS, CHECKBOXES),
            SETTING_LABELS,
        )
        try:
            _save(request)
        except DomainError as error:
            form.fail(_renamed(error))
        else:
            return saved(
                request, "Saved the Web-to-Lead settings.", reverse("settings_web_to_lead")
            )
    elif request.method != "GET":
        raise Http404("no such form")
    chosen = request.GET.getlist("fields") or list(DEFAULT_FORM_FIELDS)
    chosen = [name for name in chosen if name in FORM_FIELDS]
    return_url = request.GET.get("return_url", "").strip()[:1000]
    lead_source = form_field("lead_source")
    context = {
        "form": form,
        "organization_id": organization_id(),
        "source_choices": picklist_choices(lead_source, str(form.values["default_lead_source"])),
        "creator_choices": user_choices(),
        "field_choices": [
            (name, form_field(name).label, name in chosen or name in REQUIRED_FORM_FIELDS)
            for name in FORM_FIELDS
        ],
        "required_fields": REQUIRED_FORM_FIELDS,
        "return_url": return_url,
        "code": embeddable_form(request, chosen, return_url),
        "endpoint": request.build_absolute_uri(reverse("web_to_lead")),
        "from_hint": (
            "An address, or Name <address>. Empty: this server's sender, "
            f"{settings.DEFAULT_FROM_EMAIL}."
        ),
    }
    return settings_page(
        request,
        "web/settings/web_to_lead.html",
        "settings_web_to_lead",
        context,
        refused=form.failed,
    )


def _renamed(error: DomainError) -> DomainError:
    """The refusal (and those found with it) with its fields named as this page's inputs,
    in its fields and its message's "lead_source: " prefix."""
    renamed = []
    for each in error.every():
        fields = [_ERROR_FIELDS.get(name, name) for name in each.fields]
        message = each.message
        for name in each.fields:
            if name in _ERROR_FIELDS and message.startswith(f"{name}: "):
                message = f"{_ERROR_FIELDS[name]}: {message.removeprefix(f'{name}: ')}"
        renamed.append(DomainError(each.code, message, fields))
    renamed[0].also = renamed[1:]
    return renamed[0]
