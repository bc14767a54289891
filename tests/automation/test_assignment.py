"""Assignment rules through the services: each kind of assignee, capacity, the default
owner, decision records, assign=False, on-demand runs and `dealflow assign`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealflow.automation.models import AssignmentDecision, AssignmentRuleEntry
from dealflow.automation.selectors import assignment_rules_json, lead_assignment
from dealflow.automation.services import assignment_rules_set, lead_assign
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditEvent
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import lead_create
from dealflow.people.models import Role
from tests.factories import LeadFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def reps():
    return [
        UserFactory(username=name, first_name=name.title(), last_name="")
        for name in ("ann", "bob", "cy")
    ]


def set_rules(admin, entries, default_owner=None):
    return assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": default_owner.public_id if default_owner else None,
            "entries": entries,
        },
    )


def web(assign_to):
    """An entry for leads whose Lead Source is Web."""
    return {
        "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
        "match": "all",
        "assign_to": assign_to,
    }


def pool(kind, users, capacity=None):
    return {"kind": kind, "user_ids": [user.public_id for user in users], "capacity": capacity}


def create(actor, **values):
    data = {"last_name": "Lovelace", "company": "Engines Ltd", **values}
    return lead_create(actor=actor, data=data)


def test_a_user_entry_gives_matching_leads_to_its_user_and_records_why(admin, reps, actor):
    ann = reps[0]
    set_rules(admin, [web({"kind": "user", "user_id": ann.public_id})])

    lead = create(actor, lead_source="Web")

    assert lead.owner_user == ann
    decision = AssignmentDecision.objects.get(lead=lead)
    assert decision.entry.sort_order == 0
    assert decision.owner_user == ann
    assert decision.actor == actor
    assert decision.decided_at is not None
    assert decision.reason == (
        f"entry 1 matched (lead_source equals 'Web'): Ann ({ann.public_id}), its user"
    )
    created = AuditEvent.objects.get(record_id=lead.pk, action="create")
    assert created.changes["owner"][1] in (ann.pk, ann.public_id)


def test_a_queue_entry_gives_the_lead_to_the_queue(admin, actor):
    queue = QueueFactory(name="Inbound")
    entry = web({"kind": "queue", "queue_id": queue.public_id})
    entry["criteria"][0]["value"] = "WEB"  # text compares without regard to case
    set_rules(admin, [entry])

    lead = create(actor, lead_source="Web")

    assert (lead.owner_user, lead.owner_queue) == (None, queue)
    assert lead_assignment(lead).owner_queue == queue


def test_round_robin_deals_the_pool_in_order_and_goes_round(admin, reps, actor):
    set_rules(admin, [web(pool("round_robin", reps))])

    owners = [create(actor, lead_source="Web").owner_user for _ in range(7)]

    assert owners == [*reps, *reps, reps[0]]
    reasons = [decision.reason for decision in AssignmentDecision.objects.order_by("id")][:3]
    assert [reason.split(", ")[-1] for reason in reasons] == [
        "round-robin: user 1 of 3 in its pool",
        "round-robin: user 2 of 3 in its pool",
        "round-robin: user 3 of 3 in its pool",
    ]


def test_least_loaded_gives_the_lead_to_the_user_with_fewest_open_leads(admin, reps, actor):
    ann, bob, cy = reps
    LeadFactory.create_batch(2, owner_user=ann)
    LeadFactory(owner_user=cy)
    # Converted and closed leads are not open: they do not count.
    LeadFactory.create_batch(2, owner_user=bob, is_converted=True)
    LeadFactory(owner_user=bob, status=LeadStatus.objects.get(name="Closed - Not Converted"))
    set_rules(admin, [web(pool("least_loaded", reps))])

    owners = [create(actor, lead_source="Web").owner_user for _ in range(4)]

    # Loads 2/0/1 -> bob; 2/1/1 -> bob (ties go in pool order); 2/2/1 -> cy; 2/2/2 -> ann.
    assert owners == [bob, bob, cy, ann]
    assert "least-loaded: 0 open leads" in AssignmentDecision.objects.order_by("id")[0].reason


def test_a_user_at_capacity_is_skipped_and_a_full_pool_falls_to_the_default(admin, reps, actor):
    ann, bob, cy = reps
    boss = UserFactory(username="boss")
    LeadFactory(owner_user=ann)
    set_rules(admin, [web(pool("round_robin", reps, capacity=1))], default_owner=boss)

    owners = [create(actor, lead_source="Web").owner_user for _ in range(3)]

    assert owners == [bob, cy, boss]
    last = AssignmentDecision.objects.order_by("-id").first()
    assert last.entry is None
    assert last.reason == (
        "entry 1 matched (lead_source equals 'Web') but every user of its pool is inactive "
        f"or has 1 open leads: the default owner {boss} ({boss.public_id})"
    )


def test_the_first_matching_entry_wins(admin, reps, actor):
    ann, bob, _cy = reps
    set_rules(
        admin,
        [
            {
                "criteria": [
                    {"field": "industry", "operator": "equals", "value": "Banking"},
                    {"field": "number_of_employees", "operator": "greater_than", "value": 1000},
                ],
                "match": "all",
                "assign_to": {"kind": "user", "user_id": ann.public_id},
            },
            {
                "criteria": [],
                "match": "all",
                "assign_to": {"kind": "user", "user_id": bob.public_id},
            },
        ],
    )

    big_bank = create(actor, industry="Banking", number_of_employees=5000)
    small_bank = create(actor, industry="Banking", number_of_employees=20)

    assert (big_bank.owner_user, small_bank.owner_user) == (ann, bob)
    assert lead_assignment(small_bank).reason.startswith("entry 2 matched (no criteria")


@pytest.mark.parametrize(
    ("criterion", "values", "expected"),
    [
        (
            {"operator": "in", "field": "country", "value": ["France", "Spain"]},
            {"country": "spain"},
            True,
        ),
        (
            {"operator": "in", "field": "country", "value": ["France", "Spain"]},
            {"country": "Italy"},
            False,
        ),
        (
            {"operator": "contains", "field": "title", "value": "chief"},
            {"title": "Deputy Chief Officer"},
            True,
        ),
        (
            {"operator": "contains", "field": "title", "value": "chief"},
            {"title": "Engineer"},
            False,
        ),
        (
            {"operator": "starts_with", "field": "postal_code", "value": "75"},
            {"postal_code": "75011"},
            True,
        ),
        (
            {"operator": "starts_with", "field": "postal_code", "value": "75"},
            {"postal_code": "13075"},
            False,
        ),
        (
            {"operator": "less_than", "field": "annual_revenue", "value": "1000.50"},
            {"annual_revenue": "999"},
            True,
        ),
        (
            {"operator": "less_than", "field": "annual_revenue", "value": "1000.50"},
            {"annual_revenue": "2000"},
            False,
        ),
        ({"operator": "less_than", "field": "annual_revenue", "value": "1000.50"}, {}, False),
        ({"operator": "blank", "field": "email", "value": True}, {}, True),
        ({"operator": "blank", "field": "email", "value": True}, {"email": "a@b.test"}, False),
        ({"operator": "blank", "field": "email", "value": False}, {"email": "a@b.test"}, True),
        (
            {"operator": "equals", "field": "do_not_call", "value": True},
            {"do_not_call": True},
            True,
        ),
        ({"operator": "equals", "field": "status", "value": "open - not contacted"}, {}, True),
    ],
)
def test_each_operator(admin, reps, actor, criterion, values, expected):
    set_rules(
        admin,
        [
            {
                "criteria": [criterion],
                "match": "all",
                "assign_to": {"kind": "user", "user_id": reps[0].public_id},
            }
        ],
    )

    lead = create(actor, **values)

    assert (lead.owner_user == reps[0]) is expected


def test_match_any_needs_one_criterion(admin, reps, actor):
    entry = {
        "criteria": [
            {"field": "lead_source", "operator": "equals", "value": "Web"},
            {"field": "industry", "operator": "equals", "value": "Banking"},
        ],
        "match": "any",
        "assign_to": {"kind": "user", "user_id": reps[0].public_id},
    }
    set_rules(admin, [entry])

    assert create(actor, industry="Banking").owner_user == reps[0]
    assert create(actor, industry="Retail").owner_user == actor
    entry["match"] = "all"
    set_rules(admin, [entry])
    assert create(actor, industry="Banking").owner_user == actor


def test_no_match_goes_to_the_default_owner(admin, reps, actor):
    set_rules(admin, [web({"kind": "user", "user_id": reps[0].public_id})], default_owner=reps[1])

    lead = create(actor, lead_source="Phone Inquiry")

    assert lead.owner_user == reps[1]
    decision = lead_assignment(lead)
    assert decision.entry is None
    assert decision.reason == f"no entry matched: the default owner Bob ({reps[1].public_id})"


def test_no_match_and_no_default_leaves_the_lead_with_the_acting_user(admin, reps, actor):
    set_rules(admin, [web({"kind": "user", "user_id": reps[0].public_id})])

    lead = create(actor, lead_source="Phone Inquiry")

    assert lead.owner_user == actor
    assert "no default owner: the acting user" in lead_assignment(lead).reason


def test_an_owner_given_or_assign_false_bypasses_the_rules(admin, reps, actor):
    set_rules(admin, [{"criteria": [], "match": "all", "assign_to": pool("round_robin", reps)}])

    given = lead_create(actor=actor, data={"last_name": "A", "company": "B", "owner": reps[2]})
    unassigned = lead_create(actor=actor, data={"last_name": "C", "company": "D"}, assign=False)
    dealt = create(actor)

    assert (given.owner_user, unassigned.owner_user, dealt.owner_user) == (reps[2], actor, reps[0])
    assert list(AssignmentDecision.objects.values_list("lead", flat=True)) == [dealt.pk]


def test_without_active_rules_nothing_changes(admin, reps, actor):
    set_rules(admin, [web({"kind": "user", "user_id": reps[0].public_id})])
    assert set_rules(admin, []) is None  # no entries, no default: the rules are off

    lead = create(actor, lead_source="Web")

    assert lead.owner_user == actor
    assert not AssignmentDecision.objects.exists()
    assert assignment_rules_json() == {"default_owner_id": None, "entries": []}


def test_a_refused_create_records_nothing_and_keeps_the_round(admin, reps, actor):
    set_rules(admin, [web(pool("round_robin", reps))])
    create(actor, lead_source="Web", email="same@example.test")

    with pytest.raises(DomainError) as refused:
        create(actor, lead_source="Web", email="same@example.test")

    assert refused.value.code == ErrorCode.DUPLICATE_VALUE
    assert AssignmentDecision.objects.count() == 1
    assert AssignmentRuleEntry.objects.get(rule_set__is_active=True).next_position == 1
    assert create(actor, lead_source="Web").owner_user == reps[1]


def test_the_rules_read_back_in_the_shape_they_were_saved(admin, reps):
    queue = QueueFactory()
    entries = [
        web(pool("least_loaded", reps[:2], capacity=25)),
        {
            "criteria": [],
            "match": "any",
            "assign_to": {"kind": "queue", "queue_id": queue.public_id},
        },
    ]
    set_rules(admin, entries, default_owner=reps[2])

    assert assignment_rules_json() == {"default_owner_id": reps[2].public_id, "entries": entries}


@pytest.mark.parametrize(
    ("entry", "code", "field", "message"),
    [
        (
            {
                "criteria": [{"field": "shoe_size", "operator": "equals", "value": "9"}],
                "assign_to": {"kind": "user"},
            },
            ErrorCode.INVALID_FIELD,
            "entries[0].criteria[0].field",
            "'shoe_size' is not a lead field rules can test",
        ),
        (
            {
                "criteria": [{"field": "company", "operator": "greater_than", "value": 3}],
                "assign_to": {"kind": "user"},
            },
            ErrorCode.INVALID_FIELD,
            "entries[0].criteria[0].operator",
            "greater_than does not apply to company (text); use equals, in, contains, starts_with, blank",
        ),
        (
            {
                "criteria": [
                    {"field": "number_of_employees", "operator": "less_than", "value": "many"}
                ],
                "assign_to": {"kind": "user"},
            },
            ErrorCode.INVALID_TYPE,
            "entries[0].criteria[0].value",
            "'many' is not a number",
        ),
        (
            {
                "criteria": [{"field": "country", "operator": "in", "value": "France"}],
                "assign_to": {"kind": "user"},
            },
            ErrorCode.INVALID_TYPE,
            "entries[0].criteria[0].value",
            "in takes a non-empty list",
        ),
        (
            {"criteria": []},
            ErrorCode.REQUIRED_FIELD_MISSING,
            "entries[0].assign_to",
            "required",
        ),
        (
            {"assign_to": {"kind": "lottery"}},
            ErrorCode.INVALID_FIELD,
            "entries[0].assign_to.kind",
            "'lottery' is not one of user, queue, round_robin, least_loaded",
        ),
        (
            {"assign_to": {"kind": "round_robin", "user_ids": [], "capacity": None}},
            ErrorCode.INVALID_TYPE,
            "entries[0].assign_to.user_ids",
            "a pool takes a non-empty list of user ids",
        ),
        (
            {
                "assign_to": {
                    "kind": "least_loaded",
                    "user_ids": ["005000000004C91AAE"],
                    "capacity": 0,
                }
            },
            ErrorCode.NOT_FOUND,
            "entries[0].assign_to.user_ids[0]",
            "no active user '005000000004C91AAE'",
        ),
        (
            {"assign_to": {"kind": "queue", "queue_id": "not an id"}},
            ErrorCode.INVALID_ID,
            "entries[0].assign_to.queue_id",
            None,
        ),
        (
            {"match": "most", "assign_to": {"kind": "user"}},
            ErrorCode.INVALID_FIELD,
            "entries[0].match",
            "'most' is not all or any",
        ),
    ],
)
def test_invalid_rules_are_refused_naming_the_entry_and_key(admin, entry, code, field, message):
    with pytest.raises(DomainError) as refused:
        assignment_rules_set(actor=admin, rules={"entries": [entry]})

    assert refused.value.code == code
    assert refused.value.fields == [field]
    if message:
        assert refused.value.message.startswith(f"{field}: {message}")
    assert assignment_rules_json() == {"default_owner_id": None, "entries": []}


def test_only_admins_change_the_rules(actor, reps):
    with pytest.raises(DomainError) as refused:
        assignment_rules_set(actor=actor, rules={"default_owner_id": reps[0].public_id})

    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY


def test_assigning_on_demand_moves_the_lead_and_audits_it(admin, reps, actor):
    queue = QueueFactory(name="Inbound")
    lead = lead_create(
        actor=admin, data={"last_name": "A", "company": "B", "owner": queue}, assign=False
    )
    set_rules(admin, [{"criteria": [], "match": "all", "assign_to": pool("round_robin", reps)}])

    decision = lead_assign(actor=admin, lead=lead)

    lead.refresh_from_db()
    assert (lead.owner_user, lead.owner_queue) == (reps[0], None)
    assert decision == lead_assignment(lead)
    update = AuditEvent.objects.get(record_id=lead.pk, action="update")
    assert set(update.changes) == {"owner_user", "owner_queue"}


def test_assigning_on_demand_needs_active_rules_and_an_editable_unconverted_lead(admin, reps):
    lead = LeadFactory(owner_user=reps[0])
    with pytest.raises(DomainError) as no_rules:
        lead_assign(actor=admin, lead=lead)
    set_rules(admin, [], default_owner=reps[1])
    converted = LeadFactory(owner_user=reps[0], is_converted=True)
    with pytest.raises(DomainError) as read_only:
        lead_assign(actor=admin, lead=converted)

    assert no_rules.value.code == ErrorCode.NOT_FOUND
    assert read_only.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
    assert not AssignmentDecision.objects.exists()


def test_the_assign_command_deals_undecided_queue_leads(admin, reps, capsys):
    inbound, other = QueueFactory(name="Inbound"), QueueFactory(name="Other")
    waiting = [LeadFactory(owner_user=None, owner_queue=inbound) for _ in range(3)]
    elsewhere = LeadFactory(owner_user=None, owner_queue=other)
    owned = LeadFactory(owner_user=reps[2])
    with pytest.raises(CommandError, match="no assignment rules are active"):
        call_command("assign")
    set_rules(admin, [{"criteria": [], "match": "all", "assign_to": pool("round_robin", reps[:2])}])

    call_command("assign", "--queue", "Inbound")
    call_command("assign", "--queue", "Inbound")  # the decided ones are not dealt again

    owners = [Lead.objects.get(pk=lead.pk).owner_user for lead in waiting]
    assert owners == [reps[0], reps[1], reps[0]]
    assert Lead.objects.get(pk=elsewhere.pk).owner_queue == other
    assert Lead.objects.get(pk=owned.pk).owner_user == reps[2]
    assert AssignmentDecision.objects.count() == 3
    assert capsys.readouterr().out.splitlines() == [
        "assigned 3 leads",
        "  Ann: 2",
        "  Bob: 1",
        "assigned 0 leads",
    ]
