"""Admin-only configuration: picklists, statuses, stages, teams, queues, sharing defaults."""

import pytest
from django.db import connection

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent, PicklistValue, SharingDefault
from dealflow.core.services import picklist_value_set, sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.leads.services import lead_status_set
from dealflow.people.models import Queue, Role, Team
from dealflow.people.services import queue_set, team_create, user_create
from dealflow.sales.models import OpportunityStage
from dealflow.sales.services import opportunity_stage_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN)


def test_picklist_values_are_added_at_the_end_and_retired(admin):
    added = picklist_value_set(actor=admin, picklist="lead_source", value=" Webinar ")
    assert (added.value, added.sort_order, added.is_active) == ("Webinar", 8, True)

    picklist_value_set(actor=admin, picklist="lead_source", value="Webinar", is_active=False)

    assert PicklistValue.objects.get(picklist="lead_source", value="Webinar").is_active is False
    assert list(AuditEvent.objects.values_list("object_name", "action")) == [
        ("PicklistValue", "update"),
        ("PicklistValue", "create"),
    ]


def test_a_picklist_value_spelt_like_another_is_refused(admin):
    count = PicklistValue.objects.count()
    with pytest.raises(DomainError) as refused:
        picklist_value_set(actor=admin, picklist="lead_source", value="WEB")
    assert (refused.value.code, refused.value.fields) == (ErrorCode.DUPLICATE_VALUE, ["value"])
    assert "already has 'Web'" in refused.value.message
    assert PicklistValue.objects.count() == count
    # Another picklist may hold the same word.
    assert picklist_value_set(actor=admin, picklist="industry", value="Web").value == "Web"


def test_one_default_lead_status(admin):
    lead_status_set(actor=admin, name="New", is_default=True)
    assert list(LeadStatus.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "New"
    ]

    with pytest.raises(DomainError) as raised:
        lead_status_set(actor=admin, name="Closed - Converted", is_default=True)
    assert raised.value.fields == ["is_default"]
    assert list(LeadStatus.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "New"
    ]


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        ({"probability": 101, "forecast_category": "Pipeline"}, ["probability"]),
        ({"probability": 50, "forecast_category": "Maybe"}, ["forecast_category"]),
        ({"probability": 50, "forecast_category": "Pipeline", "is_won": True}, ["is_won"]),
        (
            {"probability": 50, "forecast_category": "Commit", "is_closed": True},
            ["forecast_category"],
        ),
        ({"probability": 50, "forecast_category": "Closed"}, ["forecast_category"]),
        ({"probability": 50}, ["forecast_category"]),
    ],
)
def test_stage_definitions_must_make_sense(admin, options, fields):
    with pytest.raises(DomainError) as raised:
        opportunity_stage_set(actor=admin, name="Pilot", **options)
    assert raised.value.fields == fields
    assert not OpportunityStage.objects.filter(name="Pilot").exists()


def test_new_stage(admin):
    stage = opportunity_stage_set(
        actor=admin, name="Pilot", probability=65, forecast_category="Best Case"
    )
    assert (stage.sort_order, stage.probability, stage.is_closed) == (11, 65, False)


@pytest.mark.parametrize(
    "change",
    [
        lambda actor: picklist_value_set(actor=actor, picklist="rating", value="Lukewarm"),
        lambda actor: lead_status_set(actor=actor, name="Nurture"),
        lambda actor: opportunity_stage_set(
            actor=actor, name="Pilot", probability=5, forecast_category="Pipeline"
        ),
        lambda actor: team_create(actor=actor, name="North"),
        lambda actor: queue_set(actor=actor, name="Partners"),
        lambda actor: user_create(actor=actor, username="mallory", password="x" * 12),
        lambda actor: sharing_default_set(actor=actor, object_name="Lead", access="private"),
    ],
)
@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_only_admins_change_configuration(change, role):
    counts = (
        PicklistValue.objects.count(),
        LeadStatus.objects.count(),
        OpportunityStage.objects.count(),
        Team.objects.count(),
        Queue.objects.count(),
        SharingDefault.objects.count(),
    )
    with pytest.raises(DomainError) as raised:
        change(UserFactory(role=role))
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert counts == (
        PicklistValue.objects.count(),
        LeadStatus.objects.count(),
        OpportunityStage.objects.count(),
        Team.objects.count(),
        Queue.objects.count(),
        SharingDefault.objects.count(),
    )


def test_queue_members_and_team(admin):
    members = [UserFactory(), UserFactory()]
    queue = queue_set(actor=admin, name="Inbound", email="inbound@dealflow.test", members=members)
    queue_set(actor=admin, name="Inbound", email="inbound@dealflow.test", members=members[:1])
    assert list(queue.members.all()) == members[:1]
    team_create(actor=admin, name="North")
    with pytest.raises(DomainError) as raised:
        team_create(actor=admin, name="north")
    assert raised.value.code == ErrorCode.DUPLICATE_VALUE


def test_sharing_default_change_is_audited(admin):
    sharing_default_set(actor=admin, object_name="Lead", access="private")
    event = AuditEvent.objects.get(object_name="SharingDefault")
    assert (event.actor_id, event.changes) == (admin.pk, {"Lead": ["read_write", "private"]})


@pytest.mark.postgres_only
def test_postgresql_connections_plan_for_data_in_memory(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
