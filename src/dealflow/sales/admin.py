"""Back office for opportunities, stages, contact roles, history and tasks.

Writes go through sales.services; history is read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from dealflow.core.access import readable
from dealflow.core.admin import (
    SYSTEM_FIELDSET,
    OwnedRecordForm,
    ReadOnlyAdmin,
    RecordAdmin,
    ServiceAdmin,
    ServiceForm,
    public_id,
)
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
    TaskStatus,
)
from dealflow.sales.services import (
    contact_role_delete,
    contact_role_set,
    opportunity_create,
    opportunity_delete,
    opportunity_stage_set,
    opportunity_update,
    task_complete,
    task_create,
    task_delete,
)


class OpportunityStageForm(ServiceForm):
    """Writes through opportunity_stage_set (a won stage is closed, forecasts Closed, ...)."""

    class Meta:
        model = OpportunityStage
        fields = OpportunityStage.SETTINGS

    def call_service(self, data: dict[str, Any]) -> OpportunityStage:
        values = {name: self.cleaned_data[name] for name in OpportunityStage.SETTINGS}
        return opportunity_stage_set(
            actor=self.actor, stage=None if self.adding else self.instance, **values
        )


@admin.register(OpportunityStage)
class OpportunityStageAdmin(ServiceAdmin):
    form = OpportunityStageForm
    list_display = OpportunityStage.SETTINGS
    list_filter = ("is_closed", "is_won", "is_active", "forecast_category")
    search_fields = ("name",)
    ordering = ("sort_order", "name")
    readonly_fields = ("created_at", "updated_at")


# ---------------------------------------------------------------------------------------
# Opportunity


class OpportunityForm(OwnedRecordForm):
    """Writes through opportunity_create / opportunity_update.

    A new stage sets probability and forecast category unless they are changed in the
    same save; is_closed and is_won always follow the stage.
    """

    picklist_object = "Opportunity"

    class Meta:
        model = Opportunity
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "stage" in self.fields:
            current = self.instance.stage_id if self.instance.pk else None
            self.fields["stage"].queryset = OpportunityStage.objects.filter(
                Q(is_active=True) | Q(pk=current)
            )
        if self.adding:
            for name in ("probability", "forecast_category"):
                if name in self.fields:
                    self.fields[name].required = False
                    self.fields[name].help_text = "Leave empty to take the stage's value."
        elif "probability" in self.fields:
            self.fields[
                "probability"
            ].help_text = "Set from the stage whenever the stage changes, unless you change it too."

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if self.adding:
            for name in ("probability", "forecast_category"):
                if data.get(name) in (None, ""):
                    data.pop(name, None)
        return data

    def call_service(self, data: dict[str, Any]) -> Opportunity:
        if self.adding:
            return opportunity_create(actor=self.actor, data=data)
        return opportunity_update(actor=self.actor, opportunity=self.instance, data=data)


class ViewOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ContactRoleInline(ViewOnlyInline):
    model = OpportunityContactRole
    fields = ("contact", "role", "is_primary")
    readonly_fields = fields
    verbose_name_plural = "contact roles (change them under Opportunity contact roles)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact")


class HistoryInline(ViewOnlyInline):
    model = OpportunityHistory
    fields = (
        "created_at",
        "stage_name",
        "amount",
        "probability",
        "forecast_category",
        "close_date",
        "created_by",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Opportunity)
class OpportunityAdmin(RecordAdmin):
    form = OpportunityForm
    list_display = (
        "name",
        "account",
        "stage",
        "amount",
        "probability",
        "expected_revenue",
        "close_date",
        "owner",
        "is_closed",
        "is_won",
        public_id,
    )
    list_filter = ("stage", "is_closed", "is_won", "forecast_category", "type", "lead_source")
    list_select_related = ("account", "stage", "owner")
    search_fields = ("name", "account__name")
    search_help_text = "Name, account name, or an opportunity id (006...)."
    date_hierarchy = "close_date"
    autocomplete_fields = ("account", "owner")
    readonly_fields = (
        "public_id",
        "is_closed",
        "is_won",
        "expected_revenue",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("public_id", "name", "account", "owner")}),
        (
            "Pipeline",
            {
                "fields": (
                    "stage",
                    "close_date",
                    "amount",
                    "probability",
                    "expected_revenue",
                    "forecast_category",
                    ("is_closed", "is_won"),
                    "loss_reason",
                )
            },
        ),
        ("Details", {"fields": ("type", "lead_source", "next_step", "description")}),
        SYSTEM_FIELDSET,
    )

    @admin.display(description="expected revenue")
    def expected_revenue(self, obj: Opportunity):
        return obj.expected_revenue

    def get_inlines(self, request, obj):
        # Read-only context of an existing deal; the add form has no inlines.
        return [ContactRoleInline, HistoryInline] if obj is not None else []

    def delete_record(self, actor: Any, obj: Opportunity) -> None:
        opportunity_delete(actor=actor, opportunity=obj)


# ---------------------------------------------------------------------------------------
# Contact roles


class ContactRoleForm(ServiceForm):
    """Writes through contact_role_set (a new primary replaces the old one)."""

    picklist_object = "OpportunityContactRole"

    class Meta:
        model = OpportunityContactRole
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        opportunity, contact = cleaned.get("opportunity"), cleaned.get("contact")
        if (
            self.adding
            and opportunity
            and contact
            and OpportunityContactRole.objects.filter(
                opportunity=opportunity, contact=contact
            ).exists()
        ):
            self.add_error("contact", "This contact already has a role on this opportunity.")
        return cleaned

    def call_service(self, data: dict[str, Any]) -> OpportunityContactRole:
        instance = self.instance
        return contact_role_set(
            actor=self.actor,
            opportunity=self.cleaned_data["opportunity"] if self.adding else instance.opportunity,
            contact=self.cleaned_data["contact"] if self.adding else instance.contact,
            role=self.cleaned_data.get("role", instance.role) or "",
            is_primary=self.cleaned_data.get("is_primary", instance.is_primary),
        )


@admin.register(OpportunityContactRole)
class OpportunityContactRoleAdmin(RecordAdmin):
    form = ContactRoleForm
    list_display = ("contact", "opportunity", "role", "is_primary", public_id)
    list_filter = ("is_primary", "role")
    list_select_related = ("contact", "opportunity")
    search_fields = ("contact__last_name", "contact__first_name", "opportunity__name")
    autocomplete_fields = ("opportunity", "contact")
    fieldsets = (
        (None, {"fields": ("public_id", "opportunity", "contact", "role", "is_primary")}),
        SYSTEM_FIELDSET,
    )

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            # A role belongs to one opportunity and contact; give another pair a new role.
            fields += ("opportunity", "contact")
        return fields

    def delete_record(self, actor: Any, obj: OpportunityContactRole) -> None:
        contact_role_delete(actor=actor, contact_role=obj)


@admin.register(OpportunityHistory)
class OpportunityHistoryAdmin(ReadOnlyAdmin):
    list_display = (
        "opportunity",
        "created_at",
        "stage_name",
        "amount",
        "probability",
        "forecast_category",
        "close_date",
        "previous_stage_name",
        "created_by",
    )
    list_filter = ("stage_name", "forecast_category")
    list_select_related = ("opportunity", "created_by")
    search_fields = ("opportunity__name", "stage_name")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "opportunity",
        "created_at",
        "created_by",
        "stage_name",
        "previous_stage_name",
        "amount",
        "previous_amount",
        "probability",
        "forecast_category",
        "close_date",
        "previous_close_date",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # History follows its opportunity (access.py knows only owned records and roles).
        opportunities = readable(request.user, Opportunity.objects.all())
        queryset = super().get_queryset(request)
        if opportunities.query.where:
            queryset = queryset.filter(opportunity__in=opportunities.values("pk"))
        return queryset


# ---------------------------------------------------------------------------------------
# Tasks


class TaskForm(ServiceForm):
    """Adds a task through task_create: about a lead or a contact, related to an
    account or an opportunity."""

    error_fields = {"who": "lead", "what": "opportunity"}

    class Meta:
        model = Task
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            self.fields["owner"].required = False
            self.fields["owner"].help_text = "Leave empty to own the task yourself."
        if "lead" in self.fields:
            self.fields["lead"].help_text = "The task is about a lead or a contact (one of them)."
        if "account" in self.fields:
            self.fields["account"].help_text = (
                "Related to an account or an opportunity (at most one); a contact's or "
                "opportunity's account is filled in."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        lead, contact = cleaned.get("lead"), cleaned.get("contact")
        if bool(lead) == bool(contact) and "lead" not in self._errors:
            self.add_error("lead", "Choose a lead or a contact, exactly one.")
        if cleaned.get("account") and cleaned.get("opportunity"):
            self.add_error("account", "Choose an account or an opportunity, not both.")
        return cleaned

    def call_service(self, data: dict[str, Any]) -> Task:
        cleaned = self.cleaned_data
        return task_create(
            actor=self.actor,
            subject=cleaned["subject"],
            who=cleaned.get("lead") or cleaned["contact"],
            what=cleaned.get("opportunity") or cleaned.get("account"),
            type=cleaned.get("type") or Task._meta.get_field("type").default,
            priority=cleaned.get("priority") or Task._meta.get_field("priority").default,
            due_date=cleaned.get("due_date"),
            description=cleaned.get("description", ""),
            owner=cleaned.get("owner"),
        )


class TaskStateFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", "Open and overdue"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=TaskStatus.OPEN, due_date__lt=timezone.localdate())
        return queryset


@admin.register(Task)
class TaskAdmin(RecordAdmin):
    """Tasks are added here through task_create and completed with the action.

    There is no task update service yet, so an existing task is shown read-only.
    """

    form = TaskForm
    list_display = (
        "subject",
        "type",
        "status",
        "priority",
        "due_date",
        "who",
        "what",
        "owner",
        public_id,
    )
    list_filter = ("status", "type", "priority", TaskStateFilter)
    list_select_related = ("lead", "contact", "account", "opportunity", "owner")
    search_fields = ("subject",)
    search_help_text = "Subject, or a task id (00T...)."
    date_hierarchy = "due_date"
    autocomplete_fields = ("lead", "contact", "account", "opportunity", "owner")
    readonly_fields = ("public_id", "status", "completed_at", "created_at", "updated_at")
    actions = ("complete_tasks",)
    fieldsets = (
        (None, {"fields": ("public_id", "subject", "type", "priority", "due_date", "owner")}),
        ("About", {"fields": (("lead", "contact"), ("account", "opportunity"))}),
        ("Details", {"fields": ("description", "status", "completed_at")}),
        SYSTEM_FIELDSET,
    )

    @admin.display(description="about")
    def who(self, obj: Task) -> str:
        return str(obj.lead or obj.contact or "-")

    @admin.display(description="related to")
    def what(self, obj: Task) -> str:
        return str(obj.opportunity or obj.account or "-")

    def has_change_permission(self, request, obj=None):
        if obj is not None:
            return False  # no task update service yet; complete tasks with the action
        return super().has_change_permission(request, obj)

    def delete_record(self, actor: Any, obj: Task) -> None:
        task_delete(actor=actor, task=obj)

    @admin.action(description="Mark selected tasks completed", permissions=["change"])
    def complete_tasks(self, request, queryset):
        completed = 0
        for task in queryset.filter(status=TaskStatus.OPEN):
            task_complete(actor=request.user, task=task)
            completed += 1
        if completed:
            self.message_user(request, f"Completed {completed} task(s).", messages.SUCCESS)
        else:
            self.message_user(request, "No open task was selected.", messages.WARNING)
