"""Record forms built from the metadata registry, validated by the services.

A page names the fields it shows (in sections, as Salesforce's page layouts group them);
the registry says each field's label, type, length and picklist. The posted text goes to
the service unchanged but for its type (a number's text, a reference's record), and a
DomainError the service raises comes back as a message next to each field it names. No
rule is repeated here: a Django form would be a second copy of the validation.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.http import QueryDict

from dealflow.core import ids
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import (
    LEAD_STATUS_PICKLIST,
    OPPORTUNITY_STAGE_PICKLIST,
    FieldDef,
    get_object,
)
from dealflow.core.models import PicklistValue

# An HTML input type per registry type.
INPUT_TYPES = {
    "email": "email",
    "phone": "tel",
    "url": "text",  # Salesforce takes "example.com" as a website; type=url would refuse it
    "date": "date",
    "currency": "text",  # text: exact decimals, no browser rounding or locale commas
    "int": "number",
    "percent": "number",
    "boolean": "checkbox",
}
TABLE_PICKLISTS = {
    LEAD_STATUS_PICKLIST: "leads.LeadStatus",
    OPPORTUNITY_STAGE_PICKLIST: "sales.OpportunityStage",
}

# (object name, public id) -> the record, loaded through a selector (access applies).
Resolver = Callable[[str, str], Any]


@dataclass
class FormField:
    """One input: its definition, the text to show, its error and its choices."""

    definition: FieldDef
    value: Any = ""
    error: str = ""
    choices: Sequence[tuple[str, str]] = ()
    # A reference's current record label, shown in its picker.
    label_of_value: str = ""
    # What the service puts in a field left blank ("From the stage when left blank."):
    # such a field is not marked required, and the form says this under its label.
    filled_when_blank: str = ""

    @property
    def name(self) -> str:
        return self.definition.public_name

    @property
    def input_id(self) -> str:
        return f"id_{self.name}"

    @property
    def label(self) -> str:
        return self.definition.label

    @property
    def widget(self) -> str:
        """select, textarea, checkbox, lookup (a reference) or input."""
        definition = self.definition
        if definition.is_picklist:
            return "select"
        if definition.type == "textarea":
            return "textarea"
        if definition.type == "boolean":
            return "checkbox"
        if definition.type == "reference":
            return "select" if self.choices else "lookup"
        return "input"

    @property
    def input_type(self) -> str:
        return INPUT_TYPES.get(self.definition.type, "text")

    @property
    def required(self) -> bool:
        if self.filled_when_blank:
            return False
        return self.definition.required or not self.definition.nullable


@dataclass
class Section:
    title: str
    fields: list[FormField]


def layout_names(layout: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """The field names of a page layout's sections, in order."""
    return [name for _title, names in layout for name in names]


def picklist_choices(definition: FieldDef, current: str = "") -> list[tuple[str, str]]:
    """(value, label) of a picklist's active values in order; a retired current value
    stays selectable so saving the form does not silently change it."""
    if definition.choices:
        values = list(definition.choices)
    elif definition.picklist in TABLE_PICKLISTS:
        model = apps.get_model(TABLE_PICKLISTS[definition.picklist])
        values = list(model.objects.filter(is_active=True).values_list("name", flat=True))
    else:
        values = list(
            PicklistValue.objects.filter(picklist=definition.picklist, is_active=True)
            .order_by("sort_order", "value")
            .values_list("value", flat=True)
        )
    if current and current not in values:
        values.append(current)
    return [(value, value) for value in values]


@dataclass
class RecordForm:
    """The sections of one object's form, their values and errors.

    `values` are keyed by public name (what the inputs are named); `choices` gives the
    options of a reference field shown as a select (the owner: users and queues).
    """

    object_name: str
    layout: Sequence[tuple[str, Sequence[str]]]
    values: Mapping[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    choices: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    reference_labels: Mapping[str, str] = field(default_factory=dict)
    # The matches of a DUPLICATES_DETECTED refusal (Match.as_dict()), shown with "Save anyway".
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    # {field name: what the service puts in when it is left blank} (FormField).
    filled_when_blank: Mapping[str, str] = field(default_factory=dict)

    @property
    def sections(self) -> list[Section]:
        object_def = get_object(self.object_name)
        result = []
        for title, names in self.layout:
            fields = []
            for name in names:
                definition = object_def.field(name)
                assert definition is not None, f"{self.object_name} has no field {name}"
                value = self.values.get(definition.public_name, "")
                choices = self.choices.get(name, ())
                if definition.is_picklist and not choices:
                    choices = picklist_choices(definition, str(value or ""))
                fields.append(
                    FormField(
                        definition=definition,
                        value="" if value is None else value,
                        error=self.errors.get(definition.public_name, ""),
                        choices=choices,
                        label_of_value=self.reference_labels.get(name, ""),
                        filled_when_blank=self.filled_when_blank.get(name, ""),
                    )
                )
            result.append(Section(title, fields))
        return result

    def field_names(self) -> list[str]:
        return layout_names(self.layout)

    def fail(self, error: DomainError) -> None:
        """Show a service's refusal: next to each field it names, in the field's words
        ("Company is required."), or above the form when it names no field shown here."""
        object_def = get_object(self.object_name)
        labels = {
            definition.public_name: definition.label
            for name in self.field_names()
            if (definition := object_def.field(name)) is not None
        }
        for each in error.every():
            matches = getattr(each, "matches", None)
            if matches is not None:  # duplicates/services.DuplicatesDetected
                self.duplicates = [match.as_dict() for match in matches]
                continue
            named = [name for name in each.fields if name in labels]
            for name in named:
                self.errors.setdefault(name, field_message(each, name, labels[name]))
            if not named:
                self.message = " ".join(filter(None, [self.message, each.message]))

    @property
    def error_summary(self) -> list[tuple[str, str]]:
        """(label, input id) of each field with an error, in the form's order: the list
        above the form that links to them (an error far down the page is not missed)."""
        return [
            (field.label, field.input_id)
            for section in self.sections
            for field in section.fields
            if field.error
        ]


def field_message(error: DomainError, public_name: str, label: str) -> str:
    """A service's message as shown next to one of its fields: "Company is required.";
    "annual_revenue: expected a number, got 'abc'" without the name the label already says."""
    if error.message.startswith("Required fields are missing"):
        return f"{label} is required."
    rest = error.detail(public_name)
    return rest[:1].upper() + rest[1:] if rest != error.message else rest


def initial_values(record: Any, object_name: str, names: Iterable[str]) -> dict[str, Any]:
    """{public name: value} of a record's fields, for an edit form (references as ids)."""
    object_def = get_object(object_name)
    values: dict[str, Any] = {}
    for name in names:
        definition = object_def.field(name)
        assert definition is not None
        value = getattr(record, name, None)
        if definition.type == "reference":
            value = getattr(value, "public_id", "") if value is not None else ""
        elif definition.picklist in TABLE_PICKLISTS:
            value = getattr(value, "name", "")
        elif isinstance(value, datetime.date):
            value = value.isoformat()  # what <input type=date> reads, whatever the locale
        values[definition.public_name] = value
    return values


def _posted_value(definition: FieldDef, text: str, resolve: Resolver) -> Any:
    """The service's input for a field's posted text (None for a blank non-text field)."""
    if definition.type == "reference":
        if not text:
            return None
        try:
            found_object, _primary_key = ids.decode(text)
        except ids.InvalidIdError:
            raise DomainError(
                ErrorCode.INVALID_ID, "choose a record from the list", [definition.public_name]
            ) from None
        if found_object not in definition.reference_to:
            expected = " or ".join(definition.reference_to)
            raise DomainError(
                ErrorCode.INVALID_ID, f"choose a {expected}", [definition.public_name]
            )
        try:
            return resolve(found_object, text)
        except DomainError:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"no {found_object} you can see has this id",
                [definition.public_name],
            ) from None
    if definition.type in ("currency", "int", "percent", "date") or definition.picklist in (
        TABLE_PICKLISTS
    ):
        return text or None
    return text


def posted_data(
    post: QueryDict, object_name: str, names: Iterable[str], resolve: Resolver
) -> dict[str, Any]:
    """Service data (native names) from a posted form of these fields.

    A check box that is not posted is False (browsers send only checked ones). Raises the
    DomainError of the first reference that names no record the user may see.
    """
    object_def = get_object(object_name)
    data: dict[str, Any] = {}
    for name in names:
        definition = object_def.field(name)
        assert definition is not None
        if definition.type == "boolean":
            data[name] = post.get(definition.public_name) == "on"
            continue
        if definition.public_name not in post:
            continue  # a field this form did not show
        text = post.get(definition.public_name, "").strip()
        data[name] = _posted_value(definition, text, resolve)
    return data


def posted_values(post: QueryDict, object_name: str, names: Iterable[str]) -> dict[str, Any]:
    """{public name: text as posted}, to show the form again after a refusal."""
    object_def = get_object(object_name)
    values: dict[str, Any] = {}
    for name in names:
        public_name = object_def.public_name(name)
        definition = object_def.field(name)
        if definition is not None and definition.type == "boolean":
            values[public_name] = post.get(public_name) == "on"
        else:
            values[public_name] = post.get(public_name, "")
    return values
