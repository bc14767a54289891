"""opportunity_stage_set: adding, changing and renaming stages; what a stage may be; the audit."""

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityStage
from dealflow.sales.services import opportunity_create, opportunity_stage_set
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = (
    "name",
    "sort_order",
    "probability",
    "forecast_category",
    "is_closed",
    "is_won",
    "is_active",
)


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN)


def settings_of(name):
    return OpportunityStage.objects.values_list(*SETTINGS).get(name=name)


def all_stages():
    return list(OpportunityStage.objects.order_by("pk").values_list(*SETTINGS))


def stage_events():
    return list(
        AuditEvent.objects.filter(object_name="OpportunityStage")
        .order_by("id")
        .values_list("actor_id", "record_id", "action", "changes")
    )


def refused(call, code, message, fields):
    before = all_stages()
    with pytest.raises(DomainError) as raised:
        call()
    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        code,
        message,
        fields,
    )
    assert all_stages() == before
    assert stage_events() == []


def test_a_new_stage_goes_last_is_audited_and_usable_at_once(admin):
    count = OpportunityStage.objects.count()

    stage = opportunity_stage_set(
        actor=admin, name=" Pilot  ", probability=65, forecast_category="Best Case"
    )

    assert settings_of("Pilot") == ("Pilot", count + 1, 65, "Best Case", False, False, True)
    assert stage_events() == [
        (
            admin.pk,
            stage.pk,
            "create",
            {"probability": [None, 65], "forecast_category": ["", "Best Case"]},
        )
    ]
    # The cache of stages is dropped: a deal may start in the new stage straight away.
    deal = opportunity_create(
        actor=admin, data={"name": "Trial", "close_date": "2026-12-15", "stage": "Pilot"}
    )
    assert (deal.stage_id, deal.probability, deal.forecast_category) == (stage.pk, 65, "Best Case")


def test_each_setting_of_an_existing_stage_is_changed_by_name(admin):
    pk = OpportunityStage.objects.get(name="Negotiation/Review").pk

    opportunity_stage_set(
        actor=admin,
        name="Negotiation/Review",
        sort_order=30,
        probability=95,
        forecast_category="Commit",
        is_active=False,
    )

    assert settings_of("Negotiation/Review") == (
        "Negotiation/Review",
        30,
        95,
        "Commit",
        False,
        False,
        False,
    )
    assert stage_events() == [
        (
            admin.pk,
            pk,
            "update",
            {
                "sort_order": [8, 30],
                "probability": [90, 95],
                "forecast_category": ["Pipeline", "Commit"],
                "is_active": [True, False],
            },
        )
    ]


def test_an_open_stage_may_become_a_closed_won_one(admin):
    opportunity_stage_set(
        actor=admin,
        name="Negotiation/Review",
        probability=100,
        forecast_category="Closed",
        is_closed=True,
        is_won=True,
    )
    assert settings_of("Negotiation/Review")[2:6] == (100, "Closed", True, True)


def test_settings_not_given_are_kept(admin):
    before = settings_of("Prospecting")

    opportunity_stage_set(actor=admin, name="Prospecting")

    assert settings_of("Prospecting") == before


def test_a_stage_given_as_a_row_is_renamed(admin):
    row = OpportunityStage.objects.get(name="Prospecting")
    count = OpportunityStage.objects.count()

    renamed = opportunity_stage_set(actor=admin, name="Discovery", stage=row)

    assert renamed.pk == row.pk
    assert OpportunityStage.objects.get(pk=row.pk).name == "Discovery"
    assert OpportunityStage.objects.count() == count
    assert stage_events() == [(admin.pk, row.pk, "update", {"name": ["Prospecting", "Discovery"]})]


@pytest.mark.parametrize("probability", [0, 100])
def test_probability_may_be_0_or_100(admin, probability):
    stage = opportunity_stage_set(
        actor=admin, name="Edge", probability=probability, forecast_category="Pipeline"
    )
    assert stage.probability == probability


@pytest.mark.parametrize("probability", [-1, 101])
def test_probability_outside_0_to_100_is_refused(admin, probability):
    refused(
        lambda: opportunity_stage_set(
            actor=admin, name="Edge", probability=probability, forecast_category="Pipeline"
        ),
        ErrorCode.INVALID_TYPE,
        "probability: 0 to 100",
        ["probability"],
    )


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        ({}, ["probability", "forecast_category"]),
        ({"probability": 50}, ["forecast_category"]),
        ({"forecast_category": "Pipeline"}, ["probability"]),
    ],
)
def test_a_new_stage_needs_probability_and_forecast_category(admin, options, fields):
    refused(
        lambda: opportunity_stage_set(actor=admin, name="Pilot", **options),
        ErrorCode.REQUIRED_FIELD_MISSING,
        "a new stage needs a probability (0 to 100) and a forecast category",
        fields,
    )


def test_an_existing_stage_needs_neither(admin):
    opportunity_stage_set(actor=admin, name="Prospecting", sort_order=20)
    assert settings_of("Prospecting")[1:3] == (20, 10)


@pytest.mark.parametrize(
    ("options", "code", "message", "fields"),
    [
        (
            {"probability": 50, "forecast_category": "Maybe"},
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            "forecast_category: one of Pipeline, Best Case, Commit, Closed, Omitted",
            ["forecast_category"],
        ),
        (
            {"probability": 50, "forecast_category": "Pipeline", "is_won": True},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "is_won: a won stage is also closed",
            ["is_won"],
        ),
        (
            {"probability": 100, "forecast_category": "Omitted", "is_closed": True, "is_won": True},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "forecast_category: a won stage forecasts Closed",
            ["forecast_category"],
        ),
        (
            {"probability": 0, "forecast_category": "Closed", "is_closed": True},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "forecast_category: a lost stage forecasts Omitted",
            ["forecast_category"],
        ),
        (
            {"probability": 50, "forecast_category": "Closed"},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "forecast_category: an open stage forecasts Pipeline, Best Case or Commit",
            ["forecast_category"],
        ),
        (
            {"probability": 50, "forecast_category": "Omitted"},
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "forecast_category: an open stage forecasts Pipeline, Best Case or Commit",
            ["forecast_category"],
        ),
    ],
)
def test_a_stage_must_make_sense(admin, options, code, message, fields):
    refused(
        lambda: opportunity_stage_set(actor=admin, name="Pilot", **options),
        code,
        message,
        fields,
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"probability": 100, "forecast_category": "Closed", "is_closed": True, "is_won": True},
            (100, "Closed", True, True),
        ),
        (
            {"probability": 0, "forecast_category": "Omitted", "is_closed": True},
            (0, "Omitted", True, False),
        ),
        ({"probability": 40, "forecast_category": "Commit"}, (40, "Commit", False, False)),
    ],
)
def test_sensible_closed_and_open_stages_are_accepted(admin, options, expected):
    opportunity_stage_set(actor=admin, name="Pilot", **options)
    assert settings_of("Pilot")[2:6] == expected


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_only_admins_change_stages(role):
    refused(
        lambda: opportunity_stage_set(
            actor=UserFactory(role=role), name="Pilot", probability=5, forecast_category="Pipeline"
        ),
        ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY,
        "only admins change opportunity stages",
        [],
    )
