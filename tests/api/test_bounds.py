"""Bodies nested too deeply are refused with a 400 before anything parses them."""

import json

import pytest

from dealflow.api.support import MAX_JSON_DEPTH, check_json_depth
from dealflow.core.errors import DomainError
from dealflow.core.models import AuditEvent, IdempotencyRecord
from dealflow.leads.models import Lead
from dealflow.people.models import Role, Team
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_LEAD = {"last_name": "Hopper", "company": "Navy Labs"}
TOO_DEEP = {
    "code": "JSON_PARSER_ERROR",
    "message": "body nests arrays and objects deeper than 32 levels",
    "fields": [],
}


def nested(depth: int) -> str:
    """A lead body `depth` levels deep: its description nests objects and arrays in turn."""
    levels = ['{"a": ' if level % 2 else "[" for level in range(depth - 1)]
    value = (
        "".join(levels) + "1" + "".join("}" if level[0] == "{" else "]" for level in levels[::-1])
    )
    return '{"last_name": "Hopper", "company": "Navy Labs", "description": ' + value + "}"


def test_the_limit_is_32_levels():
    assert MAX_JSON_DEPTH == 32


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_a_body_nested_too_deeply_is_refused_and_nothing_is_written(api, depth):
    events = AuditEvent.objects.count()  # the actor's own creation

    response = api.post("/leads", nested(depth), headers={"Idempotency-Key": "deep"})

    assert response.status_code == 400
    assert response.json() == {"errors": [TOO_DEEP]}
    assert (Lead.objects.count(), AuditEvent.objects.count()) == (0, events)
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deep_array_is_refused_too(api, depth):
    response = api.post("/leads", "[" * depth + "]" * depth)

    assert response.status_code == 400
    assert response.json() == {"errors": [TOO_DEEP]}


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deep_body_is_refused_on_update_and_conversion(api, actor, depth):
    lead = LeadFactory(owner_user=actor, description="as it was")
    events = AuditEvent.objects.count()

    updated = api.patch(f"/leads/{lead.public_id}", nested(depth))
    converted = api.post(f"/leads/{lead.public_id}/convert", "[" * depth + "]" * depth)

    assert (updated.status_code, updated.json()) == (400, {"errors": [TOO_DEEP]})
    assert (converted.status_code, converted.json()) == (400, {"errors": [TOO_DEEP]})
    lead.refresh_from_db()
    assert (lead.description, lead.is_converted) == ("as it was", False)
    assert AuditEvent.objects.count() == events


def test_a_utf16_body_is_checked_as_the_text_it_decodes_to(api):
    response = api.post("/leads", nested(1_000).encode("utf-16"))

    assert response.status_code == 400
    assert response.json() == {"errors": [TOO_DEEP]}


def test_a_body_at_the_limit_is_parsed_and_refused_for_its_values(api):
    response = api.post("/leads", nested(32))

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == ("INVALID_TYPE", ["description"])
    assert Lead.objects.count() == 0


def test_brackets_inside_strings_do_not_count(api):
    description = '[{"\\' * 1_000 + '"]'
    body = json.dumps({**NEW_LEAD, "description": description})

    response = api.post("/leads", body)

    assert response.status_code == 201, response.content
    assert Lead.objects.get().description == description


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("[" * 32 + "]" * 32, False),
        ("[" * 33 + "]" * 33, True),
        ("{" * 33, True),  # unterminated: it still nests that deep before failing
        ("[" + "[]," * 10_000 + "[]]", False),  # wide, not deep
        ('["' + "[" * 40 + '"]', False),
        ('["\\"' + "[" * 40 + '"]', False),  # an escaped quote does not end the string
        ('["\\\\"' + ", [" * 33 + "]" * 33 + "]", True),  # an escaped backslash does not escape
        ("]" * 40 + "[" * 40, False),  # json.loads stops at the first ], a parse error
        ('{"\\u005b": "' + "{" * 40 + '"}', False),
    ],
)
def test_check_json_depth(text, refused):
    if refused:
        with pytest.raises(DomainError) as raised:
            check_json_depth(text)
        assert raised.value.message == "body nests arrays and objects deeper than 32 levels"
    else:
        check_json_depth(text)


def test_endpoints_with_a_schema_answer_a_deep_body_with_400(api_as):
    client = api_as(UserFactory(role=Role.ADMIN))

    response = client.post("/teams", '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_FIELD"
    assert Team.objects.count() == 0
