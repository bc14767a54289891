"""Qualification gates (DOMAIN.md section 6) through the services: checklists, settings,
the gate lead_convert asks on every channel, overrides and their audit."""

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import (
    Lead,
    LeadQualificationAnswer,
    QualificationItem,
    QualificationOverride,
)
from dealflow.leads.qualification import (
    lead_qualification_get,
    lead_qualification_set,
    qualification_configuration,
    qualification_item_set,
    qualification_settings_set,
)
from dealflow.leads.services import lead_convert
from dealflow.people.models import Role
from dealflow.sales.models import Opportunity
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

BANT_ALL_MET = {key: {"met": True} for key in ("budget", "authority", "need", "timeline")}


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN)


@pytest.fixture
def manager():
    return UserFactory(role=Role.MANAGER)


@pytest.fixture
def lead(actor):
    return LeadFactory(owner_user=actor)


def require(admin, framework="BANT", minimum=None):
    qualification_settings_set(actor=admin, required_framework=framework, minimum_items=minimum)


def database_state():
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
        list(Lead.objects.values_list("pk", "is_converted", "status_id", "updated_at")),
        QualificationOverride.objects.count(),
    )


# ---------------------------------------------------------------------------------------
# Seeded frameworks and checklists


def test_the_three_frameworks_are_seeded_in_order():
    configuration = qualification_configuration.get()
    assert [framework.name for framework in configuration.frameworks] == ["BANT", "CHAMP", "MEDDIC"]
    assert [item.label for item in configuration.framework("MEDDIC").items] == [
        "Metrics",
        "Economic buyer",
        "Decision criteria",
        "Decision process",
        "Identify pain",
        "Champion",
    ]
    assert configuration.required_framework is None


def test_a_new_lead_has_nothing_met(lead):
    result = lead_qualification_get(lead=lead, framework="CHAMP")
    assert [(item.key, item.met, item.set_by) for item in result.items] == [
        ("challenges", False, None),
        ("authority", False, None),
        ("money", False, None),
        ("prioritization", False, None),
    ]
    assert (result.met, result.needed, result.satisfied) == (0, 4, False)


def test_setting_items_records_who_and_when_and_audits_on_the_lead(actor, lead):
    result = lead_qualification_set(
        actor=actor,
        lead=lead,
        framework="BANT",
        items={"budget": {"met": True, "note": "  50k approved  "}, "need": {"note": "Churn"}},
    )

    budget, authority, need, _timeline = result.items
    assert (budget.met, budget.note, budget.set_by) == (True, "50k approved", actor)
    assert budget.set_at is not None
    assert (need.met, need.note, need.set_by) == (False, "Churn", actor)
    assert authority.set_by is None  # not named: untouched, no row
    assert LeadQualificationAnswer.objects.filter(lead=lead).count() == 2
    event = AuditEvent.objects.get(object_name="Lead", record_id=lead.pk, action="update")
    assert event.actor == actor
    assert event.changes == {
        "qualification_bant_budget_met": [False, True],
        "qualification_bant_budget_note": ["", "50k approved"],
        "qualification_bant_need_note": ["", "Churn"],
    }


def test_an_unchanged_item_keeps_who_set_it(actor, lead):
    lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=BANT_ALL_MET)
    other = UserFactory(role=Role.MANAGER)
    result = lead_qualification_set(
        actor=other, lead=lead, framework="BANT", items={**BANT_ALL_MET, "need": {"met": False}}
    )
    assert {item.key: item.set_by for item in result.items} == {
        "budget": actor,
        "authority": actor,
        "need": other,
        "timeline": actor,
    }
    assert AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk).count() == 2


def test_without_a_framework_the_checklist_shown_is_the_last_answered(actor, lead):
    assert lead_qualification_get(lead=lead).framework == "BANT"
    lead_qualification_set(
        actor=actor, lead=lead, framework="MEDDIC", items={"metrics": {"met": True}}
    )
    assert lead_qualification_get(lead=lead).framework == "MEDDIC"


@pytest.mark.parametrize(
    ("framework", "items", "code"),
    [
        ("SPIN", {}, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST),
        ("BANT", {"money": {"met": True}}, ErrorCode.INVALID_FIELD),
        ("BANT", {"budget": {"met": "yes"}}, ErrorCode.INVALID_TYPE),
        ("BANT", {"budget": {"note": 5}}, ErrorCode.INVALID_TYPE),
        ("BANT", {"budget": {"note": "x" * 2001}}, ErrorCode.STRING_TOO_LONG),
        ("BANT", {"budget": {"met": True, "colour": "red"}}, ErrorCode.INVALID_FIELD),
        ("BANT", {"budget": True}, ErrorCode.INVALID_TYPE),
        ("BANT", ["budget"], ErrorCode.INVALID_TYPE),
    ],
)
def test_bad_checklists_are_refused_and_change_nothing(actor, lead, framework, items, code):
    with pytest.raises(DomainError) as raised:
        lead_qualification_set(actor=actor, lead=lead, framework=framework, items=items)
    assert raised.value.code == code
    assert not LeadQualificationAnswer.objects.exists()
    assert not AuditEvent.objects.filter(object_name="Lead", action="update").exists()


def test_a_rep_may_not_set_the_checklist_of_a_lead_they_may_not_change(lead):
    from dealflow.core.services import sharing_default_set

    sharing_default_set(actor=None, object_name="Lead", access="read")
    other = UserFactory()
    with pytest.raises(DomainError) as raised:
        lead_qualification_set(actor=other, lead=lead, framework="BANT", items=BANT_ALL_MET)
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert not LeadQualificationAnswer.objects.exists()


def test_a_converted_lead_checklist_is_read_only(actor, lead):
    lead_convert(actor=actor, lead=lead)
    with pytest.raises(DomainError) as raised:
        lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=BANT_ALL_MET)
    assert raised.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD


# ---------------------------------------------------------------------------------------
# Settings and items


def test_only_admins_change_the_settings(actor, manager):
    for who in (actor, manager):
        with pytest.raises(DomainError) as raised:
            require(who)
        assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert qualification_configuration.get().required_framework is None


def test_settings_are_audited_and_seen_at_once(admin):
    require(admin, "CHAMP", 3)
    configuration = qualification_configuration.get()
    assert (configuration.required_framework, configuration.minimum_items) == ("CHAMP", 3)
    event = AuditEvent.objects.get(object_name="QualificationSetting")
    assert event.changes == {"required_framework": [None, "CHAMP"], "minimum_items": [None, 3]}


@pytest.mark.parametrize(
    ("framework", "minimum", "code"),
    [
        ("SPIN", None, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST),
        ("BANT", 5, ErrorCode.NUMBER_OUTSIDE_VALID_RANGE),
        ("BANT", 0, ErrorCode.NUMBER_OUTSIDE_VALID_RANGE),
        ("BANT", "2", ErrorCode.INVALID_TYPE),
        ("BANT", True, ErrorCode.INVALID_TYPE),
    ],
)
def test_bad_settings_are_refused(admin, framework, minimum, code):
    with pytest.raises(DomainError) as raised:
        require(admin, framework, minimum)
    assert raised.value.code == code
    assert qualification_configuration.get().required_framework is None


def test_an_admin_renames_and_extends_a_checklist(admin, actor, lead):
    qualification_item_set(actor=admin, framework="BANT", key="budget", label="Budget confirmed")
    qualification_item_set(actor=admin, framework="BANT", key="legal", label="Legal review")
    result = lead_qualification_get(lead=lead, framework="BANT")
    assert [(item.key, item.label) for item in result.items] == [
        ("budget", "Budget confirmed"),
        ("authority", "Authority"),
        ("need", "Need"),
        ("timeline", "Timeline"),
        ("legal", "Legal review"),
    ]
    assert result.needed == 5
    actions = list(
        AuditEvent.objects.filter(object_name="QualificationItem")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["update", "create"]


def test_a_retired_item_no_longer_counts(admin, actor, lead):
    require(admin)
    qualification_item_set(actor=admin, framework="BANT", key="timeline", is_active=False)
    lead_qualification_set(
        actor=actor,
        lead=lead,
        framework="BANT",
        items={key: {"met": True} for key in ("budget", "authority", "need")},
    )
    assert lead_qualification_get(lead=lead).satisfied
    lead_convert(actor=actor, lead=lead)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"key": "New Item", "label": "New"}, ErrorCode.INVALID_FIELD),
        ({"key": "fresh"}, ErrorCode.REQUIRED_FIELD_MISSING),
        ({"key": "budget", "label": "   "}, ErrorCode.REQUIRED_FIELD_MISSING),
        ({"key": "budget", "sort_order": -1}, ErrorCode.INVALID_TYPE),
        ({"key": "budget", "is_active": "no"}, ErrorCode.INVALID_TYPE),
    ],
)
def test_bad_items_are_refused(admin, changes, code):
    with pytest.raises(DomainError) as raised:
        qualification_item_set(actor=admin, framework="BANT", **changes)
    assert raised.value.code == code
    assert QualificationItem.objects.filter(framework__name="BANT").count() == 4


def test_only_admins_change_checklists(manager):
    with pytest.raises(DomainError) as raised:
        qualification_item_set(actor=manager, framework="BANT", key="budget", label="Money")
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY


# ---------------------------------------------------------------------------------------
# The gate


def test_nothing_required_converts_as_before(actor, lead):
    lead_convert(actor=actor, lead=lead)
    assert Lead.objects.get(pk=lead.pk).is_converted


def test_all_items_required_refuses_naming_the_missing_ones(admin, actor, lead):
    require(admin)
    lead_qualification_set(
        actor=actor, lead=lead, framework="BANT", items={"budget": {"met": True}}
    )
    before = database_state()

    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)

    assert raised.value.code == ErrorCode.QUALIFICATION_REQUIRED
    assert raised.value.fields == ["qualification"]
    assert "1 met" in raised.value.message
    assert "missing: Authority, Need, Timeline" in raised.value.message
    assert database_state() == before


def test_all_items_met_converts(admin, actor, lead):
    require(admin)
    lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=BANT_ALL_MET)
    lead_convert(actor=actor, lead=lead)
    assert Lead.objects.get(pk=lead.pk).is_converted
    assert not QualificationOverride.objects.exists()


def test_at_least_n_items(admin, actor, lead):
    require(admin, "BANT", 3)
    two = {key: {"met": True} for key in ("budget", "need")}
    lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=two)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)
    assert raised.value.code == ErrorCode.QUALIFICATION_REQUIRED
    assert "needs 3 of 4 BANT items" in raised.value.message

    lead_qualification_set(
        actor=actor, lead=lead, framework="BANT", items={"timeline": {"met": True}}
    )
    lead_convert(actor=actor, lead=lead)
    assert Lead.objects.get(pk=lead.pk).is_converted


def test_another_framework_met_does_not_satisfy_the_required_one(admin, actor, lead):
    require(admin, "MEDDIC")
    champ = {key: {"met": True} for key in ("challenges", "authority", "money", "prioritization")}
    lead_qualification_set(actor=actor, lead=lead, framework="CHAMP", items=champ)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead)
    assert raised.value.code == ErrorCode.QUALIFICATION_REQUIRED


def test_a_rep_may_not_override(admin, actor, lead):
    require(admin)
    before = database_state()
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=actor, lead=lead, qualification_override_reason="Trust me")
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert raised.value.fields == ["qualification_override_reason"]
    assert database_state() == before


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_a_manager_or_admin_overrides_with_a_reason(admin, actor, lead, role):
    require(admin)
    boss = admin if role == Role.ADMIN else UserFactory(role=Role.MANAGER)

    lead_convert(actor=boss, lead=lead, qualification_override_reason="  Strategic account  ")

    assert Lead.objects.get(pk=lead.pk).is_converted
    override = QualificationOverride.objects.get(lead=lead)
    assert (override.reason, override.framework, override.overridden_by) == (
        "Strategic account",
        "BANT",
        boss,
    )
    assert override.missing == ["Budget", "Authority", "Need", "Timeline"]
    event = AuditEvent.objects.get(
        object_name="Lead", record_id=lead.pk, changes__has_key="qualification_override_reason"
    )
    assert event.actor == boss
    assert event.changes["qualification_override_reason"] == [None, "Strategic account"]
    shown = lead_qualification_get(lead=Lead.objects.get(pk=lead.pk))
    assert shown.override == override


def test_a_blank_reason_is_no_override(admin, lead):
    require(admin)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=admin, lead=lead, qualification_override_reason="   ")
    assert raised.value.code == ErrorCode.QUALIFICATION_REQUIRED
    assert not Lead.objects.get(pk=lead.pk).is_converted


def test_a_reason_for_a_qualified_lead_is_not_kept(admin, actor, lead):
    require(admin)
    lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=BANT_ALL_MET)
    lead_convert(actor=admin, lead=lead, qualification_override_reason="Not needed")
    assert not QualificationOverride.objects.exists()


def test_the_gate_holds_for_the_system_too(admin, lead):
    require(admin)
    with pytest.raises(DomainError) as raised:
        lead_convert(actor=None, lead=lead)
    assert raised.value.code == ErrorCode.QUALIFICATION_REQUIRED


def test_the_gate_with_an_idempotency_key_writes_nothing(admin, actor, lead):
    require(admin)
    before = database_state()
    with pytest.raises(DomainError):
        lead_convert(actor=actor, lead=lead, idempotency_key="gate-1")
    assert database_state() == before
    lead_qualification_set(actor=actor, lead=lead, framework="BANT", items=BANT_ALL_MET)
    lead_convert(actor=actor, lead=lead, idempotency_key="gate-1")  # the refusal was not kept
    assert Lead.objects.get(pk=lead.pk).is_converted


def test_no_framework_required_costs_no_query(actor, django_assert_num_queries):
    lead_convert(actor=actor, lead=LeadFactory(owner_user=actor))  # warms the caches
    lead = LeadFactory(owner_user=actor)
    # As in tests/leads/test_conversion.py (the duplicate keys included), without a task
    # to move.
    with django_assert_num_queries(13):
        lead_convert(actor=actor, lead=lead)


def test_the_back_office_lists_only_answers_of_leads_the_user_may_read(actor, lead):
    from django.contrib import admin
    from django.test import RequestFactory

    from dealflow.core.services import sharing_default_set

    sharing_default_set(actor=None, object_name="Lead", access="private")
    lead_qualification_set(
        actor=actor, lead=lead, framework="BANT", items={"budget": {"met": True}}
    )
    model_admin = admin.site._registry[LeadQualificationAnswer]
    request = RequestFactory().get("/")

    request.user = UserFactory()
    assert not model_admin.get_queryset(request).exists()
    request.user = actor
    assert model_admin.get_queryset(request).count() == 1
