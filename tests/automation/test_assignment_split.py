"""The bulk assignment pass on two connections (PostgreSQL, outside a transaction): each
batch's first part is read, locked and written on a second connection, the rest on the
pass's own, and the outcome is the one of `lead_assign` one lead at a time; a failure in
either part leaves nothing of its batch; a lock waited on too long sends the batch to one
connection. Committed
data (transaction=True), since the second connection must see it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from dealflow.automation import services
from dealflow.automation.models import AssignmentDecision
from dealflow.automation.services import leads_assign_bulk
from dealflow.leads.models import Lead
from tests.automation import test_assignment_bulk as bulk_tests
from tests.automation.test_assignment_bulk import one_by_one, outcome

# The bulk pass's fixtures: 40 queue-owned leads, every kind of entry.
admin, reps, world = bulk_tests.admin, bulk_tests.reps, bulk_tests.world

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres_only,
]

BATCH = 7  # the fixture's 40 leads: five batches of 7, then 5


@pytest.fixture
def halves(monkeypatch):
    """Batches of 7 leads, every one split; the leads whose rows each thread wrote
    ({"main": [...], "second": [...]}), in order."""
    monkeypatch.setattr(services, "SPLIT_BATCH_SIZE", BATCH)
    monkeypatch.setattr(services, "SPLIT_ABOVE", 2)
    written: dict[str, list[int]] = {"main": [], "second": []}
    write = services._write_batch

    def recorded(moves, decisions, events, now):
        side = "second" if threading.current_thread().name.startswith("second") else "main"
        written[side].extend(row[0] for row in decisions)
        write(moves, decisions, events, now)

    monkeypatch.setattr(services, "_write_batch", recorded)
    return written


def batches(lead_ids):
    return [lead_ids[start : start + BATCH] for start in range(0, len(lead_ids), BATCH)]


def parts(batch):
    """A split batch's part for the second connection (its first leads), and the rest."""
    cut = round(len(batch) * services.SPLIT_FIRST_PART)
    return batch[:cut], batch[cut:]


def second_connection_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("second")]


def test_a_split_pass_writes_what_one_lead_at_a_time_does(world, halves):
    expected = one_by_one(None, world)
    converted = Lead.objects.get(is_converted=True).pk

    counts = leads_assign_bulk(actor=None, lead_ids=world)

    assert outcome() == expected
    assert sum(counts.values()) == 40
    assert counts[services.SKIPPED_CONVERTED] == 1
    # Each batch's first part written on the second connection, the rest here.
    first = [key for batch in batches(world) for key in parts(batch)[0]]
    rest = [key for batch in batches(world) for key in parts(batch)[1]]
    assert sorted(halves["second"]) == sorted(key for key in first if key != converted)
    assert sorted(halves["main"]) == sorted(key for key in rest if key != converted)
    assert second_connection_threads() == []  # its thread ended, its connection closed


def test_a_failure_on_the_second_connection_leaves_nothing_of_its_batch(world, monkeypatch):
    monkeypatch.setattr(services, "SPLIT_BATCH_SIZE", BATCH)
    monkeypatch.setattr(services, "SPLIT_ABOVE", 2)
    write = services._write_batch
    written_batches = []

    def failing(moves, decisions, events, now):
        if threading.current_thread().name.startswith("second"):
            written_batches.append(decisions)
            if len(written_batches) == 2:
                raise RuntimeError("the second connection's part of batch 2 failed")
        write(moves, decisions, events, now)

    monkeypatch.setattr(services, "_write_batch", failing)
    before = dict(Lead.objects.values_list("pk", "owner_queue_id"))

    with pytest.raises(RuntimeError, match="batch 2 failed"):
        leads_assign_bulk(actor=None, lead_ids=world)

    # Batch 1 stays written (both parts); batch 2's other part was rolled back with it.
    assert sorted(AssignmentDecision.objects.values_list("lead_id", flat=True)) == sorted(
        batches(world)[0]
    )
    for key in world[BATCH:]:
        assert Lead.objects.get(pk=key).owner_queue_id == before[key]
    assert second_connection_threads() == []


def test_a_lock_held_too_long_sends_the_batch_to_one_connection(world, halves, monkeypatch):
    """Another transaction holds a lead of the first batch's first part for a second: the
    second connection gives up waiting after SPLIT_LOCK_TIMEOUT, the batch is rolled back
    and dealt again on one connection, which waits for the lock; nothing counts twice."""
    monkeypatch.setattr(services, "SPLIT_LOCK_TIMEOUT", "200ms")
    expected = one_by_one(None, world)
    held = parts(batches(world)[0])[0][-1]
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Lead.objects.select_for_update().get(pk=held)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=10)
    timer = threading.Timer(1.0, release.set)
    timer.start()
    try:
        counts = leads_assign_bulk(actor=None, lead_ids=world)
    finally:
        release.set()
        timer.cancel()
        holder.join()

    assert outcome() == expected
    assert sum(counts.values()) == 40
    # The first batch was written here alone; the others split as usual.
    assert held not in halves["second"]
    assert set(batches(world)[0]) <= set(halves["main"])
    assert sorted(halves["second"]) == sorted(
        key
        for batch in batches(world)[1:]
        for key in parts(batch)[0]
        if not Lead.objects.get(pk=key).is_converted
    )


def test_inside_a_transaction_the_pass_stays_on_one_connection(world, halves):
    expected = one_by_one(None, world)

    with transaction.atomic():
        leads_assign_bulk(actor=None, lead_ids=world)

    assert outcome() == expected
    assert halves["second"] == []
