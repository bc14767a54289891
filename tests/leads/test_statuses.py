"""lead_status_set: adding, changing and renaming lead statuses; one default; the audit."""

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import LeadStatus
from dealflow.leads.services import default_lead_status, lead_create, lead_status_set
from dealflow.people.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = ("name", "sort_order", "is_default", "is_converted", "is_closed", "is_active")


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN)


def settings_of(name):
    return LeadStatus.objects.values_list(*SETTINGS).get(name=name)


def status_events():
    return list(
        AuditEvent.objects.filter(object_name="LeadStatus")
        .order_by("id")
        .values_list("actor_id", "record_id", "action", "changes")
    )


def test_a_new_status_goes_last_with_the_flags_given_and_is_audited(admin):
    count = LeadStatus.objects.count()

    status = lead_status_set(actor=admin, name="  Nurture ", is_closed=True)

    assert settings_of("Nurture") == ("Nurture", count + 1, False, False, True, True)
    assert status.pk == LeadStatus.objects.get(name="Nurture").pk
    assert status_events() == [
        (
            admin.pk,
            status.pk,
            "create",
            {"is_closed": [False, True]},  # name and place are set before the snapshot
        )
    ]


def test_each_setting_of_an_existing_status_is_changed_by_name(admin):
    before = settings_of("Qualified")
    pk = LeadStatus.objects.get(name="Qualified").pk

    lead_status_set(
        actor=admin,
        name="Qualified",
        sort_order=42,
        is_converted=True,
        is_closed=True,
        is_active=False,
    )

    assert settings_of("Qualified") == ("Qualified", 42, False, True, True, False)
    assert status_events() == [
        (
            admin.pk,
            pk,
            "update",
            {
                "sort_order": [before[1], 42],
                "is_converted": [before[3], True],
                "is_closed": [before[4], True],
                "is_active": [True, False],
            },
        )
    ]


def test_settings_not_given_are_kept(admin):
    before = settings_of("Qualified")

    lead_status_set(actor=admin, name="Qualified")

    assert settings_of("Qualified") == before
    assert status_events() == [
        (admin.pk, LeadStatus.objects.get(name="Qualified").pk, "update", {})
    ]


def test_a_status_given_as_a_row_is_renamed(admin):
    row = LeadStatus.objects.get(name="Qualified")
    count = LeadStatus.objects.count()

    renamed = lead_status_set(actor=admin, name="Sales Qualified", status=row)

    assert renamed.pk == row.pk
    assert LeadStatus.objects.get(pk=row.pk).name == "Sales Qualified"
    assert LeadStatus.objects.count() == count
    assert status_events() == [
        (admin.pk, row.pk, "update", {"name": ["Qualified", "Sales Qualified"]})
    ]


def test_a_rename_to_a_taken_name_is_refused(admin):
    row = LeadStatus.objects.get(name="Qualified")

    with pytest.raises(DomainError) as raised:
        lead_status_set(actor=admin, name="Working - Contacted", status=row)

    assert raised.value.code == ErrorCode.DUPLICATE_VALUE
    assert LeadStatus.objects.get(pk=row.pk).name == "Qualified"


def test_a_new_default_replaces_the_old_one_at_once(admin):
    old_default = default_lead_status()

    lead_status_set(actor=admin, name="Qualified", is_default=True)

    assert list(LeadStatus.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Qualified"
    ]
    assert LeadStatus.objects.get(pk=old_default.pk).is_default is False
    # The cache is dropped: the next lead gets the new default without waiting.
    lead = lead_create(actor=admin, data={"last_name": "Hopper", "company": "Navy Labs"})
    assert lead.status.name == "Qualified"


def test_the_default_stays_the_default_when_changed_again(admin):
    default = default_lead_status()

    lead_status_set(actor=admin, name=default.name, is_default=True, sort_order=7)

    assert LeadStatus.objects.get(pk=default.pk).is_default is True
    assert LeadStatus.objects.filter(is_default=True).count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Closed - Converted", "is_default": True},
        {"name": "Qualified", "is_default": True, "is_converted": True},
        {"name": "Qualified", "is_default": True, "is_active": False},
        {"name": "Brand new", "is_default": True, "is_active": False},
    ],
)
def test_the_default_must_be_active_and_not_converted(admin, change):
    before = list(LeadStatus.objects.values_list(*SETTINGS))

    with pytest.raises(DomainError) as raised:
        lead_status_set(actor=admin, **change)

    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        ErrorCode.FIELD_INTEGRITY_EXCEPTION,
        "is_default: the default status must be active and not converted",
        ["is_default"],
    )
    assert list(LeadStatus.objects.values_list(*SETTINGS)) == before
    assert status_events() == []


def test_the_default_may_be_closed(admin):
    lead_status_set(actor=admin, name="Parked", is_default=True, is_closed=True)
    assert default_lead_status().name == "Parked"


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_only_admins_change_statuses(role):
    before = list(LeadStatus.objects.values_list(*SETTINGS))

    with pytest.raises(DomainError) as raised:
        lead_status_set(actor=UserFactory(role=role), name="Qualified", is_active=False)

    assert (raised.value.code, raised.value.message) == (
        ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
        "only admins change lead statuses",
    )
    assert list(LeadStatus.objects.values_list(*SETTINGS)) == before


def test_the_system_changes_statuses_without_an_actor_in_the_audit():
    status = lead_status_set(actor=None, name="Nurture")
    assert [event[:3] for event in status_events()] == [(None, status.pk, "create")]
