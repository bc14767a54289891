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
