import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealflow.core.metadata import get_object, registry


def test_registry_covers_every_object_with_its_key_prefix():
    assert {name: object_def.key_prefix for name, object_def in registry().items()} == {
        "Lead": "00Q",
        "Account": "001",
        "Contact": "003",
        "Opportunity": "006",
        "OpportunityContactRole": "00K",
        "Task": "00T",
    }


@pytest.mark.parametrize(
    ("object_name", "name", "expected"),
    [
        ("Lead", "last_name", ("LastName", "string", 80, True, True, True)),
        ("Lead", "company", ("Company", "string", 255, True, True, True)),
        ("Lead", "email", ("Email", "email", 80, False, True, True)),
        ("Lead", "status", ("Status", "picklist", 80, False, True, True)),
        ("Lead", "owner", ("OwnerId", "reference", 18, False, True, True)),
        ("Lead", "is_converted", ("IsConverted", "boolean", None, False, False, False)),
        ("Lead", "converted_account", ("ConvertedAccountId", "reference", 18, False, False, False)),
        ("Lead", "id", ("Id", "id", 18, False, False, False)),
        ("Opportunity", "stage", ("StageName", "picklist", 80, True, True, True)),
        (
            "Opportunity",
            "forecast_category",
            ("ForecastCategoryName", "picklist", 20, False, True, True),
        ),
        ("Opportunity", "probability", ("Probability", "percent", None, False, True, True)),
        ("Opportunity", "is_won", ("IsWon", "boolean", None, False, False, False)),
        (
            "Opportunity",
            "expected_revenue",
            ("ExpectedRevenue", "currency", None, False, False, False),
        ),
        ("Opportunity", "amount", ("Amount", "currency", None, False, True, True)),
        (
            "OpportunityContactRole",
            "opportunity",
            ("OpportunityId", "reference", 18, True, True, False),
        ),
        ("Task", "who", ("WhoId", "reference", 18, True, True, True)),
        ("Task", "due_date", ("ActivityDate", "date", None, False, True, True)),
        ("Account", "billing_postal_code", ("BillingPostalCode", "string", 20, False, True, True)),
        (
            "Contact",
            "has_opted_out_of_email",
            ("HasOptedOutOfEmail", "boolean", None, False, True, True),
        ),
    ],
)
def test_field_definitions(object_name, name, expected):
    field = get_object(object_name).field(name)
    assert (
        field.api_name,
        field.type,
        field.length,
        field.required,
        field.createable,
        field.updateable,
    ) == expected


def test_internal_columns_are_hidden_and_api_names_resolve_case_insensitively():
    lead = get_object("lead")
    assert lead.field("phone_digits") is None
    assert lead.field("owner_user") is None
    assert lead.field_by_api_name("lastname").name == "last_name"
    assert get_object("Opportunity").field_by_api_name("StageName").name == "stage"


def test_describe_command_prints_json(capsys):
    call_command("describe", "Lead", "--json")
    description = json.loads(capsys.readouterr().out)
    assert description["key_prefix"] == "00Q"
    company = next(field for field in description["fields"] if field["name"] == "company")
    assert company == {
        "name": "company",
        "api_name": "Company",
        "label": "Company",
        "type": "string",
        "length": 255,
        "picklist": None,
        "choices": [],
        "required": True,
        "createable": True,
        "updateable": True,
        "reference_to": [],
        "public_name": "company",
        "json_type": "string",
        "precision": None,
        "scale": None,
    }


def test_describe_command_refuses_unknown_objects():
    with pytest.raises(CommandError, match="unknown object 'Widget'"):
        call_command("describe", "Widget")


def test_describe_command_shows_the_api_salesforce_and_model_names_and_types(capsys):
    call_command("describe", "Opportunity")
    lines = capsys.readouterr().out.splitlines()
    stage = next(line for line in lines if "StageName" in line)
    assert [cell.strip() for cell in stage.split("│")[1:7]] == [
        "stage_name",
        "StageName",
        "stage",
        "Stage",
        "picklist",
        "string",
    ]
    amount = next(line for line in lines if "│ amount " in line)
    assert "string (decimal)" in amount
    assert "18,2" in amount
