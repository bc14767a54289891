"""Reports (docs/api.md, "Reports"): the list of reports and each report's rows.

- `GET /reports`: every report, in display order: `{"reports": [{"name", "title",
  "description", "filters", "group_by"}]}`.
- `GET /reports/{name}`: `{"name", "filters", "columns": [{"name", "label", "kind"}],
  "rows"}`; with `format=csv`, the same rows as CSV (a header of column names).

Values in the JSON rows: money as exact decimal strings ("1234.50"), fractions (0-1)
and days as JSON numbers, dates ISO 8601, counts as integers, null for "no value". The
rows count only the records the token's user may see (the report selectors apply the
access rules). 404 for an unknown report, 400 naming the parameter for a bad filter.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dealflow.api import docs
from dealflow.api.support import json_response
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.reports.definitions import (
    FILTER_NAMES,
    ReportDefinition,
    ReportResult,
    report_filters_parse,
    report_list,
    report_run,
)

router = Router(tags=["Reports"])

FORMATS = ("json", "csv")
# Kinds whose values are JSON numbers; money stays a string so that it stays exact.


class ReportQuery(Schema):
    """A report's filters (each report takes some of them: see GET /reports) and format."""

    period_start: str | None = Field(
        None, description="First day of the period, YYYY-MM-DD (inclusive, organisation time)"
    )
    period_end: str | None = Field(
        None, description="Last day of the period, YYYY-MM-DD (inclusive)"
    )
    owner_id: str | None = Field(None, description="Only this owner's records: a User id (005...)")
    team_id: str | None = Field(None, description="Only records owned by this team's members")
    lead_source: str | None = Field(None, description="Only this Lead Source")
    group_by: str | None = Field(
        None, description="Report-specific grouping (source, owner, month); see GET /reports"
    )
    as_of: str | None = Field(
        None,
        description="pipeline_by_stage and forecast: the pipeline as it was on this day, "
        "YYYY-MM-DD",
    )
    format: str = Field("json", description="json (default) or csv")


def result_csv(result: ReportResult) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(result.csv_rows())
    return buffer.getvalue()


def definition_json(definition: ReportDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "title": definition.title,
        "description": definition.description,
        "filters": [name for name in FILTER_NAMES if name in definition.filters],
        "group_by": list(definition.group_by),
    }


DEFINITION_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The report's name, as in its URL"},
        "title": {"type": "string"},
        "description": {"type": "string", "description": "What it counts and its rule"},
        "filters": {
            "type": "array",
            "items": {"type": "string", "enum": list(FILTER_NAMES)},
            "description": "The query parameters it accepts",
        },
        "group_by": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Its group_by values, the default first; empty: no grouping",
        },
    },
    "required": ["name", "title", "description", "filters", "group_by"],
}
LIST_SCHEMA = {
    "type": "object",
    "properties": {"reports": {"type": "array", "items": DEFINITION_SCHEMA}},
    "required": ["reports"],
}
RESULT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "filters": {
            "type": "object",
            "description": "The filters it ran with (the default group_by filled in); "
            "null for a filter not given",
            "properties": {name: {"type": ["string", "null"]} for name in FILTER_NAMES},
        },
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The key of each row"},
                    "label": {"type": "string"},
                    "kind": {
                        "type": "string",
                        "enum": [
                            "text",
                            "integer",
                            "money",
                            "fraction",
                            "days",
                            "date",
                            "month",
                            "id",
                        ],
                    },
                },
                "required": ["name", "label", "kind"],
            },
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "Keyed by the column names: money an exact decimal string, "
                "fraction (0-1) and days numbers, date YYYY-MM-DD, null for no value",
            },
        },
    },
    "required": ["name", "filters", "columns", "rows"],
}


@router.get(
    "/reports",
    operation_id="report_list",
    summary="The reports: name, title, description, the filters and group_by values each takes",
    openapi_extra={
        "responses": {200: docs._json(LIST_SCHEMA, "The reports"), **docs.error_responses(401)}
    },
)
def list_reports(request) -> HttpResponse:
    return json_response({"reports": [definition_json(item) for item in report_list()]})


@router.get(
    "/reports/{name}",
    operation_id="report_get",
    summary="Run a report over the records you may see (format=csv for CSV)",
    description=(
        "Rows keyed by the column names. Money is an exact decimal string, rates are "
        "fractions (0.5, not 50), days are numbers, dates are YYYY-MM-DD. A filter the "
        "report does not take, or a bad value, is a 400 naming the parameter; an unknown "
        "report a 404. `format=csv` answers text/csv: a header of the column names, then "
        "one line per row (money and fractions as exact decimals, dates ISO, blank for none)."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The report",
                "content": {
                    "application/json": {"schema": RESULT_SCHEMA},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            **docs.error_responses(400, 401, 404),
        }
    },
)
def get_report(request, name: str, query: Query[ReportQuery]) -> HttpResponse:
    values = query.dict()
    output = values.pop("format")
    if output not in FORMATS:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"format: expected json or csv, got {output!r}", ["format"]
        )
    filters = report_filters_parse({key: value for key, value in values.items() if value})
    result = report_run(name, user=request.auth, filters=filters)
    if output == "csv":
        return HttpResponse(
            result_csv(result),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{result.name}.csv"'},
        )
    return json_response(result.as_json())
