"""Configuration changes show on the very next request of every process (core/cache.py).

Each process caches sharing defaults, statuses, stages and picklist values. Another
process's change reaches this one only through the database: the changed rows and a new
configuration version. The tests below make exactly those changes directly in the
database, so nothing tells this process's caches, and look at the next request.
"""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from dealflow.core.access import sharing_default
from dealflow.core.errors import DomainError
from dealflow.core.models import Access, ConfigurationVersion, PicklistValue, SharingDefault
from dealflow.core.services import picklist_value_set, sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.leads.services import lead_status_set
from dealflow.people.models import Role, User
from dealflow.sales.models import OpportunityStage
from dealflow.sales.services import opportunity_stage_set
from tests.api.conftest import ApiClient
from tests.factories import (
    AccountFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def version() -> int | None:
    return ConfigurationVersion.objects.values_list("version", flat=True).first()


def committed_elsewhere() -> None:
    """What another process's configuration service commits along with its change."""
    ConfigurationVersion.objects.filter(pk=1).update(version=F("version") + 1)


def set_sharing(object_name: str, access: str) -> None:
    """Change a sharing default in the database only, as another process would."""
    SharingDefault.objects.update_or_create(object_name=object_name, defaults={"access": access})


def version_reads(queries) -> int:
    return sum("core_configurationversion" in query["sql"] for query in queries)


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN)


def test_a_sharing_change_made_elsewhere_shows_on_the_next_request(actor):
    account = AccountFactory(owner=UserFactory())
    api = ApiClient(actor)
    path = f"/accounts/{account.public_id}"
    assert api.get(path).status_code == 200

    set_sharing("Account", Access.PRIVATE)
    # Without a new version the cache stands: no timer, and no query to check it.
    assert api.get(path).status_code == 200
    committed_elsewhere()
    assert api.get(path).status_code == 404

    set_sharing("Account", Access.READ_WRITE)
    committed_elsewhere()
    assert api.get(path).status_code == 200


def test_statuses_stages_and_picklist_values_changed_elsewhere_show_on_the_next_request(actor):
    lead = LeadFactory(owner_user=actor, lead_source="Webinar")
    opportunity = OpportunityFactory(owner=actor)
    api = ApiClient(actor)
    assert api.get(f"/leads/{lead.public_id}").json()["status"] == "Open - Not Contacted"
    stage = api.get(f"/opportunities/{opportunity.public_id}").json()["stage_name"]
    assert api.get("/leads", lead_source="webinar").json()["records"] == []  # no such value

    LeadStatus.objects.filter(pk=lead.status_id).update(name="New")
    OpportunityStage.objects.filter(pk=opportunity.stage_id).update(name="Discovery")
    PicklistValue.objects.create(picklist="lead_source", value="Webinar", sort_order=99)
    committed_elsewhere()

    assert api.get(f"/leads/{lead.public_id}").json()["status"] == "New"
    assert stage != "Discovery"
    assert api.get(f"/opportunities/{opportunity.public_id}").json()["stage_name"] == "Discovery"
    found = api.get("/leads", lead_source="webinar").json()["records"]
    assert [record["id"] for record in found] == [lead.public_id]


def test_the_version_comes_with_the_token_and_a_change_reloads_each_cache_once(actor):
    lead = LeadFactory(owner_user=actor)
    api = ApiClient(actor)
    path = f"/leads/{lead.public_id}"
    api.get(path)  # loads the statuses

    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as context:
            assert api.get(path).status_code == 200
        return [query["sql"] for query in context.captured_queries]

    unchanged = statements()
    assert len(unchanged) == 2  # the token (with the version), the lead
    assert "core_configurationversion" in unchanged[0]
    committed_elsewhere()
    changed = statements()
    assert len(changed) == 4  # and the sharing defaults and the statuses, reloaded
    assert sum("core_sharingdefault" in sql for sql in changed) == 1
    assert sum('FROM "leads_leadstatus"' in sql for sql in changed) == 1
    assert len(statements()) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda admin: sharing_default_set(actor=admin, object_name="Lead", access="private"),
        lambda admin: picklist_value_set(actor=admin, picklist="industry", value="Robotics"),
        lambda admin: lead_status_set(actor=admin, name="Nurturing"),
        lambda admin: opportunity_stage_set(
            actor=admin, name="Discovery", probability=5, forecast_category="Pipeline"
        ),
    ],
    ids=["sharing default", "picklist value", "lead status", "opportunity stage"],
)
def test_every_configuration_service_replaces_the_version(admin, change):
    before = version()
    change(admin)
    assert version() not in (before, None)


def test_a_refused_change_keeps_the_version(admin):
    before = version()
    with pytest.raises(DomainError):
        lead_status_set(actor=admin, name="Closed - Converted", is_default=True)
    assert version() == before


def test_a_change_shows_at_once_in_its_own_process_and_a_rolled_back_one_never(admin):
    assert sharing_default("Account") == Access.READ_WRITE
    with pytest.raises(RuntimeError), transaction.atomic():
        sharing_default_set(actor=admin, object_name="Account", access="private")
        assert sharing_default("Account") == Access.PRIVATE
        raise RuntimeError("rolled back")
    assert sharing_default("Account") == Access.READ_WRITE

    sharing_default_set(actor=admin, object_name="Account", access="read")
    assert sharing_default("Account") == Access.READ


def test_roles_teams_and_queue_members_are_read_on_every_request():
    set_sharing("Account", Access.PRIVATE)
    set_sharing("Lead", Access.PRIVATE)
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    account = AccountFactory(owner=UserFactory(team=west))
    queue = QueueFactory()
    lead = LeadFactory(owner_user=None, owner_queue=queue)
    user = UserFactory(role=Role.REP, team=east)
    api = ApiClient(user)
    account_path, lead_path = f"/accounts/{account.public_id}", f"/leads/{lead.public_id}"
    assert (api.get(account_path).status_code, api.get(lead_path).status_code) == (404, 404)

    # Each change is made in the database only: no service, no version, no cache told.
    User.objects.filter(pk=user.pk).update(role=Role.ADMIN)
    assert api.get(account_path).status_code == 200
    User.objects.filter(pk=user.pk).update(role=Role.MANAGER)
    assert api.get(account_path).status_code == 404  # a manager of another team
    User.objects.filter(pk=user.pk).update(team=west)
    assert api.get(account_path).status_code == 200

    queue.members.add(user)
    assert api.get(lead_path).status_code == 200
    queue.members.remove(user)
    assert api.get(lead_path).status_code == 404


def test_a_back_office_page_reads_the_version_once_and_sees_a_change_made_elsewhere(client):
    manager = UserFactory(role=Role.MANAGER, team=TeamFactory(), is_staff=True)
    LeadFactory(owner_user=UserFactory(), last_name="Otherlead")
    client.force_login(manager)
    url = "/admin/leads/lead/"
    assert b"Otherlead" in client.get(url).content

    set_sharing("Lead", Access.PRIVATE)
    committed_elsewhere()
    with CaptureQueriesContext(connection) as context:
        page = client.get(url)
    assert page.status_code == 200
    assert b"Otherlead" not in page.content
    assert version_reads(context.captured_queries) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_requests_the_version_is_read_once_per_transaction():
    def reads(work) -> int:
        with CaptureQueriesContext(connection) as context:
            work()
        return version_reads(context.captured_queries)

    def in_one_transaction():
        with transaction.atomic():
            assert {sharing_default("Lead") for _ in range(3)} == {Access.READ_WRITE}

    assert reads(lambda: [sharing_default("Lead") for _ in range(3)]) == 3  # autocommit
    assert reads(in_one_transaction) == 1

    set_sharing("Lead", Access.PRIVATE)
    committed_elsewhere()
    assert sharing_default("Lead") == Access.PRIVATE


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sharing_change_committed_by_another_connection_shows_on_the_next_request():
    """The change runs through the service on a connection (thread) of its own; this
    thread's next request must see it although its process-wide cache was never told."""
    actor = UserFactory()
    account = AccountFactory(owner=UserFactory())
    api = ApiClient(actor)
    path = f"/accounts/{account.public_id}"
    assert api.get(path).status_code == 200

    errors = []

    def other_connection():
        try:
            sharing_default_set(actor=None, object_name="Account", access="private")
        except Exception as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=other_connection)
    worker.start()
    worker.join(timeout=30)

    assert errors == []
    assert api.get(path).status_code == 404
