"""The set-based assignment pass (`leads_assign_bulk`): the same owners, decisions, rounds
and audit events as `lead_assign` one lead at a time, in a constant number of queries
per batch; skipped and refused leads; `dealflow assign` on top of it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dealflow.automation import services
from dealflow.automation.models import AssignmentDecision, AssignmentRuleEntry
from dealflow.automation.services import assignment_rules_set, lead_assign, leads_assign_bulk
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.core.sqlite import bulk
from dealflow.leads.models import Lead, LeadStatus
from dealflow.people.models import Role
from tests.factories import LeadFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db

SOURCES = ["Web", "Phone Inquiry", "Web", "Trade Show", "", "Web"]
INDUSTRIES = ["Banking", "Retail", "Energy", "", "banking", "Media", "Retail"]
COUNTRIES = ["France", "Spain", "", "FRANCE", "Germany"]


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def reps():
    return [
        UserFactory(username=name, first_name=name.title(), last_name="Rep")
        for name in ("ann", "bob", "cy", "dee", "eve")
    ]


def pool(kind, users, capacity=None):
    return {"kind": kind, "user_ids": [user.public_id for user in users], "capacity": capacity}


def criterion(field, operator, value):
    return {"field": field, "operator": operator, "value": value}


@pytest.fixture
def world(admin, reps):
    """Every kind of entry, capacities, an inactive user, a queue, a default owner, and 40
    queue-owned leads of varied fields (some closed, one converted) plus loads to count."""
    ann, bob, cy, dee, eve = reps
    inbound, europe = QueueFactory(name="Inbound"), QueueFactory(name="Europe")
    gone = UserFactory(username="gone", first_name="Gone", is_active=True)
    closed = LeadStatus.objects.get(name="Closed - Not Converted")
    # Existing open leads: loads for least-loaded pools and capacities.
    LeadFactory.create_batch(2, owner_user=ann)
    LeadFactory(owner_user=cy)
    LeadFactory(owner_user=dee, status=closed)  # closed: not a load
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": eve.public_id,
            "entries": [
                {
                    "criteria": [
                        criterion("lead_source", "equals", "web"),
                        criterion("number_of_employees", "greater_than", 100),
                    ],
                    "match": "all",
                    "assign_to": pool("round_robin", [ann, bob, cy], capacity=3),
                },
                {
                    "criteria": [criterion("industry", "in", ["Banking", "Retail"])],
                    "assign_to": pool("least_loaded", [bob, cy, dee], capacity=6),
                },
                {
                    "criteria": [criterion("country", "starts_with", "fr")],
                    "assign_to": {"kind": "queue", "queue_id": europe.public_id},
                },
                {
                    "criteria": [criterion("annual_revenue", "greater_than", "500000")],
                    "assign_to": {"kind": "user", "user_id": gone.public_id},
                },
                {
                    "criteria": [
                        criterion("lead_source", "equals", "Web"),
                        criterion("status", "equals", "Working - Contacted"),
                    ],
                    "match": "any",
                    "assign_to": pool("round_robin", [dee, bob, ann]),
                },
            ],
        },
    )
    gone.is_active = False  # inactive after the rules were saved: its entry passes
    gone.save(update_fields=["is_active"])
    working = LeadStatus.objects.get(name="Working - Contacted")
    leads = []
    for number in range(40):
        status = closed if number % 11 == 5 else working if number % 3 == 1 else None
        leads.append(
            LeadFactory(
                owner_user=None,
                owner_queue=inbound,
                lead_source=SOURCES[number % len(SOURCES)],
                industry=INDUSTRIES[number % len(INDUSTRIES)],
                country=COUNTRIES[number % len(COUNTRIES)],
                number_of_employees=None if number % 9 == 0 else 40 * number,
                annual_revenue=Decimal(number * 20000) if number % 4 else None,
                **({"status": status} if status else {}),
            )
        )
    leads[7].owner_user, leads[7].owner_queue = bob, None  # a user-owned lead moves too
    leads[7].save()
    Lead.objects.filter(pk=leads[13].pk).update(is_converted=True)
    return [lead.pk for lead in leads]


def outcome():
    """Everything the rules wrote: owners, decisions, rounds' places, audit events."""
    owners = list(Lead.objects.order_by("pk").values_list("pk", "owner_user_id", "owner_queue_id"))
    decisions = list(
        AssignmentDecision.objects.order_by("lead_id", "id").values_list(
            "lead_id",
            "rule_set_id",
            "entry_id",
            "owner_user_id",
            "owner_queue_id",
            "reason",
            "actor_id",
        )
    )
    rounds = list(AssignmentRuleEntry.objects.order_by("pk").values_list("pk", "next_position"))
    events = list(
        AuditEvent.objects.filter(object_name="Lead", action="update")
        .order_by("record_id", "id")
        .values_list("record_id", "changes", "actor_id")
    )
    return owners, decisions, rounds, events


def one_by_one(actor, lead_ids):
    """lead_assign on each lead (converted ones refused), then everything rolled back."""
    with transaction.atomic():
        for key in lead_ids:
            try:
                lead_assign(actor=actor, lead=key)
            except DomainError as error:
                assert error.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
        result = outcome()
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("batch_size", [5000, 7])
@pytest.mark.parametrize("acting", [False, True])
def test_the_bulk_pass_writes_what_one_lead_at_a_time_does(
    world, admin, monkeypatch, batch_size, acting
):
    actor = admin if acting else None
    expected = one_by_one(actor, world)
    assert outcome() != expected  # the rollback left the leads undealt
    monkeypatch.setattr(services, "BULK_BATCH_SIZE", batch_size)

    counts = leads_assign_bulk(actor=actor, lead_ids=world)

    owners, decisions, rounds, events = outcome()
    assert owners == expected[0]
    assert decisions == expected[1]
    assert rounds == expected[2]
    assert events == expected[3]
    assert len(decisions) == 39
    # Every kind of outcome happened in the fixture.
    reasons = " | ".join(row[5] for row in decisions)
    for words in (
        "round-robin: user 1 of 3 in its pool, under its capacity of 3",
        "least-loaded: ",
        "its queue",
        "its user Gone",
        "is inactive",
        "every user of its pool is inactive or has 6 open leads",
        "no entry matched: the default owner Eve Rep",
    ):
        assert words in reasons
    assert sum(counts.values()) == 40
    assert counts[services.SKIPPED_CONVERTED] == 1
    assert counts["Europe"] == sum(1 for row in decisions if row[4] is not None)


def test_the_round_continues_where_the_last_lead_left_it(admin, reps):
    inbound = QueueFactory(name="Inbound")
    assignment_rules_set(
        actor=admin,
        rules={"entries": [{"criteria": [], "assign_to": pool("round_robin", reps[:3])}]},
    )
    first = LeadFactory(owner_user=None, owner_queue=inbound)
    lead_assign(actor=None, lead=first)  # ann; the round moves to bob
    leads = [LeadFactory(owner_user=None, owner_queue=inbound) for _ in range(4)]

    counts = leads_assign_bulk(actor=None, lead_ids=[lead.pk for lead in leads])

    owners = [Lead.objects.get(pk=lead.pk).owner_user for lead in leads]
    assert owners == [reps[1], reps[2], reps[0], reps[1]]
    assert counts == {"Ann Rep": 1, "Bob Rep": 2, "Cy Rep": 1}
    assert AssignmentRuleEntry.objects.get().next_position == 2


def queries_for(admin, reps, count):
    inbound = QueueFactory()
    leads = [
        LeadFactory(owner_user=None, owner_queue=inbound, lead_source=SOURCES[number % 6])
        for number in range(count)
    ]
    with CaptureQueriesContext(connection) as captured:
        leads_assign_bulk(actor=None, lead_ids=[lead.pk for lead in leads])
    return [query["sql"] for query in captured.captured_queries]


def test_a_batch_costs_the_same_queries_for_6_leads_as_for_60(admin, reps):
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": reps[4].public_id,
            "entries": [
                {
                    "criteria": [criterion("lead_source", "equals", "Web")],
                    "assign_to": pool("round_robin", reps[:3], capacity=100),
                },
                {
                    "criteria": [criterion("lead_source", "equals", "Trade Show")],
                    "assign_to": pool("least_loaded", reps[2:4]),
                },
            ],
        },
    )

    queries_for(admin, reps, 1)  # the rules and the statuses are read once per process
    few = queries_for(admin, reps, 6)
    many = queries_for(admin, reps, 60)

    # Savepoint; the leads; the pools' rows locked; their active users; their loads; one
    # UPDATE of the leads' owners (whichever owners they go to: five here, three
    # round-robin users and two least-loaded); the round-robin entry's place; the
    # decisions; the audit events; release. On SQLite, around the batches, the page
    # cache's size and the WAL's checkpoint size read, set and put back (six PRAGMAs per
    # pass, not per batch; no checkpoint inside the test's transaction).
    pragmas = 6 if connection.vendor == "sqlite" else 0
    assert len(few) == len(many) == 10 + pragmas
    assert len([sql for sql in many if sql.startswith("PRAGMA")]) == pragmas
    updates = [sql for sql in many if 'UPDATE "leads_lead"' in sql]
    assert len(updates) == 1
    owners = {lead.owner_user_id for lead in Lead.objects.filter(owner_queue__isnull=True)}
    assert len(owners & {rep.pk for rep in reps}) == 5  # five owners, one statement
    inserts = [
        sql
        for sql in many
        if any(table in sql for table in ('"automation_assignmentdecision"', '"core_auditevent"'))
    ]
    assert len(inserts) == 2


def _pragma(name):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_only_on_sqlite_the_pass_tunes_the_connection_then_puts_it_back(admin, reps):
    """SQLite: a larger page cache and fewer WAL checkpoints during the pass, restored
    after, and one checkpoint at its end. PostgreSQL: no session setting is touched."""
    assignment_rules_set(actor=admin, rules={"default_owner_id": reps[0].public_id})
    lead = LeadFactory(owner_user=reps[1])
    if connection.vendor != "sqlite":
        with CaptureQueriesContext(connection) as captured:
            leads_assign_bulk(actor=None, lead_ids=[lead.pk])
        statements = [query["sql"].lstrip().upper() for query in captured.captured_queries]
        assert [sql for sql in statements if sql.startswith(("PRAGMA", "SET "))] == []
        assert Lead.objects.get(pk=lead.pk).owner_user == reps[0]
        return
    seen = []
    assign_batch = services._assign_batch

    def spy(*args, **kwargs):
        seen.append((_pragma("cache_size"), _pragma("wal_autocheckpoint")))
        return assign_batch(*args, **kwargs)

    before = (_pragma("cache_size"), _pragma("wal_autocheckpoint"))
    with pytest.MonkeyPatch.context() as patch, CaptureQueriesContext(connection) as captured:
        patch.setattr(services, "_assign_batch", spy)
        leads_assign_bulk(actor=None, lead_ids=[lead.pk])
    after = (_pragma("cache_size"), _pragma("wal_autocheckpoint"))

    assert seen == [(-bulk.BULK_CACHE_KIB, bulk.BULK_CHECKPOINT_PAGES)]
    assert after == before
    assert before[0] != seen[0][0] and before[1] != seen[0][1]
    # Outside a transaction, the pass ends by checkpointing the WAL it wrote.
    assert captured.captured_queries[-1]["sql"] == "PRAGMA wal_checkpoint(PASSIVE)"
    assert Lead.objects.get(pk=lead.pk).owner_user == reps[0]


def test_converted_and_missing_leads_are_skipped_and_counted(admin, reps):
    assignment_rules_set(actor=admin, rules={"default_owner_id": reps[0].public_id})
    converted = LeadFactory(owner_user=reps[1], is_converted=True)
    open_lead = LeadFactory(owner_user=reps[1])

    counts = leads_assign_bulk(
        actor=None, lead_ids=[converted.pk, 999_999, open_lead.pk, open_lead.pk]
    )

    assert counts == {
        services.SKIPPED_CONVERTED: 1,
        services.SKIPPED_NOT_FOUND: 1,
        "Ann Rep": 1,
    }
    assert Lead.objects.get(pk=converted.pk).owner_user == reps[1]
    assert Lead.objects.get(pk=open_lead.pk).owner_user == reps[0]
    assert list(AssignmentDecision.objects.values_list("lead_id", flat=True)) == [open_lead.pk]


def test_with_no_match_no_default_and_no_actor_the_owner_is_kept(admin, reps):
    inbound = QueueFactory(name="Inbound")
    assignment_rules_set(
        actor=admin,
        rules={
            "entries": [
                {
                    "criteria": [criterion("lead_source", "equals", "Web")],
                    "assign_to": {"kind": "user", "user_id": reps[0].public_id},
                }
            ]
        },
    )
    lead = LeadFactory(owner_user=None, owner_queue=inbound, lead_source="Phone Inquiry")

    counts = leads_assign_bulk(actor=None, lead_ids=[lead.pk])

    assert counts == {"Inbound": 1}
    decision = AssignmentDecision.objects.get()
    assert (decision.owner_user_id, decision.owner_queue_id) == (None, inbound.pk)
    assert decision.reason == "no entry matched and there is no default owner: the owner is kept"
    assert not AuditEvent.objects.filter(object_name="Lead", action="update").exists()


def test_a_rep_who_may_not_change_a_lead_changes_nothing(admin, reps):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    assignment_rules_set(actor=admin, rules={"default_owner_id": reps[0].public_id})
    mine = LeadFactory(owner_user=reps[1])
    theirs = LeadFactory(owner_user=reps[2])
    owners_before = list(Lead.objects.order_by("pk").values_list("owner_user_id", flat=True))

    with pytest.raises(DomainError) as refused:
        leads_assign_bulk(actor=reps[1], lead_ids=[mine.pk, theirs.pk])

    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert refused.value.fields == ["lead_ids"]
    assert list(Lead.objects.order_by("pk").values_list("owner_user_id", flat=True)) == (
        owners_before
    )
    assert not AssignmentDecision.objects.exists()


def test_without_active_rules_the_pass_is_refused(reps):
    lead = LeadFactory(owner_user=reps[0])

    with pytest.raises(DomainError) as refused:
        leads_assign_bulk(actor=None, lead_ids=[lead.pk])

    assert refused.value.code == ErrorCode.NOT_FOUND
    assert not AssignmentDecision.objects.exists()


def test_the_assign_command_deals_set_based_and_keeps_its_options(admin, reps, capsys):
    inbound = QueueFactory(name="Inbound")
    waiting = [LeadFactory(owner_user=None, owner_queue=inbound) for _ in range(5)]
    assignment_rules_set(
        actor=admin,
        rules={"entries": [{"criteria": [], "assign_to": pool("round_robin", reps[:2])}]},
    )

    call_command("assign", "--queue", "Inbound", "--limit", "3")
    call_command("assign")

    owners = [Lead.objects.get(pk=lead.pk).owner_user for lead in waiting]
    assert owners == [reps[0], reps[1], reps[0], reps[1], reps[0]]
    assert capsys.readouterr().out.splitlines() == [
        "assigned 3 leads",
        "  Ann Rep: 2",
        "  Bob Rep: 1",
        "assigned 2 leads",
        "  Ann Rep: 1",
        "  Bob Rep: 1",
    ]


def test_reasons_with_backslashes_tabs_and_newlines_are_written_as_they_are(admin, reps):
    """On PostgreSQL the pass writes COPY's text itself: what a user's name puts in a
    reason (a backslash, a tab, a newline, a carriage return) comes back unchanged, in
    the words lead_assign writes one lead at a time."""
    inbound = QueueFactory(name="Inbound")
    odd = "B\\o\tb\ny\rz"
    reps[1].first_name = odd
    reps[1].save(update_fields=["first_name"])
    assignment_rules_set(
        actor=admin,
        rules={
            "entries": [
                {
                    "criteria": [criterion("company", "contains", "a\\b")],
                    "assign_to": pool("round_robin", [reps[0], reps[1]]),
                }
            ]
        },
    )
    single, bulk = (
        LeadFactory(owner_user=None, owner_queue=inbound, company=f"Acme a\\b {number}")
        for number in range(2)
    )
    lead_assign(actor=None, lead=single)

    leads_assign_bulk(actor=None, lead_ids=[bulk.pk])

    reasons = dict(AssignmentDecision.objects.values_list("lead_id", "reason"))
    words = "entry 1 matched (company contains 'a\\\\b'): {} Rep ({}), round-robin: user {} of 2 in its pool"
    assert reasons == {
        single.pk: words.format("Ann", reps[0].public_id, 1),
        bulk.pk: words.format(odd, reps[1].public_id, 2),
    }
    event = AuditEvent.objects.get(object_name="Lead", action="update", record_id=bulk.pk)
    assert event.changes == {
        "owner_user": [None, reps[1].public_id],
        "owner_queue": [inbound.public_id, None],
    }


def test_copy_text_escapes_what_copy_reads_and_refuses_what_it_does_not_know():
    import datetime

    at = datetime.datetime(2026, 12, 7, 17, 45, 1, 250000, tzinfo=datetime.UTC)
    assert services._copy_text(None) == "\\N"
    assert services._copy_text(True) == "t"
    assert services._copy_text(False) == "f"
    assert services._copy_text(12) == "12"
    assert services._copy_text(Decimal("1.50")) == "1.50"
    assert services._copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert services._copy_text(at) == "2026-12-07T17:45:01.250000+00:00"
    with pytest.raises(TypeError):
        services._copy_text(object())
