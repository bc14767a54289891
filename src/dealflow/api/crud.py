"""One set of list/create/get/update/delete endpoints per object, built from its parts.

(No `from __future__ import annotations` here: django-ninja reads the filter schema
from the handlers' annotations at registration time.)
"""

from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dealflow.api import docs
from dealflow.api.records import from_json
from dealflow.api.support import (
    body_data,
    check_if_match,
    filter_value,
    page_response,
    read_response,
    record_response,
    request_body,
    resolver,
    run_idempotent,
)
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.selectors import ListSpec


class ListOptions(Schema):
    """Paging, search and order: the same for every list."""

    q: str | None = Field(
        None,
        description=(
            "Prefix search on the main text fields, after Unicode normalisation and case "
            "folding (`борис` finds Борис, `strasse` finds Straße)"
        ),
    )
    order_by: str | None = Field(None, description="A field name, `-` prefixed to sort descending")
    limit: int = Field(50, ge=1, le=200, description="Records per page")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")
    include_total: bool = Field(False, description="Also count all matching records (slower)")


LIST_OPTION_NAMES = tuple(ListOptions.model_fields)

Actor = Any
Getter = Callable[[Actor, str], models.Model]
Pager = Callable[..., Any]
Creator = Callable[..., models.Model]  # (actor, data, **create options)
Updater = Callable[[Actor, Any, dict[str, Any]], models.Model]
Deleter = Callable[[Actor, Any], None]


def _with_list_spec(filters_schema: type[Schema], spec: ListSpec) -> type[Schema]:
    """The filters schema with this list's sort orders and search fields in the document."""
    names = sorted(spec.orderings)
    searched = ", ".join(column.removesuffix("_key") for column in spec.search)
    return type(
        filters_schema.__name__,
        (filters_schema,),
        {
            "__annotations__": {"order_by": str | None, "q": str | None},
            "__module__": filters_schema.__module__,
            "order_by": Field(
                None,
                description=(
                    f"Sort order (default `{spec.default_order}`); "
                    "`-` sorts descending. Names sort case-insensitively."
                ),
                json_schema_extra={"enum": [*names, *(f"-{name}" for name in names)]},
            ),
            "q": Field(
                None,
                description=(
                    f"Prefix search on {searched}, after Unicode normalisation and case "
                    "folding (`борис` finds Борис, `strasse` finds Straße)"
                ),
            ),
        },
    )


def _create_options(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, bool]:
    """Take the create's true/false options (`assign`) out of the body, checked."""
    options = {}
    for name in names:
        if name in body:
            value = body.pop(name)
            if not isinstance(value, bool):
                raise DomainError(ErrorCode.INVALID_TYPE, f"{name}: expected true or false", [name])
            options[name] = value
    return options


def _allow_save(request) -> bool:
    """Salesforce's `Sforce-Duplicate-Rule-Header: allowSave=true` (docs/duplicates.md)."""
    header = request.headers.get("Sforce-Duplicate-Rule-Header", "")
    parts = (part.strip().partition("=") for part in header.split(","))
    return any(name.strip() == "allowSave" and value.strip() == "true" for name, _, value in parts)


def register_crud(
    router: Router,
    *,
    object_name: str,
    path: str,
    operation_prefix: str,
    filters_schema: type[Schema],
    list_spec: ListSpec,
    to_filters: Callable[[dict[str, Any]], dict[str, Any]],
    get: Getter,
    page: Pager,
    create: Creator | None,
    update: Updater | None,
    delete: Deleter | None,
    create_options: tuple[str, ...] = (),
) -> None:
    """Add the five endpoints of one object to a router.

    `create_options` names true/false body keys that are not fields but keyword
    arguments of `create` (a lead's `assign`).
    """
    filters_schema = _with_list_spec(filters_schema, list_spec)

    @router.get(
        path,
        operation_id=f"{operation_prefix}_list",
        summary=f"List {object_name} records",
        openapi_extra=docs.list_doc(object_name),
    )
    def list_records(request, filters: Query[filters_schema]) -> HttpResponse:  # type: ignore[valid-type]
        values = {name: filter_value(name, value) for name, value in filters.dict().items()}
        options = {name: values.pop(name) for name in LIST_OPTION_NAMES}
        search = options.pop("q")
        result = page(actor=request.auth, filters=to_filters(values), search=search, **options)
        return page_response(object_name, result)

    @router.get(
        f"{path}/{{record_id}}",
        operation_id=f"{operation_prefix}_get",
        summary=f"Get one {object_name}",
        openapi_extra=docs.get_doc(object_name),
    )
    def get_record(request, record_id: str) -> HttpResponse:
        return read_response(request, object_name, get(request.auth, record_id))

    if create is not None:

        @router.post(
            path,
            operation_id=f"{operation_prefix}_create",
            summary=f"Create a {object_name} (honours Idempotency-Key)",
            openapi_extra=docs.create_doc(object_name),
        )
        def create_record(request) -> HttpResponse:
            def operation() -> HttpResponse:
                body = request_body(request)
                options = _create_options(body, create_options)
                if "allow_duplicates" in create_options and _allow_save(request):
                    options["allow_duplicates"] = True
                data = from_json(object_name, body, creating=True, resolve=resolver(request.auth))
                record = create(request.auth, data, **options)
                return record_response(object_name, record, status=201)

            # Reading the body's references writes nothing; the create service has its
            # own transaction.
            return run_idempotent(request, operation, atomic=False)

    if update is not None:

        @router.patch(
            f"{path}/{{record_id}}",
            operation_id=f"{operation_prefix}_update",
            summary=f"Change a {object_name} (honours If-Match)",
            openapi_extra=docs.update_doc(object_name),
        )
        def update_record(request, record_id: str) -> HttpResponse:
            with transaction.atomic():
                record = get(request.auth, record_id)
                check_if_match(request, record)
                data = body_data(request, object_name, creating=False)
                record = update(request.auth, record, data)
            return record_response(object_name, record)

    if delete is not None:

        @router.delete(
            f"{path}/{{record_id}}",
            operation_id=f"{operation_prefix}_delete",
            summary=f"Delete a {object_name} (honours If-Match)",
            openapi_extra=docs.delete_doc(),
        )
        def delete_record(request, record_id: str) -> HttpResponse:
            with transaction.atomic():
                record = get(request.auth, record_id)
                check_if_match(request, record)
                delete(request.auth, record)
            return HttpResponse(status=204)
