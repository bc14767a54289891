"""An open lead is neither converted nor in a closed status (the lists' is_closed filter)."""

import pytest

from dealflow.core.errors import DomainError
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.selectors import lead_page
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _last_names(page):
    position = [field.attname for field in Lead._meta.concrete_fields].index("last_name")
    return sorted(row[position] for row in page.records)


@pytest.fixture
def leads(actor):
    closed = LeadStatus.objects.get(is_closed=True, is_converted=False)
    LeadFactory(owner_user=actor, last_name="Open")
    LeadFactory(owner_user=actor, last_name="Closed", status=closed)


def test_is_closed_filters_by_the_status_flag(actor, leads):
    assert _last_names(lead_page(actor=actor, filters={"is_closed": False})) == ["Open"]
    assert _last_names(lead_page(actor=actor, filters={"is_closed": "true"})) == ["Closed"]


def test_is_closed_refuses_other_values(actor, leads):
    with pytest.raises(DomainError) as refused:
        lead_page(actor=actor, filters={"is_closed": "maybe"})
    assert (refused.value.code, refused.value.fields) == ("INVALID_FIELD", ["is_closed"])


def test_my_open_leads_leave_out_closed_ones(client, actor, leads):
    client.force_login(actor)
    content = client.get("/leads/").content.decode()
    assert "Robin Closed" not in content
    assert "Robin Open" in content


def test_the_api_filters_on_is_closed(client, actor, leads):
    from dealflow.people.services import token_create

    _token, secret = token_create(actor=None, user=actor, name="test")
    response = client.get(
        "/api/v1/leads", {"is_closed": "true"}, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert [lead["last_name"] for lead in response.json()["records"]] == ["Closed"]
