"""The metadata registry: every exposed object and field, derived from the models.

One place says, for each field, its native (snake_case) name, Salesforce API name, label,
type, length, picklist, and whether it is required, createable and updateable. Describe,
validation, the APIs, SOQL, CSV headers and web-to-lead field names all read it instead
of keeping their own field lists. Model fields give the facts; the small `OBJECT_SPECS`
mapping below adds what a model cannot say (API names that differ from the PascalCase
rule, picklists, fields hidden from the outside, virtual fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property

from django.apps import apps
from django.db import models

from dealflow.core.fields import MatchKeyField
from dealflow.core.ids import KEY_PREFIXES

# Picklists that live in their own tables rather than in PicklistValue.
LEAD_STATUS_PICKLIST = "lead_status"
OPPORTUNITY_STAGE_PICKLIST = "opportunity_stage"

# Fields every object has that nobody writes.
SYSTEM_FIELDS = {"id", "created_at", "updated_at"}
SYSTEM_API_NAMES = {"id": "Id", "created_at": "CreatedDate", "updated_at": "LastModifiedDate"}
# Long text (Description) holds at most what Salesforce's Long Text Area(32000) holds.
LONG_TEXT_LENGTH = 32_000
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# How the native API writes each type in JSON (docs/api.md): money as exact decimal text.
JSON_TYPES = {
    "id": "string (id)",
    "reference": "string (id)",
    "currency": "string (decimal)",
    "int": "integer",
    "percent": "integer (0-100)",
    "boolean": "boolean",
    "date": "string (date)",
    "datetime": "string (date-time)",
}


@dataclass(frozen=True)
class FieldDef:
    """One field as the outside world sees it."""

    name: str
    api_name: str
    label: str
    type: str
    length: int | None = None
    picklist: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    createable: bool = True
    updateable: bool = True
    reference_to: tuple[str, ...] = ()
    nullable: bool = True
    # Digits in all and after the point, for currency fields (Salesforce's describe has both).
    precision: int | None = None
    scale: int | None = None

    @property
    def is_picklist(self) -> bool:
        return self.type == "picklist"

    @cached_property  # read on every request (errors, records); computed once
    def public_name(self) -> str:
        """The one name the outside sees (native API, errors, filters, sorts): the
        snake_case of the Salesforce API name (`StageName` -> `stage_name`, `OwnerId` ->
        `owner_id`). `name` is the model's, for code inside dealflow."""
        return _CAMEL_BOUNDARY.sub("_", self.api_name).lower()

    @property
    def json_type(self) -> str:
        """The field's type in the native API's JSON ("string (decimal)", "integer", ...)."""
        return JSON_TYPES.get(self.type, "string")

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "public_name": self.public_name,
            "api_name": self.api_name,
            "json_type": self.json_type,
            "label": self.label,
            "type": self.type,
            "length": self.length,
            "picklist": self.picklist,
            "choices": list(self.choices),
            "required": self.required,
            "createable": self.createable,
            "updateable": self.updateable,
            "reference_to": list(self.reference_to),
            "precision": self.precision,
            "scale": self.scale,
        }


@dataclass(frozen=True)
class ObjectDef:
    """One object (Lead, Account, ...) and its fields, in model order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    model: type[models.Model]
    fields: tuple[FieldDef, ...]
    _by_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    _by_api_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for field_def in self.fields:
            self._by_name[field_def.name] = field_def
            self._by_api_name[field_def.api_name.lower()] = field_def

    def field(self, name: str) -> FieldDef | None:
        """A field by native name."""
        return self._by_name.get(name)

    def field_by_public_name(self, public_name: str) -> FieldDef | None:
        """A field by the name the native API uses (`stage_name`, `owner_id`)."""
        return next((item for item in self.fields if item.public_name == public_name), None)

    def public_name(self, name: str) -> str:
        """The public name of the field with native name `name` (`name` itself if none)."""
        field_def = self.field(name)
        return field_def.public_name if field_def else name

    def field_by_api_name(self, api_name: str) -> FieldDef | None:
        """A field by Salesforce API name, case-insensitively as Salesforce does."""
        return self._by_api_name.get(api_name.lower())


@dataclass(frozen=True)
class ObjectSpec:
    """What the registry cannot read off a model."""

    model: str
    label_plural: str
    hidden: tuple[str, ...] = ()
    api_names: dict[str, str] = field(default_factory=dict)
    picklists: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    read_only: tuple[str, ...] = ()
    create_only: tuple[str, ...] = ()
    # Writable fields a service fills in when they are left out (owner: the acting user).
    defaulted: tuple[str, ...] = ("owner",)
    extra: tuple[FieldDef, ...] = ()


OBJECT_SPECS: dict[str, ObjectSpec] = {
    "Lead": ObjectSpec(
        model="leads.Lead",
        label_plural="Leads",
        hidden=("owner_user", "owner_queue"),
        api_names={"status": "Status"},
        defaulted=("status",),
        picklists={
            "salutation": "salutation",
            "lead_source": "lead_source",
            "status": LEAD_STATUS_PICKLIST,
            "rating": "rating",
            "industry": "industry",
        },
        types={"email": "email", "phone": "phone", "mobile_phone": "phone", "website": "url"},
        extra=(
            FieldDef(
                name="owner",
                api_name="OwnerId",
                label="Owner",
                type="reference",
                length=18,
                reference_to=("User", "Queue"),
                nullable=False,
            ),
        ),
    ),
    "Account": ObjectSpec(
        model="accounts.Account",
        label_plural="Accounts",
        picklists={
            "industry": "industry",
            "rating": "rating",
            "type": "account_type",
            "account_source": "lead_source",
        },
        types={"phone": "phone", "website": "url"},
    ),
    "Contact": ObjectSpec(
        model="accounts.Contact",
        label_plural="Contacts",
        picklists={"salutation": "salutation", "lead_source": "lead_source"},
        types={"email": "email", "phone": "phone", "mobile_phone": "phone"},
    ),
    "Opportunity": ObjectSpec(
        model="sales.Opportunity",
        label_plural="Opportunities",
        api_names={"stage": "StageName", "forecast_category": "ForecastCategoryName"},
        picklists={
            "stage": OPPORTUNITY_STAGE_PICKLIST,
            "type": "opportunity_type",
            "lead_source": "lead_source",
            "loss_reason": "loss_reason",
        },
        types={"probability": "percent"},
        defaulted=("owner", "probability", "forecast_category"),
        extra=(
            FieldDef(
                name="expected_revenue",
                api_name="ExpectedRevenue",
                label="Expected Revenue",
                type="currency",
                createable=False,
                updateable=False,
                precision=18,
                scale=2,
            ),
        ),
    ),
    "OpportunityContactRole": ObjectSpec(
        model="sales.OpportunityContactRole",
        label_plural="Opportunity Contact Roles",
        picklists={"role": "contact_role"},
        create_only=("opportunity", "contact"),
    ),
    "Task": ObjectSpec(
        model="sales.Task",
        label_plural="Tasks",
        # Salesforce points a task at a lead or contact (WhoId) and at an account or
        # opportunity (WhatId); the model keeps one column per target.
        hidden=("lead", "contact", "opportunity"),
        api_names={"due_date": "ActivityDate"},
        # Completing is its own operation (task_complete); the account follows who/what.
        read_only=("account", "status"),
        extra=(
            FieldDef(
                name="who",
                api_name="WhoId",
                label="Name",
                type="reference",
                length=18,
                reference_to=("Lead", "Contact"),
                required=True,
                nullable=False,
            ),
            FieldDef(
                name="what",
                api_name="WhatId",
                label="Related To",
                type="reference",
                length=18,
                reference_to=("Account", "Opportunity"),
            ),
        ),
    ),
}

_TYPE_BY_FIELD_CLASS: list[tuple[type[models.Field], str]] = [
    (models.BigAutoField, "id"),
    (models.AutoField, "id"),
    (models.ForeignKey, "reference"),
    (models.BooleanField, "boolean"),
    (models.DateTimeField, "datetime"),
    (models.DateField, "date"),
    (models.DecimalField, "currency"),
    (models.IntegerField, "int"),  # includes the positive and small variants
    (models.TextField, "textarea"),
    (models.CharField, "string"),
    (models.JSONField, "textarea"),
]


def _pascal_case(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _field_type(model_field: models.Field) -> str:
    for field_class, type_name in _TYPE_BY_FIELD_CLASS:
        if isinstance(model_field, field_class):
            return type_name
    raise TypeError(f"no metadata type for {model_field!r}")


def _object_name_of(model: type[models.Model]) -> str:
    for name, spec in OBJECT_SPECS.items():
        if apps.get_model(spec.model) is model:
            return name
    return getattr(model, "object_name", model.__name__)


def _field_def(spec: ObjectSpec, model_field: models.Field) -> FieldDef:
    name = model_field.name
    is_reference = model_field.is_relation
    api_name = spec.api_names.get(name) or SYSTEM_API_NAMES.get(name)
    picklist = spec.picklists.get(name)
    if api_name is None:
        api_name = _pascal_case(name) + ("Id" if is_reference and not picklist else "")
    type_name = spec.types.get(name) or _field_type(model_field)
    choices: tuple[str, ...] = ()
    if picklist or model_field.choices:
        type_name = "picklist"
        choices = tuple(str(value) for value, _label in model_field.choices or ())
    createable = name not in SYSTEM_FIELDS and model_field.editable and name not in spec.read_only
    required = (
        createable
        and not model_field.blank
        and not model_field.has_default()
        and name not in spec.defaulted
    )
    reference_to: tuple[str, ...] = ()
    length = model_field.max_length or (LONG_TEXT_LENGTH if type_name == "textarea" else None)
    related_model = model_field.related_model
    if is_reference and picklist and isinstance(related_model, type):
        length = related_model._meta.get_field("name").max_length  # type: ignore[union-attr]
    elif is_reference and isinstance(related_model, type):
        reference_to = (_object_name_of(related_model),)
        length = 18
    return FieldDef(
        name=name,
        api_name=api_name,
        label=str(model_field.verbose_name).title().replace("Id", "ID"),
        type=type_name,
        length=18 if type_name == "id" else length,
        picklist=picklist,
        choices=choices,
        required=required,
        createable=createable,
        updateable=createable and name not in spec.create_only,
        reference_to=reference_to,
        nullable=model_field.null or model_field.blank,
        precision=getattr(model_field, "max_digits", None),
        scale=getattr(model_field, "decimal_places", None),
    )


def _build_object(name: str, spec: ObjectSpec) -> ObjectDef:
    model = apps.get_model(spec.model)
    field_defs = [
        _field_def(spec, model_field)
        for model_field in model._meta.concrete_fields
        if model_field.name not in spec.hidden and not isinstance(model_field, MatchKeyField)
    ]
    field_defs.extend(spec.extra)
    return ObjectDef(
        name=name,
        label=str(model._meta.verbose_name).title(),
        label_plural=spec.label_plural,
        key_prefix=KEY_PREFIXES[name],
        model=model,
        fields=tuple(field_defs),
    )


@cache
def registry() -> dict[str, ObjectDef]:
    """Every exposed object by name; built once, after the apps are loaded."""
    return {name: _build_object(name, spec) for name, spec in OBJECT_SPECS.items()}


def get_object(name: str) -> ObjectDef:
    """An object by name, case-insensitively (`lead`, `Lead`)."""
    for object_name, object_def in registry().items():
        if object_name.lower() == name.lower():
            return object_def
    raise KeyError(name)
