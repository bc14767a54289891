"""The recompute's bulk mode (automation/scoring.py, _BatchWriter): outside a caller's
transaction, a recompute of several batches writes them on PostgreSQL in a second
thread while the next is scored, on SQLite with a larger page cache put back after.
Committed data (transaction=True), since a second connection must see it; the figures
are the same as one batch at a time, and an error in the writer stops the recompute.
Also the LeadScore table's fillfactor (migration automation 0005)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection

from dealflow.automation import scoring
from dealflow.automation.models import LeadEvent, LeadScore, LeadScoreHistory
from dealflow.automation.scoring import lead_scores_recompute
from dealflow.leads.models import Lead, LeadStatus
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


def add_event(lead, type, days_ago=0.0):
    moment = NOW - datetime.timedelta(days=days_ago)
    LeadEvent.objects.create(lead=lead, type=type, occurred_at=moment, created_at=moment)


def seven_leads():
    """Seven open leads scoring 50, 25, 12.5, 6.25, 3.12, 1.56, 0.78 (a demo request
    30 days older each), a closed lead between each two, in batches of 2."""
    closed = LeadStatus.objects.filter(is_closed=True, is_converted=False).first()
    leads = []
    for number in range(7):
        leads.append(LeadFactory(rating=""))
        add_event(leads[-1], "demo_request", days_ago=30 * number)
        add_event(LeadFactory(status=closed), "form_submit")
    return leads


@pytest.fixture
def writing_threads(monkeypatch):
    """The name of the thread that wrote each batch, in order."""
    names: list[str] = []
    write = scoring._write_batch

    def recorded(now, writes):
        names.append(threading.current_thread().name)
        write(now, writes)

    monkeypatch.setattr(scoring, "_write_batch", recorded)
    monkeypatch.setattr(scoring, "BATCH_SIZE", 2)
    return names


def sqlite_pragmas():
    with connection.cursor() as cursor:
        values = []
        for name in ("cache_size", "wal_autocheckpoint"):
            cursor.execute(f"PRAGMA {name}")
            values.append(cursor.fetchone()[0])
    return values


def test_batches_are_written_in_bulk_with_the_same_figures(writing_threads, freeze_clock):
    freeze_clock(NOW)
    leads = seven_leads()
    sqlite = connection.vendor == "sqlite"
    pragmas = sqlite_pragmas() if sqlite else None

    assert lead_scores_recompute(now=NOW) == 7

    assert [LeadScore.objects.get(lead=lead).score for lead in leads] == [
        50.0,
        25.0,
        12.5,
        6.25,
        3.12,
        1.56,
        0.78,
    ]
    assert LeadScore.objects.count() == 7  # the closed leads have none
    assert set(LeadScore.objects.values_list("computed_at", flat=True)) == {NOW}
    assert [Lead.objects.get(pk=lead.pk).rating for lead in leads] == [
        "Warm",
        "Warm",
        "Cold",
        "Cold",
        "Cold",
        "Cold",
        "Cold",
    ]
    assert sorted(LeadScoreHistory.objects.values_list("lead_id", "score", "rating")) == [
        (leads[0].pk, 50.0, "Warm"),
        (leads[1].pk, 25.0, "Warm"),
        (leads[2].pk, 12.5, "Cold"),
        (leads[3].pk, 6.25, "Cold"),
        (leads[4].pk, 3.12, "Cold"),
        (leads[5].pk, 1.56, "Cold"),
        (leads[6].pk, 0.78, "Cold"),
    ]
    main = threading.current_thread().name
    if sqlite:
        # SQLite writes in this thread; its page cache and checkpoints are put back.
        assert writing_threads == [main] * 4
        assert sqlite_pragmas() == pragmas
    else:
        # PostgreSQL: the first batch is full (more may follow), so all four batches
        # go to the writer thread.
        assert writing_threads == ["lead-scores-writer"] * 4
    # Again at once: nothing changed, no history, every batch read its own scores.
    assert lead_scores_recompute(now=NOW) == 7
    assert LeadScoreHistory.objects.count() == 7


def test_a_single_batch_or_plain_mode_is_written_in_this_thread(writing_threads, monkeypatch):
    leads = seven_leads()
    main = threading.current_thread().name

    assert lead_scores_recompute(now=NOW, lead_ids=[leads[0].pk]) == 1
    monkeypatch.setattr(scoring, "PIPELINED", False)
    assert lead_scores_recompute(now=NOW) == 7

    assert writing_threads == [main] * 5
    assert LeadScore.objects.count() == 7


def test_an_error_in_a_batch_stops_the_recompute_keeping_the_batches_before(
    writing_threads, monkeypatch
):
    leads = seven_leads()
    upsert = scoring._upsert_scores
    calls = []

    def failing(moment, rows):
        calls.append([row[0] for row in rows])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        upsert(moment, rows)

    monkeypatch.setattr(scoring, "_upsert_scores", failing)

    with pytest.raises(RuntimeError, match="disk full"):
        lead_scores_recompute(now=NOW)

    # The first batch is written; the second rolled back whole (no scores, history or
    # Ratings); no batch after it was written.
    assert calls[:2] == [[leads[0].pk, leads[1].pk], [leads[2].pk, leads[3].pk]]
    assert len(calls) == 2
    assert sorted(LeadScore.objects.values_list("lead_id", "score")) == [
        (leads[0].pk, 50.0),
        (leads[1].pk, 25.0),
    ]
    assert sorted(LeadScoreHistory.objects.values_list("lead_id", flat=True)) == [
        leads[0].pk,
        leads[1].pk,
    ]
    assert [Lead.objects.get(pk=lead.pk).rating for lead in leads] == ["Warm", "Warm"] + [""] * 5
    if connection.vendor == "sqlite":
        assert writing_threads == [threading.current_thread().name] * 2
    else:
        assert writing_threads == ["lead-scores-writer"] * 2
        assert not any(thread.name == "lead-scores-writer" for thread in threading.enumerate())


def test_lead_scores_leave_half_of_each_page_free_on_postgresql():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT reloptions FROM pg_class WHERE relname = %s",
                [LeadScore._meta.db_table],
            )
            assert cursor.fetchone() == (["fillfactor=50"],)
        else:  # SQLite has no fillfactor; the table is as Django made it
            assert LeadScore._meta.db_table in connection.introspection.table_names(cursor)
