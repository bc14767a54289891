"""An import file's row checks compiled once per job: the fast path of `writer.write_batch`.

The writer's general path checks a row as the create services do (`clean_values` on the
row, then the record built by the services' helpers). For a million rows most of that
time goes to looking the same metadata up again for every row. `CompiledRows` looks it
up once per file: each mapped column gets one function that turns its text into the
value `clean_values` would give (`core.validation.clean_field_value`, remembered per
distinct text), and a lead is made from a template instance instead of `Lead()`.

It only ever accepts a row: anything it would refuse, or is not sure of (a ragged row,
a refused value, a converted status, a rep naming another owner), returns None and
the writer checks that row on the general path, which gives the error report's exact
lines. So an accepted row's record is the one the general path builds, and a refused
row's errors are the general path's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models.base import ModelState

from dealflow.core.access import is_admin
from dealflow.core.errors import DomainError
from dealflow.core.metadata import LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST, ObjectDef
from dealflow.core.validation import apply_values, clean_field_value
from dealflow.dataio.imports.reader import EXTERNAL_ID, Row, boolean_text
from dealflow.leads.models import Lead
from dealflow.leads.services import default_lead_status
from dealflow.people.models import Queue, User

_TABLE_PICKLISTS = (LEAD_STATUS_PICKLIST, OPPORTUNITY_STAGE_PICKLIST)
# How many distinct texts a column remembers (then it starts again): names, cities and
# companies repeat; emails and phone numbers do not, and must not fill memory.
MEMORY = 20_000


class _Refused(Exception):
    """The row goes to the general path (which says why it is refused, if it is)."""


_SKIP = object()  # a blank reference or status: the row gives the field no value


def _remembered(clean: Callable[[str], Any]) -> Callable[[str], Any]:
    """`clean` remembered per text (MEMORY texts at most); a refusal raises _Refused."""
    memory: dict[str, Any] = {}

    def cleaned(text: str) -> Any:
        try:
            return memory[text]
        except KeyError:
            pass
        try:
            value = clean(text)
        except DomainError:
            raise _Refused from None
        if len(memory) >= MEMORY:
            memory.clear()
        memory[text] = value
        return value

    return cleaned


class CompiledRows:
    """The checks of one file's columns (`columns`: index -> native name), for one job.

    `record(row)` returns (record, external id, whether the file gave the owner, the
    row's {native name: text}) for a row the general path would accept, else None.
    """

    def __init__(
        self,
        object_def: ObjectDef,
        checks: Any,  # writer.ValueChecks: references and picklists, once per value
        actor: User | None,
        columns: Mapping[int, str],
        header_length: int,
        model: type,
    ) -> None:
        self.object_def = object_def
        self.actor = actor
        self.header_length = header_length
        self.model = model
        self.columns = list(columns.items())
        self.external_index = next(
            (index for index, name in self.columns if name == EXTERNAL_ID), None
        )
        # Columns checked without the database ("pure": text, numbers, dates, checkboxes;
        # a second process may run them) and those that read it (references, picklists).
        self.pure_steps: list[tuple[int, str, Callable[[str], Any]]] = []
        self.steps: list[tuple[int, str, Callable[[str], Any]]] = []
        for index, name in self.columns:
            if name == EXTERNAL_ID:
                continue
            field_def = object_def.field(name)
            assert field_def is not None
            step = (index, name, self._step(checks, field_def))
            if field_def.type == "reference" or field_def.is_picklist:
                self.steps.append(step)
            else:
                self.pure_steps.append(step)
        self.required = list(checks.required)
        self.is_rep = actor is not None and not is_admin(actor) and actor.role != "manager"
        # A new record's attribute values before the row's (model defaults): shared by
        # every record, so only values nobody changes in place.
        self._template = {key: value for key, value in model().__dict__.items() if key != "_state"}
        if model is Lead:
            assert all(
                isinstance(value, str | int | float | None) for value in self._template.values()
            )
        # Lead fields set straight into the instance (plain columns, not relations).
        plain = {
            field.name
            for field in model._meta.concrete_fields
            if not field.is_relation and field.attname == field.name
        }
        self.direct = {name for _index, name, _step in self.steps if name in plain}

    def _step(self, checks: Any, field_def: Any) -> Callable[[str], Any]:
        name = field_def.name
        if field_def.type == "boolean":
            return _remembered(lambda text: boolean_text(field_def, text))
        if field_def.type == "reference":
            reference = _remembered(lambda text: checks.reference(name, text))
            return lambda text: reference(text) if text.strip() else _SKIP
        if field_def.is_picklist:
            picklist = _remembered(lambda text: checks.picklist(name, text))
            blank: Any = _SKIP if field_def.picklist in _TABLE_PICKLISTS else ""
            return lambda text: picklist(text) if text.strip() else blank
        return _remembered(lambda text: clean_field_value(field_def, text))

    def start_batch(self) -> None:
        """Read what may change between batches (the default lead status)."""
        self.default_status = default_lead_status() if self.model is Lead else None

    def pure_values(self, row: Row) -> dict[str, Any] | None:
        """The row's values of the columns checked without the database, or None when
        the row is ragged or one of them is refused."""
        values = row.values
        if row.problem or len(values) != self.header_length:
            return None
        cleaned: dict[str, Any] = {}
        try:
            for index, name, step in self.pure_steps:
                cleaned[name] = step(values[index])
        except _Refused:
            return None
        return cleaned

    def record(
        self, row: Row, pure: dict[str, Any] | None = None
    ) -> tuple[Any, str, bool, dict[str, str]] | None:
        """The row's record as the general path would build it, or None (see the class).
        `pure` is `pure_values(row)` when made already (by the second process)."""
        cleaned = self.pure_values(row) if pure is None else dict(pure)
        if cleaned is None:
            return None
        values = row.values
        try:
            for index, name, step in self.steps:
                value = step(values[index])
                if value is not _SKIP:
                    cleaned[name] = value
        except _Refused:
            return None
        for name in self.required:
            if cleaned.get(name) in (None, ""):
                return None
        owner = cleaned.pop("owner", None)
        owner_given = owner is not None
        try:
            record = self._build(cleaned, owner)
        except (DomainError, _Refused):
            return None
        if self.is_rep and owner_given and getattr(record, "owner_user_id", None) != self.actor.pk:  # type: ignore[union-attr]
            return None
        texts = {name: values[index] for index, name in self.columns}
        external = values[self.external_index].strip() if self.external_index is not None else ""
        return record, external, owner_given, texts

    def _build(self, cleaned: dict[str, Any], owner: Any) -> Any:
        if self.model is not Lead:
            from dealflow.dataio.imports.writer import build_other

            return build_other(self.model, self.actor, owner, cleaned)
        status = cleaned.pop("status", None) or self.default_status
        if status.is_converted or (owner is None and self.actor is None):
            raise _Refused
        owner = owner or self.actor
        record = Lead.__new__(Lead)
        data = record.__dict__
        data.update(self._template)
        state = record._state = ModelState()
        cache = state.fields_cache
        data["status_id"] = status.pk
        cache["status"] = status
        if isinstance(owner, Queue):
            data["owner_user_id"], data["owner_queue_id"] = None, owner.pk
            cache["owner_user"], cache["owner_queue"] = None, owner
        else:
            data["owner_user_id"], data["owner_queue_id"] = owner.pk, None
            cache["owner_user"], cache["owner_queue"] = owner, None
        direct = self.direct
        others = {}
        for name, value in cleaned.items():
            if name in direct:
                data[name] = value
            else:
                others[name] = value
        if others:
            apply_values(record, others)
        return record

    def blocking_keys(self, pure: dict[str, Any]) -> list[tuple[str, str]] | None:
        """The (kind, value) duplicate keys of the record these pure values make, sorted
        as `duplicates.keys.keys_of_records` files them; None when they depend on more
        than the row's own columns (a contact's account name)."""
        from dealflow.duplicates.keys import PROFILE_SOURCES, blocking_keys, profile_of

        name = self.object_def.name
        if name not in ("Lead", "Account"):
            return None
        template = self._template
        assert all(
            source in template for sources in PROFILE_SOURCES[name].values() for source in sources
        )

        def read(field: str) -> Any:
            return pure[field] if field in pure else template[field]

        return sorted(blocking_keys(name, profile_of(name, read)))
