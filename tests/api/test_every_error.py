"""A record with several bad fields is refused with one error per field (as Salesforce
lists every error of a save), not only the first: fixed in one round trip."""

import pytest

from dealflow.leads.models import Lead

pytestmark = pytest.mark.django_db


def test_every_bad_field_of_a_lead_is_reported(api):
    response = api.post(
        "/leads",
        {
            "last_name": "Lovelace",
            "email": "not-an-email",
            "annual_revenue": "abc",
            "number_of_employees": -5,
        },
    )

    assert response.status_code == 400
    assert [(error["code"], error["fields"]) for error in response.json()["errors"]] == [
        ("INVALID_EMAIL_ADDRESS", ["email"]),
        ("INVALID_TYPE", ["annual_revenue"]),
        ("NUMBER_OUTSIDE_VALID_RANGE", ["number_of_employees"]),
        ("REQUIRED_FIELD_MISSING", ["company"]),
    ]
    assert Lead.objects.count() == 0


def test_the_form_shows_each_error_next_to_its_field(client, actor):
    client.force_login(actor)
    response = client.post(
        "/leads/new/",
        {"last_name": "Lovelace", "company": "", "email": "x", "annual_revenue": "abc"},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors == {
        "company": "Company is required.",
        "email": "'x' is not an email address",
        "annual_revenue": "Expected a number, got 'abc'",
    }
    assert Lead.objects.count() == 0
