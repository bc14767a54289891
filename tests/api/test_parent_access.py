"""Tasks and contact roles follow the records they belong to ("controlled by parent")."""

import pytest

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityContactRole, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def other():
    return UserFactory(role=Role.REP)


def _ids(response):
    assert response.status_code == 200, response.content
    return sorted(record["id"] for record in response.json()["records"])


def test_a_task_on_a_private_lead_is_as_hidden_as_the_lead(api, actor, other):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    # The task is the rep's own and Task's own default is read/write: the lead decides.
    theirs = TaskFactory(owner=actor, lead=LeadFactory(owner_user=other), subject="Theirs")
    mine = TaskFactory(owner=other, lead=LeadFactory(owner_user=actor), subject="Mine")

    assert _ids(api.get("/tasks")) == [mine.public_id]
    assert api.get(f"/tasks/{theirs.public_id}").status_code == 404
    assert api.patch(f"/tasks/{theirs.public_id}", {"subject": "Taken"}).status_code == 404
    assert api.post(f"/tasks/{theirs.public_id}/complete").status_code == 404
    assert api.delete(f"/tasks/{theirs.public_id}").status_code == 404
    assert Task.objects.get(pk=theirs.pk).subject == "Theirs"
    assert Task.objects.get(pk=theirs.pk).status == "open"
    # The task on the rep's lead is theirs to work, whoever owns the task.
    assert api.patch(f"/tasks/{mine.public_id}", {"subject": "Called"}).status_code == 200


def test_a_task_on_a_read_only_lead_is_visible_but_not_editable(api, actor, other):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    task = TaskFactory(owner=actor, lead=LeadFactory(owner_user=other), subject="Theirs")
    assert api.get(f"/tasks/{task.public_id}").status_code == 200
    response = api.patch(f"/tasks/{task.public_id}", {"subject": "Mine"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert Task.objects.get(pk=task.pk).subject == "Theirs"


@pytest.mark.parametrize("private", ["Contact", "Account", "Opportunity"])
def test_a_task_needs_every_record_it_is_linked_to(api, actor, other, private):
    sharing_default_set(actor=None, object_name=private, access=Access.PRIVATE)
    owners = {
        name: (other if name == private else actor)
        for name in ("Contact", "Account", "Opportunity")
    }
    account = AccountFactory(owner=owners["Account"])
    contact = ContactFactory(owner=owners["Contact"], account=account)
    deal = OpportunityFactory(owner=owners["Opportunity"], account=account)
    task = TaskFactory(owner=actor, lead=None, contact=contact, account=account, opportunity=deal)
    assert _ids(api.get("/tasks")) == []
    assert api.get(f"/tasks/{task.public_id}").status_code == 404


def test_the_tasks_own_sharing_default_decides_nothing(api, actor, other):
    sharing_default_set(actor=None, object_name="Task", access=Access.PRIVATE)
    task = TaskFactory(owner=other, lead=LeadFactory(owner_user=other))
    assert _ids(api.get("/tasks")) == [task.public_id]


def test_a_contact_role_follows_its_opportunity(api, actor, other):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    hidden = OpportunityContactRole.objects.create(
        opportunity=OpportunityFactory(owner=other), contact=ContactFactory(owner=actor)
    )
    shown = OpportunityContactRole.objects.create(
        opportunity=OpportunityFactory(owner=actor), contact=ContactFactory(owner=other)
    )
    assert _ids(api.get("/contact-roles")) == [shown.public_id]
    assert api.get(f"/contact-roles/{hidden.public_id}").status_code == 404
    assert (
        api.patch(f"/contact-roles/{hidden.public_id}", {"role": "Influencer"}).status_code == 404
    )
    assert OpportunityContactRole.objects.get(pk=hidden.pk).role == ""


def test_a_manager_sees_the_tasks_of_the_teams_leads(api_as):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    team = TeamFactory()
    other = UserFactory(role=Role.REP, team=team)
    manager = UserFactory(role=Role.MANAGER, team=team)
    outsider = UserFactory(role=Role.REP)
    task = TaskFactory(owner=outsider, lead=LeadFactory(owner_user=other))
    assert _ids(api_as(manager).get("/tasks")) == [task.public_id]
    assert _ids(api_as(outsider).get("/tasks")) == []
