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
from dealflow.api.support import (
    body_data,
    check_if_match,
    filter_value,
    page_response,
    read_response,
    record_response,
    run_idempotent,
)


class ListOptions(Schema):
    """Paging, search and order: the same for every list."""

    q: str | None = Field(
        None, description="Case-insensitive prefix search on the main text fields"
    )
    order_by: str | None = Field(None, description="A field name, `-` prefixed to sort descending")
    limit: int = Field(50, ge=1, le=200, description="Records per page")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page")
    include_total: bool = Field(False, description="Also count all matching records (slower)")


LIST_OPTION_NAMES = tuple(ListOptions.model_fields)

Actor = Any
Getter = Callable[[Actor, str], models.Model]
Pager = Callable[..., Any]
Creator = Callable[[Actor, dict[str, Any]], models.Model]
Updater = Callable[[Actor, Any, dict[str, Any]], models.Model]
Deleter = Callable[[Actor, Any], None]


def register_crud(
    router: Router,
    *,
    object_name: str,
    path: str,
    operation_prefix: str,
    filters_schema: type[Schema],
    to_filters: Callable[[dict[str, Any]], dict[str, Any]],
    get: Getter,
    page: Pager,
    create: Creator | None,
    update: Updater | None,
    delete: Deleter | None,
) -> None:
    """Add the five endpoints of one object to a router."""

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
                data = body_data(request, object_name, creating=True)
                return record_response(object_name, create(request.auth, data), status=201)

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
