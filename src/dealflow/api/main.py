"""The native REST API under /api/v1/: bearer tokens, snake_case JSON, one error format."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from django.db import Error as DatabaseLibraryError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation

from dealflow.api import (
    accounts,
    automation,
    docs,
    duplicates,
    imports,
    leads,
    people,
    qualification,
    reports,
    sales,
    scoring,
    service_levels,
)
from dealflow.api.auth import BearerToken
from dealflow.api.middleware import storage_failure, storage_unavailable
from dealflow.api.records import object_schemas
from dealflow.api.support import error_response, json_response
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.metadata import registry


class DealflowAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any):
        """Add the record schemas built from the metadata registry to the components."""
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for object_name in registry():
            components.update(object_schemas(object_name))
        components["Errors"] = docs.ERROR_SCHEMA
        components["LeadConvert"] = leads.LEAD_CONVERT_SCHEMA
        components["LeadCreate"]["properties"]["assign"] = automation.ASSIGN_OPTION_SCHEMA
        for object_name in ("Lead", "Account", "Contact"):
            properties = components[f"{object_name}Create"]["properties"]
            properties["allow_duplicates"] = duplicates.ALLOW_DUPLICATES_SCHEMA
        # Every operation refuses unknown query parameters (see _refuse_unknown_query).
        bad_input = docs.error_responses(400)[400]
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if 400 not in responses and "400" not in responses:
                    responses[400] = bad_input
        return schema

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        """ninja's URLs, with its plain-text 405s as JSON errors, and JSON 404s for the rest.

        The root (ninja's "api-root", kept for reversing) answers 404 too, and every
        operation refuses query parameters it does not declare.
        """
        patterns, app_name, namespace = super().urls
        patterns = [_answer_in_json(item) for item in patterns]
        patterns.append(re_path(r"^.*$", no_such_endpoint))
        for operation in self._operations():
            if not getattr(operation._run_checks, "refuses_unknown_query", False):
                _refuse_unknown_query(operation)
        return patterns, app_name, namespace

    def _operations(self) -> Iterator[Operation]:
        """The operations the URLs run (ninja's copies bound to this API, not the routers')."""
        for bound_router in self._get_bound_routers():
            for path_view in bound_router.path_operations.values():
                yield from path_view.operations


def query_names(operation: Operation) -> list[str]:
    """The query parameters an operation declares, as ninja reads them from the request."""
    names: list[str] = []
    for model in operation.models:
        if model.__ninja_param_source__ == "query":
            flattened = getattr(model, "__ninja_flatten_map__", None)
            names.extend(flattened or (f.alias or name for name, f in model.model_fields.items()))
    return names


def _refuse_unknown_query(operation: Operation) -> None:
    """Make the operation refuse (INVALID_FIELD) query parameters it does not declare.

    The check runs after authentication and before ninja validates the parameters.
    """
    accepted = query_names(operation)
    run_checks = operation._run_checks

    def refusal(request: HttpRequest) -> HttpResponse | None:
        unknown = [name for name in request.GET if name not in accepted]
        if not unknown:
            return None
        noun = "parameters" if len(unknown) > 1 else "parameter"
        return error_response(
            DomainError(
                ErrorCode.INVALID_FIELD,
                f"unknown query {noun} {', '.join(unknown)} "
                f"(accepted: {', '.join(accepted) or 'none'})",
                unknown,
            )
        )

    def checks(request: HttpRequest) -> HttpResponse | None:
        error = run_checks(request)
        return refusal(request) if error is None else error

    async def async_checks(request: HttpRequest) -> HttpResponse | None:
        error = await run_checks(request)  # type: ignore[misc]
        return refusal(request) if error is None else error

    wrapper: Any = async_checks if operation.is_async else checks
    wrapper.refuses_unknown_query = True
    operation._run_checks = wrapper  # type: ignore[method-assign]


def _answer_in_json(item: Any) -> Any:
    if not isinstance(item, URLPattern):
        return item
    # ninja's root view raises Http404 and is not CSRF-exempt (a POST would get a 403).
    view = no_such_endpoint if item.name == "api-root" else _json_405(item.callback)
    return URLPattern(item.pattern, view, item.default_args, item.name)


def _json_405(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        allowed = response.get("Allow", "")
        return json_response(
            {
                "errors": [
                    {
                        "code": str(ErrorCode.METHOD_NOT_ALLOWED),
                        "message": f"{request.method} is not allowed here (allowed: {allowed})",
                        "fields": [],
                    }
                ]
            },
            status=405,
            headers={"Allow": allowed},
        )

    return answer


@csrf_exempt
def no_such_endpoint(request: HttpRequest) -> HttpResponse:
    return error_response(
        DomainError(ErrorCode.NOT_FOUND, f"no endpoint {request.path} (see docs/api.md)")
    )


api = DealflowAPI(
    title="dealflow",
    version="1",
    description=(
        "The native REST API of dealflow. Authenticate with `Authorization: Bearer <token>` "
        "(`dealflow token create USERNAME`). Ids are 18-character public ids; errors are "
        '`{"errors": [{"code", "message", "fields"}]}`. See docs/api.md.'
    ),
    auth=BearerToken(),
    urls_namespace="api-v1",
)
for router in (leads.router, accounts.router, sales.router, people.router):
    api.add_router("", router)
api.add_router("", qualification.router)
api.add_router("", automation.router)
api.add_router("", service_levels.router)
api.add_router("", scoring.router)
api.add_router("", reports.router)
api.add_router("", imports.router)
api.add_router("", duplicates.router)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    return error_response(*error.every())


@api.exception_handler(Http404)
def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return error_response(DomainError(ErrorCode.NOT_FOUND, f"{request.path}: not found"))


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, error: Exception) -> HttpResponse:
    return error_response(
        DomainError(
            ErrorCode.INVALID_SESSION_ID,
            "Send a valid token: Authorization: Bearer <token> (missing, unknown or revoked)",
        )
    )


@api.exception_handler(ValidationError)
def invalid_input(request: HttpRequest, error: ValidationError) -> HttpResponse:
    problems = []
    for item in error.errors:
        location = [
            str(part) for part in item.get("loc", ()) if part not in ("query", "path", "filters")
        ]
        name = location[-1] if location else "request"
        problems.append(
            DomainError(ErrorCode.INVALID_TYPE, f"{name}: {item.get('msg', 'invalid')}", [name])
        )
    return error_response(*problems or [DomainError(ErrorCode.INVALID_TYPE, "invalid request")])


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    code = ErrorCode.METHOD_NOT_ALLOWED if error.status_code == 405 else ErrorCode.INVALID_FIELD
    return json_response(
        {"errors": [{"code": str(code), "message": str(error), "fields": []}]},
        status=error.status_code,
    )


@api.exception_handler(DatabaseLibraryError)
def database_error(request: HttpRequest, error: DatabaseLibraryError) -> HttpResponse:
    """A database that cannot be written or reached answers 503 STORAGE_UNAVAILABLE, in
    DEBUG too; any other database error stays a server error for Django to log."""
    failure = storage_failure(error)
    if failure is None:
        raise error
    return storage_unavailable(request, failure, error)
