"""The access matrix through the API: who may read, list, change, delete and convert what."""

import pytest
from django.test import override_settings

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.people.services import token_revoke
from dealflow.sales.models import Opportunity, OpportunityContactRole, Task
from tests.api.conftest import ApiClient
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHARED_OBJECTS = ("Lead", "Account", "Contact", "Opportunity", "Task")


def make_lead(owner):
    return LeadFactory(owner_user=owner)


def make_account(owner):
    return AccountFactory(owner=owner)


def make_contact(owner):
    return ContactFactory(owner=owner, account=AccountFactory(owner=owner))


def make_opportunity(owner):
    return OpportunityFactory(owner=owner, account=AccountFactory(owner=owner))


def make_task(owner):
    return TaskFactory(owner=owner, lead=LeadFactory(owner_user=owner))


def make_contact_role(owner):
    opportunity = make_opportunity(owner)
    contact = ContactFactory(owner=owner, account=opportunity.account)
    return OpportunityContactRole.objects.create(opportunity=opportunity, contact=contact)


# object, path, factory, a change the API accepts
OBJECTS = [
    ("Lead", "/leads", make_lead, {"title": "Changed"}),
    ("Account", "/accounts", make_account, {"website": "changed.test"}),
    ("Contact", "/contacts", make_contact, {"title": "Changed"}),
    ("Opportunity", "/opportunities", make_opportunity, {"next_step": "Changed"}),
    ("Task", "/tasks", make_task, {"subject": "Changed"}),
    ("OpportunityContactRole", "/contact-roles", make_contact_role, {"role": "Evaluator"}),
]


@pytest.fixture
def people():
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    return {
        "owner": UserFactory(role=Role.REP, team=east),
        "other_rep": UserFactory(role=Role.REP, team=west),
        "team_mate": UserFactory(role=Role.REP, team=east),
        "manager": UserFactory(role=Role.MANAGER, team=east),
        "other_manager": UserFactory(role=Role.MANAGER, team=west),
        "admin": UserFactory(role=Role.ADMIN),
    }


def set_everything(access):
    for object_name in SHARED_OBJECTS:
        sharing_default_set(actor=None, object_name=object_name, access=access)


def state(model):
    return list(model.objects.order_by("pk").values())


def ids_in_list(client, path):
    response = client.get(path, limit=200)
    assert response.status_code == 200, response.content
    return {record["id"] for record in response.json()["records"]}


@pytest.mark.parametrize(("object_name", "path", "factory", "change"), OBJECTS)
@pytest.mark.parametrize("outsider", ["other_rep", "team_mate", "other_manager"])
def test_private_records_are_invisible_and_untouchable_for_others(
    people, object_name, path, factory, change, outsider
):
    set_everything(Access.PRIVATE)
    record = factory(people["owner"])
    model = type(record)
    client = ApiClient(people[outsider])
    before = state(model)
    url = f"{path}/{record.public_id}"

    assert client.get(url).status_code == 404
    assert record.public_id not in ids_in_list(client, path)
    patched = client.patch(url, change)
    assert (patched.status_code, patched.json()["errors"][0]["code"]) == (404, "NOT_FOUND")
    assert client.delete(url).status_code == 404
    assert state(model) == before


@pytest.mark.parametrize(("object_name", "path", "factory", "change"), OBJECTS)
@pytest.mark.parametrize("insider", ["owner", "manager", "admin"])
def test_owner_team_manager_and_admin_may_read_change_and_delete(
    people, object_name, path, factory, change, insider
):
    set_everything(Access.PRIVATE)
    record = factory(people["owner"])
    client = ApiClient(people[insider])
    url = f"{path}/{record.public_id}"

    assert client.get(url).status_code == 200
    assert record.public_id in ids_in_list(client, path)
    patched = client.patch(url, change)
    assert patched.status_code == 200, patched.content
    field, value = next(iter(change.items()))
    assert patched.json()[field] == value
    assert client.delete(url).status_code == 204
    assert not type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize(("object_name", "path", "factory", "change"), OBJECTS)
def test_public_read_only_records_are_visible_but_not_changeable(
    people, object_name, path, factory, change
):
    set_everything(Access.READ)
    record = factory(people["owner"])
    model = type(record)
    client = ApiClient(people["other_rep"])
    before = state(model)
    url = f"{path}/{record.public_id}"

    assert client.get(url).status_code == 200
    assert record.public_id in ids_in_list(client, path)
    patched = client.patch(url, change)
    assert (patched.status_code, patched.json()["errors"][0]["code"]) == (
        403,
        "INSUFFICIENT_ACCESS_OR_READONLY",
    )
    assert client.delete(url).status_code == 403
    assert state(model) == before


@pytest.mark.parametrize(("object_name", "path", "factory", "change"), OBJECTS)
def test_public_read_write_is_the_default(people, object_name, path, factory, change):
    record = factory(people["owner"])
    client = ApiClient(people["other_rep"])

    patched = client.patch(f"{path}/{record.public_id}", change)

    assert patched.status_code == 200, patched.content
    field, value = next(iter(change.items()))
    assert getattr(type(record).objects.get(pk=record.pk), field) == value


@pytest.mark.parametrize(
    ("actor", "status"),
    [("other_rep", 404), ("team_mate", 404), ("manager", 200), ("admin", 200), ("owner", 200)],
)
def test_convert_obeys_access(people, actor, status):
    set_everything(Access.PRIVATE)
    lead = LeadFactory(owner_user=people["owner"])
    client = ApiClient(people[actor])

    response = client.post(f"/leads/{lead.public_id}/convert", {})

    assert response.status_code == status, response.content
    lead.refresh_from_db()
    assert lead.is_converted is (status == 200)
    assert Opportunity.objects.count() == (1 if status == 200 else 0)


def test_convert_into_an_account_the_actor_cannot_see_is_refused(people):
    set_everything(Access.PRIVATE)
    lead = LeadFactory(owner_user=people["other_rep"])
    hidden_account = AccountFactory(owner=people["owner"])
    client = ApiClient(people["other_rep"])

    response = client.post(
        f"/leads/{lead.public_id}/convert", {"account_id": hidden_account.public_id}
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["fields"] == ["account_id"]
    lead.refresh_from_db()
    assert lead.is_converted is False


def test_references_to_invisible_records_are_refused(people):
    set_everything(Access.PRIVATE)
    hidden_account = AccountFactory(owner=people["owner"])
    client = ApiClient(people["other_rep"])

    response = client.post(
        "/contacts", {"last_name": "Sneaky", "account_id": hidden_account.public_id}
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["fields"] == ["account_id"]


def test_queue_members_work_the_queues_leads(people):
    set_everything(Access.PRIVATE)
    queue = QueueFactory()
    queue.members.add(people["other_rep"])
    lead = LeadFactory(owner_user=None, owner_queue=queue)

    member = ApiClient(people["other_rep"])
    outsider = ApiClient(people["team_mate"])

    assert member.get(f"/leads/{lead.public_id}").status_code == 200
    assert member.patch(f"/leads/{lead.public_id}", {"title": "Mine now"}).status_code == 200
    assert outsider.get(f"/leads/{lead.public_id}").status_code == 404
    assert Lead.objects.get().title == "Mine now"


def test_a_task_on_someone_elses_lead_is_refused_when_the_lead_is_hidden(people):
    set_everything(Access.PRIVATE)
    lead = LeadFactory(owner_user=people["owner"])
    client = ApiClient(people["other_rep"])

    response = client.post("/tasks", {"subject": "Peek", "who_id": lead.public_id})

    assert response.status_code == 404
    assert Task.objects.count() == 0


# ---------------------------------------------------------------------------------------
# Tokens


def test_no_token_or_a_bad_token_is_401(people):
    LeadFactory(owner_user=people["owner"])
    for client in (ApiClient(), ApiClient(token="dft_not-a-real-token")):
        response = client.get("/leads")
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "INVALID_SESSION_ID"


def test_a_revoked_token_is_401(people):
    client = ApiClient(people["owner"])
    assert client.get("/leads").status_code == 200
    token_revoke(actor=None, api_token=people["owner"].api_tokens.get())
    assert client.get("/leads").status_code == 401


def test_an_inactive_users_token_is_401(people):
    client = ApiClient(people["owner"])
    people["owner"].is_active = False
    people["owner"].save()
    assert client.get("/leads").status_code == 401


@override_settings(DEBUG=False)
def test_the_token_never_appears_in_responses_or_logs(people, caplog):
    client = ApiClient(people["owner"])
    caplog.set_level("DEBUG")
    responses = [
        client.get("/leads"),
        client.post("/leads", {"last_name": "X", "company": "Y"}),
        client.get("/users"),
        ApiClient(token=client.token + "x").get("/leads"),
    ]
    for response in responses:
        assert client.token not in response.content.decode()
        assert client.token not in str(response.headers)
    assert client.token not in caplog.text


def test_last_use_is_noted_at_most_every_five_minutes(people):
    import datetime

    from django.utils import timezone

    client = ApiClient(people["owner"])
    token = people["owner"].api_tokens.get()
    assert token.last_used_at is None

    client.get("/users")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    client.get("/users")
    token.refresh_from_db()
    assert token.last_used_at == first_use

    old = timezone.now() - datetime.timedelta(minutes=6)
    type(token).objects.filter(pk=token.pk).update(last_used_at=old)
    client.get("/users")
    token.refresh_from_db()
    assert token.last_used_at > old + datetime.timedelta(minutes=5)
