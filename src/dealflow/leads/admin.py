"""Back office for leads and lead statuses; writes and conversion go through leads.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html

from dealflow.accounts.models import Account
from dealflow.core import ids
from dealflow.core.access import readable
from dealflow.core.admin import (
    SYSTEM_FIELDSET,
    ReadOnlyAdmin,
    RecordAdmin,
    ServiceAdmin,
    ServiceForm,
    public_id,
    record_admin_link,
)
from dealflow.core.errors import DomainError
from dealflow.leads.models import (
    Lead,
    LeadQualificationAnswer,
    LeadStatus,
    QualificationFramework,
    QualificationItem,
    QualificationOverride,
    QualificationSetting,
    ServiceLevelSetting,
    WebToLeadSetting,
)
from dealflow.leads.services import (
    lead_convert,
    lead_create,
    lead_delete,
    lead_status_set,
    lead_update,
)
from dealflow.people.models import User

CONVERSION_FIELDS = (
    "is_converted",
    "converted_date",
    "converted_account",
    "converted_contact",
    "converted_opportunity",
)
# At most this many leads are converted by one action (each in its own transaction).
MAX_CONVERT = 100


class LeadStatusForm(ServiceForm):
    """Writes through lead_status_set (one default status, never a converted one)."""

    class Meta:
        model = LeadStatus
        fields = LeadStatus.SETTINGS

    def call_service(self, data: dict[str, Any]) -> LeadStatus:
        values = {name: self.cleaned_data[name] for name in LeadStatus.SETTINGS}
        return lead_status_set(
            actor=self.actor, status=None if self.adding else self.instance, **values
        )


@admin.register(LeadStatus)
class LeadStatusAdmin(ServiceAdmin):
    form = LeadStatusForm
    list_display = LeadStatus.SETTINGS
    list_filter = ("is_converted", "is_closed", "is_active")
    search_fields = ("name",)
    ordering = ("sort_order", "name")
    readonly_fields = ("created_at", "updated_at")


class LeadForm(ServiceForm):
    """Writes through lead_create / lead_update; the two owner columns become `owner`."""

    picklist_object = "Lead"
    error_fields = {"owner": "owner_user"}

    class Meta:
        model = Lead
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            # Converted statuses are set by conversion only.
            current = self.instance.status_id if self.instance.pk else None
            self.fields["status"].queryset = LeadStatus.objects.filter(
                Q(is_converted=False, is_active=True) | Q(pk=current)
            )
            if self.adding:
                self.fields["status"].required = False
                self.fields["status"].help_text = "Leave empty for the default status."
        if self.adding and "owner_user" in self.fields:
            self.fields[
                "owner_user"
            ].help_text = (
                "A lead is owned by a user or a queue. Leave both empty to own it yourself."
            )
        self._owner: Any = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user, queue = cleaned.get("owner_user"), cleaned.get("owner_queue")
        changed = set(self.changed_data)
        if user and queue:
            # Picking one owner while the other is still filled in means "move it there".
            if "owner_queue" in changed and "owner_user" not in changed:
                user = None
            elif "owner_user" in changed and "owner_queue" not in changed:
                queue = None
            else:
                self.add_error("owner_queue", "Choose a user or a queue as owner, not both.")
        elif not user and not queue and not self.adding:
            self.add_error("owner_user", "A lead needs an owner: choose a user or a queue.")
        self._owner = user or queue
        return cleaned

    def service_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name not in ("owner_user", "owner_queue")
        }
        if self._owner is not None and {"owner_user", "owner_queue"} & set(self.changed_data):
            data["owner"] = self._owner
        if self.adding and data.get("status") is None:
            data.pop("status", None)
        return data

    def call_service(self, data: dict[str, Any]) -> Lead:
        if self.adding:
            return lead_create(actor=self.actor, data=data)
        return lead_update(actor=self.actor, lead=self.instance, data=data)


class ConvertLeadsForm(forms.Form):
    """The choices of the conversion action (DOMAIN.md section 5)."""

    converted_status = forms.ModelChoiceField(
        queryset=LeadStatus.objects.none(),
        empty_label=None,
        help_text="The status the lead gets when it is converted.",
    )
    create_opportunity = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Create an opportunity at the first open stage, with the contact as primary.",
    )
    opportunity_name = forms.CharField(
        required=False, max_length=120, help_text="Default: the lead's company."
    )
    account = forms.CharField(
        required=False,
        max_length=18,
        help_text="Optional: an existing account's id (001...) or number to attach the "
        "lead to instead of creating an account.",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Who owns the new records. Default: the lead's owner; required for a "
        "lead owned by a queue.",
    )

    def __init__(self, *args: Any, single: bool, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["owner"].queryset = readable(actor, self.fields["owner"].queryset)
        statuses = LeadStatus.objects.filter(is_converted=True, is_active=True)
        self.fields["converted_status"].queryset = statuses
        self.fields["converted_status"].initial = statuses.first()
        if not single:
            # An existing account and a deal name only make sense for one lead at a time.
            del self.fields["account"]
            del self.fields["opportunity_name"]

    def clean_account(self) -> Account | None:
        text = self.cleaned_data.get("account", "").strip()
        if not text:
            return None
        try:
            primary_key = int(text) if text.isdigit() else ids.decode(text, "Account")[1]
        except ids.InvalidIdError as error:
            raise forms.ValidationError(str(error)) from None
        # An account the actor may not read is answered as one that does not exist.
        account = readable(self.actor, Account.objects.filter(pk=primary_key)).first()
        if account is None:
            raise forms.ValidationError(f"No account {text}.")
        return account


@admin.register(Lead)
class LeadAdmin(RecordAdmin):
    form = LeadForm
    list_display = (
        "name",
        "company",
        "email",
        "status",
        "owner",
        "lead_source",
        "is_converted",
        "created_at",
        public_id,
    )
    list_filter = (
        "status",
        "is_converted",
        "lead_source",
        "rating",
        "owner_queue",
        ("owner_user", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("status", "owner_user", "owner_queue")
    search_fields = ("last_name", "first_name", "company", "email", "phone", "phone_digits")
    search_help_text = "Name, company, email, phone, or a lead id (00Q...)."
    date_hierarchy = "created_at"
    autocomplete_fields = ("owner_user", "owner_queue")
    readonly_fields = ("public_id", *CONVERSION_FIELDS, "created_at", "updated_at")
    actions = ("convert_leads",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_id",
                    ("salutation", "first_name", "last_name"),
                    "title",
                    "company",
                    "status",
                    ("owner_user", "owner_queue"),
                )
            },
        ),
        ("Reach", {"fields": ("email", "phone", "mobile_phone", "website")}),
        ("Address", {"fields": ("street", "city", "state", "postal_code", "country")}),
        (
            "Qualification",
            {
                "fields": (
                    "lead_source",
                    "rating",
                    "industry",
                    "annual_revenue",
                    "number_of_employees",
                    "description",
                )
            },
        ),
        ("Preferences", {"fields": ("do_not_call", "has_opted_out_of_email")}),
        ("Conversion", {"fields": CONVERSION_FIELDS}),
        SYSTEM_FIELDSET,
    )

    @admin.display(description="name", ordering="last_name")
    def name(self, obj: Lead) -> str:
        return " ".join(part for part in (obj.first_name, obj.last_name) if part)

    @admin.display(description="owner")
    def owner(self, obj: Lead) -> str:
        return str(obj.owner or "-")

    def has_change_permission(self, request, obj=None):
        # A converted lead is read-only (CANNOT_UPDATE_CONVERTED_LEAD): the admin shows it
        # view-only and refuses a POST to its change form.
        if obj is not None and obj.is_converted:
            return False
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        lead = self.get_object(request, object_id)
        if request.method == "GET" and lead is not None and lead.is_converted:
            self.message_user(
                request,
                f"This lead was converted on {lead.converted_date} and is read-only.",
                messages.INFO,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_record(self, actor: Any, obj: Lead) -> None:
        lead_delete(actor=actor, lead=obj)

    # -- conversion ----------------------------------------------------------------------

    @admin.action(description="Convert selected leads", permissions=["change"])
    def convert_leads(self, request, queryset):
        leads = list(
            queryset.select_related("status", "owner_user", "owner_queue")[: MAX_CONVERT + 1]
        )
        if len(leads) > MAX_CONVERT:
            self.message_user(
                request, f"Convert at most {MAX_CONVERT} leads at a time.", messages.ERROR
            )
            return None
        single = len(leads) == 1
        if "apply" in request.POST:
            form = ConvertLeadsForm(request.POST, single=single, actor=request.user)
            if form.is_valid():
                self._convert(request, leads, form.cleaned_data)
                return None  # back to the change list, which shows the messages
        else:
            form = ConvertLeadsForm(single=single, actor=request.user)
        context = {
            **self.admin_site.each_context(request),
            "title": "Convert leads" if not single else "Convert lead",
            "subtitle": None,
            "opts": self.opts,
            "leads": leads,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "convert_leads",
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/leads/lead/convert.html", context)

    def _convert(self, request, leads: list[Lead], options: dict[str, Any]) -> None:
        converted = 0
        for lead in leads:
            try:
                result = lead_convert(
                    actor=request.user,
                    lead=lead,
                    converted_status=options["converted_status"].name,
                    account=options.get("account"),
                    create_opportunity=options["create_opportunity"],
                    opportunity_name=options.get("opportunity_name") or None,
                    owner=options.get("owner"),
                )
            except DomainError as error:
                self.message_user(
                    request,
                    f"{lead} ({lead.public_id}) was not converted: {error.message}",
                    messages.ERROR,
                )
                continue
            converted += 1
            opportunity = (
                record_admin_link("Opportunity", result.opportunity_id)
                if result.opportunity_id
                else "none"
            )
            self.message_user(
                request,
                format_html(
                    "Converted {} ({}): account {}, contact {}, opportunity {}.",
                    lead,
                    lead.public_id,
                    record_admin_link("Account", result.account_id),
                    record_admin_link("Contact", result.contact_id),
                    opportunity,
                ),
                messages.SUCCESS,
            )
        if len(leads) > 1:
            level = messages.SUCCESS if converted == len(leads) else messages.WARNING
            self.message_user(request, f"{converted} of {len(leads)} leads converted.", level)


# ---------------------------------------------------------------------------------------
# Qualification (leads/qualification.py): shown here, changed through its services (the
# settings API, the lead page), so every change is validated and audited.


class LeadQualificationAdmin(ReadOnlyAdmin):
    """Rows that belong to a lead: only those of leads the user may read."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.filter(lead__in=readable(request.user, Lead.objects.all()).values("pk"))


@admin.register(QualificationFramework)
class QualificationFrameworkAdmin(ReadOnlyAdmin):
    list_display = ("name", "sort_order")
    search_fields = ("name",)
    fields = ("name", "sort_order", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(QualificationItem)
class QualificationItemAdmin(ReadOnlyAdmin):
    list_display = ("framework", "key", "label", "sort_order", "is_active")
    list_filter = ("framework", "is_active")
    list_select_related = ("framework",)
    search_fields = ("key", "label")
    fields = ("framework", "key", "label", "sort_order", "is_active", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(ServiceLevelSetting)
class ServiceLevelSettingAdmin(ReadOnlyAdmin):
    """Shown here; changed through the settings API (leads/service_levels.py), audited."""

    list_display = ("response_hours", "day_start", "day_end", "reroute_when_breached")
    fields = (
        "response_hours",
        "working_days",
        "day_start",
        "day_end",
        "reroute_when_breached",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(QualificationSetting)
class QualificationSettingAdmin(ReadOnlyAdmin):
    list_display = ("required_framework", "minimum_items", "updated_at")
    list_select_related = ("required_framework",)
    fields = ("required_framework", "minimum_items", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(LeadQualificationAnswer)
class LeadQualificationAnswerAdmin(LeadQualificationAdmin):
    list_display = ("lead", "item", "met", "set_by", "set_at")
    list_filter = ("met",)
    list_select_related = ("lead", "item", "set_by")
    search_fields = ("note",)
    fields = ("lead", "item", "met", "note", "set_by", "set_at")
    readonly_fields = fields


@admin.register(QualificationOverride)
class QualificationOverrideAdmin(LeadQualificationAdmin):
    list_display = ("lead", "framework", "overridden_by", "overridden_at")
    list_select_related = ("lead", "overridden_by")
    search_fields = ("reason",)
    fields = ("lead", "framework", "missing", "reason", "overridden_by", "overridden_at")
    readonly_fields = fields


@admin.register(WebToLeadSetting)
class WebToLeadSettingAdmin(ReadOnlyAdmin):
    """Shown here; changed on the Web-to-Lead Settings page (leads/web_to_lead.py), audited."""

    list_display = ("repeat_window_minutes", "submissions_per_hour", "default_lead_source")
    fields = (
        "allowed_return_hosts",
        "repeat_window_minutes",
        "submissions_per_hour",
        "default_lead_source",
        "default_creator",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
