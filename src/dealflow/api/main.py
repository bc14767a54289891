"""The native REST API under /api/v1/: bearer tokens, snake_case JSON, one error format."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from dealflow.api import accounts, docs, leads, people, sales
from dealflow.api.auth import BearerToken
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
        return schema

    @property
    def urls(self) -> tuple[list[Any], str, str]:
        """ninja's URLs, with its plain-text 405s as JSON errors, and JSON 404s for the rest."""
        patterns, app_name, namespace = super().urls
        patterns = [
            URLPattern(item.pattern, _json_405(item.callback), item.default_args, item.name)
            if isinstance(item, URLPattern)
            else item
            for item in patterns
        ]
        patterns.append(re_path(r"^.*$", no_such_endpoint))
        return patterns, app_name, namespace


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


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    return error_response(error)


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
