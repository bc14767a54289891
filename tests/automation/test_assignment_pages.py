"""Assignment rules on the pages: the new-lead form leaves the owner to the rules, and the
lead page shows the decision."""

import pytest

from dealflow.automation.services import assignment_rules_set
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.factories import UserFactory
from tests.web.helpers import XSS, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(client):
    user = UserFactory(first_name="Robin", last_name="Rep")
    client.force_login(user)
    return user


def deal_to(users):
    assignment_rules_set(
        actor=UserFactory(role=Role.ADMIN),
        rules={
            "default_owner_id": None,
            "entries": [
                {
                    "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
                    "match": "all",
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [user.public_id for user in users],
                        "capacity": None,
                    },
                }
            ],
        },
    )


def test_with_rules_the_new_lead_form_leaves_the_owner_to_them(client, rep):
    dealer = UserFactory(first_name="Dana", last_name="Dealer")
    deal_to([dealer])

    form = client.get("/leads/new/")
    response = client.post(
        "/leads/new/",
        {"last_name": "Hopper", "company": "Navy", "lead_source": "Web", "owner_id": ""},
        follow=True,
    )

    assert f'<option value="{rep.public_id}" selected>' not in text(form)
    lead = Lead.objects.get()
    assert lead.owner_user == dealer
    page = text(response)
    assert '<h2 class="card-title" id="assignment-title">Assignment</h2>' in page
    assert "Assignment rule entry 1" in page
    assert (
        f"entry 1 matched (lead_source equals &#x27;Web&#x27;): Dana Dealer ({dealer.public_id}), "
        "round-robin: user 1 of 1 in its pool"
    ) in page


def test_without_a_decision_the_lead_page_has_no_assignment_panel(client, rep):
    response = client.post(
        "/leads/new/",
        {"last_name": "Hopper", "company": "Navy", "owner_id": rep.public_id},
        follow=True,
    )

    assert response.status_code == 200
    assert "assignment-title" not in text(response)


def test_the_decision_shown_on_the_page_is_escaped(client, rep):
    deal_to([UserFactory(first_name=XSS, last_name="")])

    response = client.post(
        "/leads/new/", {"last_name": "Hopper", "company": "Navy", "lead_source": "Web"}, follow=True
    )

    assert XSS not in text(response)
    assert "&lt;script&gt;" in text(response)
