"""Record forms (web/forms.py): a service's refusal shown next to its fields, in words."""

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.web.forms import RecordForm

pytestmark = pytest.mark.django_db

LAYOUT = [("Lead Information", ["last_name", "company", "annual_revenue"])]


def test_a_missing_field_says_its_label_and_the_summary_links_it():
    form = RecordForm("Lead", LAYOUT)
    form.fail(
        DomainError(
            ErrorCode.REQUIRED_FIELD_MISSING,
            "Required fields are missing: last_name, company",
            ["last_name", "company"],
        )
    )
    assert form.errors == {"last_name": "Last Name is required.", "company": "Company is required."}
    assert form.error_summary == [("Last Name", "id_last_name"), ("Company", "id_company")]
    assert form.message == ""


def test_a_field_message_drops_the_name_the_label_already_says():
    form = RecordForm("Lead", LAYOUT)
    form.fail(
        DomainError(
            ErrorCode.INVALID_TYPE,
            "annual_revenue: expected a number, got 'abc'",
            ["annual_revenue"],
        )
    )
    assert form.errors == {"annual_revenue": "Expected a number, got 'abc'"}


def test_a_refusal_about_no_field_shown_goes_above_the_form():
    form = RecordForm("Lead", LAYOUT)
    form.fail(
        DomainError(ErrorCode.INVALID_STATUS, "No default lead status is configured", ["status"])
    )
    assert (form.errors, form.message) == ({}, "No default lead status is configured")
    assert form.error_summary == []


def test_the_page_shows_the_summary_and_skip_link(client, actor):
    client.force_login(actor)
    content = client.post("/leads/new/", {"last_name": "", "company": ""}).content.decode()
    assert (
        'Not saved: correct <a href="#id_last_name">Last Name</a>, <a href="#id_company">Company</a>.'
        in content
    )
    assert (
        '<a class="visually-hidden-focusable btn btn-light position-absolute m-2" href="#main">Skip to the content</a>'
        in content
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("90,000", "90000.00"), ("1,679,000.50", "1679000.50"), ("-1,000", "-1000.00")],
)
def test_an_amount_typed_as_the_pages_show_it_is_read(client, actor, typed, stored):
    from dealflow.leads.models import Lead

    client.force_login(actor)
    response = client.post(
        "/leads/new/", {"last_name": "Ng", "company": "Acme", "annual_revenue": typed}
    )

    assert response.status_code == 302
    assert str(Lead.objects.get(last_name="Ng").annual_revenue) == stored


@pytest.mark.parametrize("typed", ["1,5", "90,00", "9,0000", "$90,000"])
def test_an_amount_with_misplaced_commas_is_refused_and_nothing_saved(client, actor, typed):
    from dealflow.leads.models import Lead

    client.force_login(actor)
    content = client.post(
        "/leads/new/", {"last_name": "Ng", "company": "Acme", "annual_revenue": typed}
    ).content.decode()

    expected = f"Expected a number, got &#x27;{typed}&#x27;; decimals take a point, as in 1.5"
    assert expected in content
    assert not Lead.objects.filter(last_name="Ng").exists()
