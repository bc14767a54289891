"""The Django admin as an interim back office, and the pieces every domain's admin shares.

Writes to business records go through the domain services: a `ServiceForm` calls its
service while the admin validates the form, so a `DomainError` becomes an error on the
form (shown next to the field it names) and nothing is written. `ServiceAdmin` wraps
each POST of a change form in one transaction that is rolled back unless the admin
reached `save_model`, so no code path can leave a half-done write behind.

Every dealflow ModelAdmin derives from `AccessRulesAdmin`: its records, the choices of
every related-record field (select, autocomplete, raw id) and of every related list
filter are what the acting user may read (core/access.py), so a key the user may not
see is answered exactly as a key that does not exist.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import ForeignKeyRawIdWidget, ManyToManyRawIdWidget
from django.core.exceptions import (
    FieldDoesNotExist,
    ImproperlyConfigured,
    PermissionDenied,
    ValidationError,
)
from django.db import models, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from dealflow.core import ids
from dealflow.core.access import can_edit, can_read, is_admin, readable, readable_q
from dealflow.core.errors import DomainError
from dealflow.core.metadata import (
    LEAD_STATUS_PICKLIST,
    OPPORTUNITY_STAGE_PICKLIST,
    get_object,
    registry,
)
from dealflow.core.models import (
    AuditEvent,
    ConfigurationVersion,
    IdempotencyRecord,
    PicklistValue,
    SharingDefault,
)
from dealflow.core.services import picklist_value_set, record_delete, sharing_default_set

_TABLE_PICKLISTS = {LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST}
_SAVED_FLAG = "_dealflow_admin_saved"


# ---------------------------------------------------------------------------------------
# Choices and records follow the access rules

# Shown in place of the name of a record the user may not read (a current value only).
HIDDEN_RECORD_LABEL = "(a record you cannot see)"


def readable_choices(actor: Any, queryset: models.QuerySet) -> models.QuerySet:
    """The records of a choice field's queryset the actor may read."""
    return readable(actor, queryset)


def _readable_limit(field: Any, actor: Any, limit: Any = None) -> Q:
    """A field's own limit_choices_to (or `limit`), and the related records' access rules."""
    own_limit = getattr(field, "get_limit_choices_to", lambda: None)
    own = limit if limit is not None else (own_limit() or {})
    own_q = own if isinstance(own, Q) else Q(**own)
    # Never empty, so get_choices cannot fall back to the field's limit alone.
    return own_q & readable_q(actor, field.related_model) & Q(pk__isnull=False)


class ReadableRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related list filter that lists only the records the user may read."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to=_readable_limit(field, request.user),
        )


class ReadableRelatedOnlyFieldListFilter(admin.RelatedOnlyFieldListFilter):
    """RelatedOnlyFieldListFilter limited to the records the user may read."""

    def field_choices(self, field, request, model_admin):
        used = (
            model_admin.get_queryset(request)
            .distinct()
            .values_list(f"{self.field_path}__pk", flat=True)
        )
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to=_readable_limit(field, request.user, Q(pk__in=used)),
        )


class ReadableRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input that names the chosen record only when the user may read it."""

    def __init__(self, rel: Any, admin_site: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(rel, admin_site, **kwargs)
        self.actor = actor

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        manager = self.rel.model._default_manager.using(self.db)
        try:
            found = readable(self.actor, manager.filter(**{key: value})).exists()
        except (ValueError, ValidationError):
            found = False
        return super().label_and_url_for_value(value) if found else ("", "")


def _related_filter(model: type[models.Model], entry: Any) -> Any:
    """A list_filter entry whose choices follow the access rules, when it lists records."""
    if isinstance(entry, str):
        try:
            field = get_fields_from_path(model, entry)[-1]
        except (FieldDoesNotExist, admin.utils.NotRelationField):
            return entry
        return (entry, ReadableRelatedFieldListFilter) if field.is_relation else entry
    if isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[1], type):
        name, filter_class = entry
        if issubclass(filter_class, admin.RelatedOnlyFieldListFilter):
            if not issubclass(filter_class, ReadableRelatedOnlyFieldListFilter):
                return (name, ReadableRelatedOnlyFieldListFilter)
        elif issubclass(filter_class, admin.RelatedFieldListFilter) and not issubclass(
            filter_class, ReadableRelatedFieldListFilter
        ):
            return (name, ReadableRelatedFieldListFilter)
    return entry


def _foreign_key(model: type[models.Model], name: Any) -> Any:
    """The ForeignKey `name` of `model`, if that is what a list column names."""
    if not isinstance(name, str):
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.ForeignKey) else None


def _readable_flag(field: models.ForeignKey) -> str:
    return f"_{field.name}_readable"


def _masked_column(field: models.ForeignKey) -> Any:
    """A list column showing the related record, or HIDDEN_RECORD_LABEL if it is hidden."""

    @admin.display(description=field.verbose_name, ordering=field.name)
    def column(obj: models.Model) -> Any:
        if getattr(obj, field.attname) is not None and not getattr(obj, _readable_flag(field)):
            return HIDDEN_RECORD_LABEL
        return getattr(obj, field.name)

    column.__name__ = field.name
    return column


def _hidden_reference(field: models.ForeignKey) -> Any:
    """A read-only field's stand-in that does not name the record it refers to."""

    @admin.display(description=field.verbose_name)
    def shown(obj: models.Model) -> str:
        return HIDDEN_RECORD_LABEL

    shown.__name__ = field.name
    return shown


class AccessRulesAdmin(admin.ModelAdmin):
    """The base of every dealflow ModelAdmin: records, choices and filters the user may read.

    A record the user may not read is not found (Django's "doesn't exist" answer, the same
    as for a key nobody has), and is neither offered, accepted nor named by any field.
    """

    def get_queryset(self, request):
        queryset = readable(request.user, super().get_queryset(request))
        # Whether each related record a list column names is one the user may read.
        for field in self._masked_columns(request):
            related = field.related_model._default_manager.filter(pk=OuterRef(field.attname))
            queryset = queryset.annotate(
                **{_readable_flag(field): Exists(readable(request.user, related))}
            )
        return queryset

    def _masked_columns(self, request) -> list[models.ForeignKey]:
        """The list's columns that name a related record the user might not read."""
        columns = []
        for name in super().get_list_display(request):
            field = _foreign_key(self.model, name)
            if field is not None and readable_q(request.user, field.related_model):
                columns.append(field)
        return columns

    def get_readonly_fields(self, request, obj=None):
        hidden = self._hidden_references(request, obj)
        return [hidden.get(name, name) for name in super().get_readonly_fields(request, obj)]

    def get_fieldsets(self, request, obj=None):
        hidden = self._hidden_references(request, obj)
        if not hidden:
            return super().get_fieldsets(request, obj)

        def swapped(entry: Any) -> Any:
            if isinstance(entry, list | tuple):
                return type(entry)(swapped(item) for item in entry)
            return hidden.get(entry, entry)

        return [
            (title, {**options, "fields": swapped(options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def _hidden_references(self, request, obj) -> dict[str, Any]:
        """Read-only reference fields of `obj` naming a record the user may not read, each
        with a column that shows HIDDEN_RECORD_LABEL instead (the same one per request)."""
        if obj is None:
            return {}
        found = getattr(request, "_dealflow_hidden_references", {})
        request._dealflow_hidden_references = found
        key = (type(self), obj.pk)
        if key not in found:
            found[key] = {
                name: _hidden_reference(field)
                for name in super().get_readonly_fields(request, obj)
                if (field := _foreign_key(self.model, name)) is not None
                and (related := getattr(obj, field.name)) is not None
                and not can_read(request.user, related)
            }
        return found[key]

    def get_list_display(self, request):
        masked = {field.name for field in self._masked_columns(request)}
        return [
            _masked_column(_foreign_key(self.model, name)) if name in masked else name
            for name in super().get_list_display(request)
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if (
            "widget" not in kwargs
            and db_field.name in self.raw_id_fields
            and db_field.name not in self.get_autocomplete_fields(request)
        ):
            kwargs["widget"] = ReadableRawIdWidget(
                db_field.remote_field, self.admin_site, request.user, using=kwargs.get("using")
            )
        form_field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self._readable_field(form_field, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._readable_field(
            super().formfield_for_manytomany(db_field, request, **kwargs), request
        )

    def _readable_field(self, form_field: Any, request) -> Any:
        if form_field is not None and hasattr(form_field, "queryset"):
            form_field.queryset = readable_choices(request.user, form_field.queryset)
            if isinstance(form_field.widget, ForeignKeyRawIdWidget) and not isinstance(
                form_field.widget, ReadableRawIdWidget | ManyToManyRawIdWidget
            ):
                raise ImproperlyConfigured(  # it would name records the user may not read
                    f"{type(self).__name__}: use ReadableRawIdWidget for {form_field.label}"
                )
        return form_field

    def get_list_filter(self, request):
        return [_related_filter(self.model, entry) for entry in super().get_list_filter(request)]


# ---------------------------------------------------------------------------------------
# Forms that write through a service


def _label_unless(hidden_pk: Any, label: Any) -> Any:
    """A choice label that does not name the record with primary key `hidden_pk`."""

    def label_from_instance(obj: models.Model) -> str:
        return HIDDEN_RECORD_LABEL if str(obj.pk) == str(hidden_pk) else label(obj)

    return label_from_instance


class ServiceForm(forms.ModelForm):
    """A ModelForm whose validation runs the domain service that writes the record.

    Subclasses implement `call_service(data)`; `data` holds the changed fields (all
    fields the user filled in when adding) under their native names. The model's own
    validation is not run: the service is the authority on the rules.
    """

    # Set per request by ServiceAdmin.get_form: the user acting in the audit trail.
    actor: ClassVar[Any] = None
    # Metadata object whose stored picklists become drop-downs ("Lead", "Account", ...).
    picklist_object: ClassVar[str | None] = None
    # A service's field name -> the form field that shows its errors.
    error_fields: ClassVar[dict[str, str]] = {}
    # True once the service has written the record (ServiceAdmin.save_model then skips).
    wrote_through_service = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._offer_readable_choices()
        if self.picklist_object:
            self._use_picklist_widgets(self.picklist_object)

    @property
    def adding(self) -> bool:
        return self.instance.pk is None

    def _offer_readable_choices(self) -> None:
        """Offer only records the actor may read; a current value they may not read stays
        (so saving other fields keeps it) under a label that does not name it."""
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField):
                continue
            offered = readable_choices(self.actor, field.queryset)
            current = None if self.adding else self.initial.get(name)
            if (
                current is not None
                and not isinstance(field, forms.ModelMultipleChoiceField)
                and not offered.filter(pk=current).exists()
            ):
                offered = offered | field.queryset.model._default_manager.filter(pk=current)
                field.label_from_instance = _label_unless(current, field.label_from_instance)
            field.queryset = offered

    def _use_picklist_widgets(self, object_name: str) -> None:
        """Stored picklists (lead source, industry, ...) as selects of their active values."""
        wanted = {
            field_def.name: field_def.picklist
            for field_def in get_object(object_name).fields
            if field_def.is_picklist
            and field_def.picklist
            and field_def.picklist not in _TABLE_PICKLISTS
            and not field_def.choices
            and field_def.name in self.fields
        }
        if not wanted:
            return
        values: dict[str, list[str]] = {}
        for picklist, value in PicklistValue.objects.filter(
            picklist__in=set(wanted.values()), is_active=True
        ).values_list("picklist", "value"):
            values.setdefault(picklist, []).append(value)
        for name, picklist in wanted.items():
            options = list(values.get(picklist, []))
            current = self.initial.get(name)
            if current and current not in options:
                options.append(current)  # a retired value stays visible until changed
            self.fields[name].widget = forms.Select(
                choices=[("", "---------"), *((option, option) for option in options)]
            )

    def service_data(self) -> dict[str, Any]:
        """The values to write, by native field name."""
        return {name: self.cleaned_data[name] for name in self.changed_data}

    def call_service(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Replaces ModelForm's construct_instance + full_clean: the service validates and
        # writes, inside the admin's transaction (see ServiceAdmin.changeform_view).
        if self._errors:
            return  # show the form's own errors first; nothing is written
        if self.actor is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs an actor to write")
        try:
            record = self.call_service(self.service_data())
        except DomainError as error:
            self.add_domain_error(error)
        else:
            self.instance = record
            self.wrote_through_service = True

    def _form_names(self, public_name: str) -> list[str]:
        """Names a form field may have for a field an error names publicly (`stage_name`
        is the model's `stage`; conversion's `account_id` is the form's `account`)."""
        object_name = getattr(self._meta.model, "object_name", "")
        native = public_name
        if object_name in registry():
            native = get_object(object_name).field_by_public_name(public_name)
            native = native.name if native else public_name
        return [public_name, native, public_name.removesuffix("_id")]

    def add_domain_error(self, error: DomainError) -> None:
        """Show a service's refusal on the fields it names, or above the form."""
        problem = ValidationError(error.message, code=str(error.code))
        targets = []
        for name in error.fields:
            target = next(
                (
                    target
                    for candidate in self._form_names(name)
                    if (target := self.error_fields.get(candidate, candidate)) in self.fields
                ),
                None,
            )
            if target and target not in targets:
                targets.append(target)
        if not targets:
            self.add_error(None, problem)
        for target in targets:
            self.add_error(target, problem)


class ServiceAdmin(AccessRulesAdmin):
    """A ModelAdmin whose form writes through a service (see ServiceForm).

    Deleting is off unless a subclass deletes through a service (RecordAdmin does):
    statuses, stages and picklist values are retired by making them inactive, and users
    by deactivating them, so history keeps what it refers to.
    """

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        # modelform_factory built a fresh class for this request: safe to give it the actor.
        form_class.actor = request.user
        return form_class

    def save_model(self, request, obj, form, change):
        # A ServiceForm's service already wrote the record while the form was validated;
        # any other form (a user's password change, ...) saves the Django way.
        if not getattr(form, "wrote_through_service", False):
            super().save_model(request, obj, form, change)
        setattr(request, _SAVED_FLAG, True)

    def save_related(self, request, form, formsets, change):
        # The service wrote the many-to-many fields it takes (a queue's members, ...).
        if not getattr(form, "wrote_through_service", False):
            form.save_m2m()
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return self._changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = self._changeform_view(request, object_id, form_url, extra_context)
            if not getattr(request, _SAVED_FLAG, False):
                # The form was shown again (an error somewhere): undo whatever ran.
                transaction.set_rollback(True, using=router.db_for_write(self.model))
        return response


# ---------------------------------------------------------------------------------------
# Shared admin behaviour


class PublicIdSearchMixin:
    """Searching for a record's public id (00Q..., 001...) finds that record."""

    def get_search_results(self, request, queryset, search_term):
        object_name = getattr(self.model, "object_name", None)
        term = search_term.strip()
        if object_name in ids.KEY_PREFIXES and len(term) in (15, 18):
            try:
                _found, primary_key = ids.decode(term, object_name)
            except ids.InvalidIdError:
                pass
            else:
                return queryset.filter(pk=primary_key), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


@admin.display(description="ID")
def public_id(obj: Any) -> str:
    return obj.public_id or "-"


class ReadOnlyAdmin(AccessRulesAdmin):
    """Records written only by the services: viewable, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@cache
def _models_by_object_name() -> dict[str, type[models.Model]]:
    return {
        model.object_name: model  # type: ignore[attr-defined]
        for model in apps.get_models()
        if isinstance(getattr(model, "object_name", None), str)
    }


def record_admin_link(object_name: str, record_id: int, text: str | None = None) -> str:
    """A link to a record's admin page (its public id as text), or the plain text."""
    label = text or (
        ids.encode(object_name, record_id)
        if object_name in ids.KEY_PREFIXES
        else f"{object_name} {record_id}"
    )
    model = _models_by_object_name().get(object_name)
    if model is None:
        return label
    opts = model._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record_id])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


OWNER_HELP = "Leave empty to own the record yourself."


class OwnedRecordForm(ServiceForm):
    """The owner may be left empty when adding (the service makes the actor the owner)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.adding and "owner" in self.fields:
            self.fields["owner"].required = False
            self.fields["owner"].help_text = OWNER_HELP

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if self.adding and data.get("owner") is None:
            data.pop("owner", None)
        return data


SYSTEM_FIELDSET = ("System", {"classes": ("collapse",), "fields": ("created_at", "updated_at")})


class RecordAdmin(PublicIdSearchMixin, ServiceAdmin):
    """Shared by the service-backed admins; the add form leaves out read-only fields.

    Business records follow dealflow's access rules, not Django's model permissions:
    staff (admins and managers) use the back office, and see and change exactly what
    the rules let them (core/access.py), as in every other adapter.
    """

    readonly_fields = ("public_id", "created_at", "updated_at")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or can_edit(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def delete_record(self, actor: Any, obj: Any) -> None:
        """Delete through the domain's service (overridden where one adds rules)."""
        record_delete(actor=actor, record=obj)

    def delete_model(self, request, obj):
        try:
            self.delete_record(request.user, obj)
        except DomainError as error:
            raise PermissionDenied(error.message) from None

    def delete_queryset(self, request, queryset):
        # All or nothing: a refusal of one record leaves every selected record in place.
        with transaction.atomic(using=router.db_for_write(self.model)):
            for obj in queryset:
                self.delete_model(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            return fieldsets
        read_only = set(self.get_readonly_fields(request, obj))
        adding = []
        for title, options in fieldsets:
            fields: list[Any] = []
            for entry in options["fields"]:
                if isinstance(entry, list | tuple):
                    row = tuple(name for name in entry if name not in read_only)
                    if row:
                        fields.append(row if len(row) > 1 else row[0])
                elif entry not in read_only:
                    fields.append(entry)
            if fields:
                adding.append((title, {**options, "fields": fields}))
        return adding


# ---------------------------------------------------------------------------------------
# Core models


class PicklistValueForm(ServiceForm):
    """Writes through picklist_value_set (admins only)."""

    class Meta:
        model = PicklistValue
        fields = PicklistValue.SETTINGS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        value = (cleaned.get("value") or "").strip()
        # picklist_value_set changes the value of that text: adding must not change one.
        if (
            self.adding
            and PicklistValue.objects.filter(picklist=cleaned.get("picklist"), value=value).exists()
        ):
            self.add_error("value", ValidationError("This value exists.", code="unique"))
        return cleaned

    def call_service(self, data: dict[str, Any]) -> PicklistValue:
        cleaned = self.cleaned_data
        return picklist_value_set(
            actor=self.actor,
            picklist=cleaned.get("picklist", self.instance.picklist),
            value=cleaned.get("value", self.instance.value),
            sort_order=cleaned["sort_order"],
            is_active=cleaned["is_active"],
        )


@admin.register(PicklistValue)
class PicklistValueAdmin(ServiceAdmin):
    form = PicklistValueForm
    list_display = ("value", "picklist", "sort_order", "is_active")
    list_filter = ("picklist", "is_active")
    search_fields = ("value",)
    ordering = ("picklist", "sort_order", "value")
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # picklist_value_set finds a value by its text: a new text is a new value.
        return (*fields, "picklist", "value") if obj is not None else fields


class SharingDefaultForm(forms.ModelForm):
    object_name = forms.ChoiceField(
        choices=[(name, name) for name in ("Lead", "Account", "Contact", "Opportunity", "Task")]
    )

    class Meta:
        model = SharingDefault
        fields = ("object_name", "access")


@admin.register(SharingDefault)
class SharingDefaultAdmin(AccessRulesAdmin):
    """Organisation-wide defaults; saved through the service so every process re-reads them."""

    form = SharingDefaultForm
    list_display = ("object_name", "access", "updated_at")

    def has_delete_permission(self, request, obj=None):
        return False  # an object without a row is read/write: change the access instead

    def save_model(self, request, obj, form, change):
        saved = sharing_default_set(
            actor=request.user, object_name=obj.object_name, access=obj.access
        )
        obj.pk = saved.pk


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "object_name", "record", "actor", "changed_fields")
    list_filter = ("action", "object_name")
    list_select_related = ("actor",)
    search_fields = ("object_name", "actor__username")
    search_help_text = "A record's public id (00Q..., 001...) finds its events."
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ("created_at", "actor", "action", "object_name", "record", "changes")
    readonly_fields = fields

    def get_queryset(self, request):
        # An event shows a record's values: only events about records the user may read.
        queryset = super().get_queryset(request)
        if is_admin(request.user):
            return queryset
        restricted = {
            name: model
            for name, model in _models_by_object_name().items()
            if readable_q(request.user, model)
        }
        condition = ~Q(object_name__in=list(restricted))
        for name, model in restricted.items():
            readable_ids = readable(request.user, model._default_manager.all()).values("pk")
            condition |= Q(object_name=name, record_id__in=readable_ids)
        return queryset.filter(condition)

    @admin.display(description="record", ordering="record_id")
    def record(self, obj: AuditEvent) -> str:
        return record_admin_link(obj.object_name, obj.record_id)

    @admin.display(description="changed fields")
    def changed_fields(self, obj: AuditEvent) -> str:
        return ", ".join(obj.changes) if isinstance(obj.changes, dict) else ""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) in (15, 18):
            try:
                object_name, record_id = ids.decode(term)
            except ids.InvalidIdError:
                pass
            else:
                return queryset.filter(object_name=object_name, record_id=record_id), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(ConfigurationVersion)
class ConfigurationVersionAdmin(ReadOnlyAdmin):
    """The version caches compare with (core/cache.py): shown, never edited by hand."""

    list_display = ("version",)
    fields = ("version",)
    readonly_fields = fields


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "operation", "key", "actor")
    list_filter = ("operation",)
    list_select_related = ("actor",)
    search_fields = ("key",)
    date_hierarchy = "created_at"
    fields = ("created_at", "operation", "key", "actor", "request_fingerprint", "result")
    readonly_fields = fields

    def get_queryset(self, request):
        # A stored result names the records an operation wrote: its actor's, and admins'.
        queryset = super().get_queryset(request)
        return queryset if is_admin(request.user) else queryset.filter(actor=request.user)
