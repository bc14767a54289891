"""What a new user found on the duplicates and merge pages: the merge can be found again
(the merged group, the merges list, the timeline), converted leads are marked, the
choose step searches and says what is wrong, the words read as words, and the queue's
Scan now, Dismiss and Restore say what happened."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.services import sharing_default_set
from dealflow.duplicates.merge import model_rows, records_merge
from dealflow.duplicates.models import DuplicateGroup, DuplicateGroupStatus, Merge
from dealflow.duplicates.scan import duplicates_scan
from dealflow.duplicates.services import (
    duplicate_group_dismiss,
    duplicate_group_restore,
    duplicate_keys_refresh,
)
from dealflow.leads.models import Lead
from dealflow.leads.services import default_lead_status
from dealflow.people.models import Role
from tests.factories import LeadFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

MERGE = "/duplicates/merge/"


def text(response):
    return response.content.decode()


@pytest.fixture
def manager(client):
    user = UserFactory(role=Role.MANAGER, first_name="Mia", last_name="Manager")
    client.force_login(user)
    return user


@pytest.fixture
def lucy(manager):
    """Two Lucys the rules match (same name and company), one with a task; scanned."""
    owner = UserFactory(role=Role.REP)
    first = LeadFactory(
        owner_user=owner,
        first_name="Lucy",
        last_name="Diaz",
        company="Acme",
        email="lucy@acme.example",
        annual_revenue=Decimal("356478000"),
    )
    second = LeadFactory(
        owner_user=owner,
        first_name="Lucy",
        last_name="Diaz",
        company="Acme",
        email="",
        annual_revenue=Decimal("1200.5"),
    )
    TaskFactory(lead=second, owner=owner)
    duplicate_keys_refresh(object_name="Lead", record_ids=[first.pk, second.pk])
    duplicates_scan(object_name="Lead")
    return first, second


def merged(actor, lucy):
    first, second = lucy
    return records_merge(actor=actor, object_name="Lead", master_id=first.pk, loser_ids=[second.pk])


# 1. The merge can be found again


def test_a_merged_group_links_to_its_merge_with_undo(client, manager, lucy):
    merge = merged(manager, lucy)
    page = text(client.get("/duplicates/", {"status": "merged"}))
    assert "Merged into Lucy Diaz" in page
    assert f'href="/duplicates/merges/{merge.pk}/">View merge</a>' in page
    assert f'action="/duplicates/merges/{merge.pk}/undo/" data-confirm=' in page
    assert "1 records" not in page


def test_the_merges_list_offers_undo_and_comes_back(client, manager, lucy):
    first, second = lucy
    merge = merged(manager, lucy)
    queue = text(client.get("/duplicates/"))
    assert 'href="/duplicates/merges/">Merges</a>' in queue
    page = text(client.get("/duplicates/merges/"))
    assert f'<a href="/duplicates/merges/{merge.pk}/">Merge of 2 leads into Lucy Diaz</a>' in page
    assert "Lucy Diaz (Acme)" in page  # the merged lead, named from the snapshot
    assert '<input type="hidden" name="next" value="list">' in page

    response = client.post(f"/duplicates/merges/{merge.pk}/undo/", {"next": "list"})

    assert response.status_code == 302 and response["Location"] == "/duplicates/merges/"
    assert sorted(Lead.objects.values_list("pk", flat=True)) == sorted([first.pk, second.pk])
    after = text(client.get("/duplicates/merges/"))
    assert "Undo merge</button>" not in after and "Undone " in after


def test_a_rep_may_not_open_the_merges_list(client, lucy):
    rep = UserFactory(role=Role.REP)
    client.force_login(rep)
    assert client.get("/duplicates/merges/").status_code == 403


def test_a_manager_lists_only_merges_whose_master_they_may_see(client, manager, lucy):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    admin = UserFactory(role=Role.ADMIN)
    merge = merged(admin, lucy)
    page = text(client.get("/duplicates/merges/"))
    # A manager sees their team's records only; the owner is in no team of theirs.
    assert f"/duplicates/merges/{merge.pk}/" not in page
    client.force_login(admin)
    assert f"/duplicates/merges/{merge.pk}/" in text(client.get("/duplicates/merges/"))


def test_the_timeline_says_merged_with_in_words_and_links_the_merge(client, manager, lucy):
    first, second = lucy
    merge = records_merge(
        actor=manager,
        object_name="Lead",
        master_id=first.pk,
        loser_ids=[second.pk],
        field_choices={"email": second.pk},  # blank: the undo puts the email back
    )
    page = text(client.get(f"/leads/{first.public_id}/"))
    link = f'<a href="/duplicates/merges/{merge.pk}/">Lucy Diaz ({second.public_id})</a>'
    assert f"Merged with {link} by Mia Manager" in page
    assert "Merged records:" not in page and "[&#x27;" not in page
    assert "Merge:</span>" not in page

    client.post(f"/duplicates/merges/{merge.pk}/undo/")

    page = text(client.get(f"/leads/{first.public_id}/"))
    assert f"Merge undone: {link} back" in page
    assert "Email key:" not in page and "Company key:" not in page
    restored = text(client.get(f"/leads/{second.public_id}/"))
    assert f'Restored by undoing <a href="/duplicates/merges/{merge.pk}/">the merge</a>' in restored
    assert (
        f'Merged into <a href="/leads/{first.public_id}/">' in restored
        and f'(<a href="/duplicates/merges/{merge.pk}/">the merge</a>)' in restored
    )


def test_a_merged_away_record_reads_merged_into_in_one_line_after_the_undo(client, manager, lucy):
    """After an undo the restored lead's timeline showed the merge's delete event with
    every field wiped ("Company: Acme → (blank)", "Owner user: … → (blank)")."""
    first, second = lucy
    merge = records_merge(
        actor=manager, object_name="Lead", master_id=first.pk, loser_ids=[second.pk]
    )
    client.post(f"/duplicates/merges/{merge.pk}/undo/")

    restored = text(client.get(f"/leads/{second.public_id}/"))

    activity = restored[restored.index('id="timeline-title"') :]
    merged_into = activity[
        activity.index("Merged into") : activity.index("</li>", activity.index("Merged into"))
    ]
    assert merged_into.split("</strong>")[0] == (
        f'Merged into <a href="/leads/{first.public_id}/">Lucy Diaz (Acme)</a>'
        f' (<a href="/duplicates/merges/{merge.pk}/">the merge</a>) by Mia Manager'
    )
    assert "<ul" not in merged_into  # no list of fields under it
    for internal in ("(blank)", "Owner user", "Owner queue", "Is converted", "Is Converted"):
        assert internal not in activity


# 2. Converted leads


def test_a_converted_lead_is_marked_and_not_offered(client, manager, lucy):
    _first, second = lucy
    Lead.objects.filter(pk=second.pk).update(is_converted=True)
    queue = text(client.get("/duplicates/"))
    assert "Converted: cannot be merged" in queue
    assert f"{MERGE}?object=Lead" not in queue  # one mergeable record left: no Merge
    choose = text(client.get(MERGE, {"object": "Lead", "ids": f"{second.public_id}"}))
    assert f'name="ids" value="{second.public_id}" disabled' in choose
    assert "Converted: cannot be merged" in choose


# 3. The choose step


def test_the_choose_step_searches_what_the_user_may_see(client, manager, lucy):
    first, _second = lucy
    other = LeadFactory(owner_user=manager, first_name="Tom", last_name="Zed", company="Zeta")
    hidden_owner = UserFactory(role=Role.REP)
    sharing_default_set(actor=None, object_name="Lead", access="private")
    LeadFactory(owner_user=hidden_owner, first_name="Tom", last_name="Zimmer", company="Zork")
    page = text(
        client.get(MERGE, {"object": "Lead", "ids": other.public_id, "q": "Z", "step": "search"})
    )
    assert 'id="merge-search-results"' in page
    assert "Zimmer" not in page
    assert f'name="ids" value="{other.public_id}" checked' in page
    found = text(client.get(MERGE, {"object": "Lead", "q": "luc", "step": "search"}))
    assert "Lucy Diaz (Acme)" not in found  # private now, not the manager's team
    client.force_login(UserFactory(role=Role.ADMIN))
    found = text(client.get(MERGE, {"object": "Lead", "q": "luc", "step": "search"}))
    assert f'name="ids" value="{first.public_id}">' in found


def test_compare_with_one_record_asks_for_two(client, manager, lucy):
    first, _second = lucy
    response = client.get(MERGE, {"object": "Lead", "ids": first.public_id, "step": "compare"})
    assert response.status_code == 400
    assert "Choose at least two records to merge." in text(response)
    arriving = client.get(MERGE, {"object": "Lead", "ids": first.public_id})
    assert arriving.status_code == 200 and "Choose at least two" not in text(arriving)


def test_records_no_rule_matches_may_merge_with_a_warning(client, manager, lucy):
    first, _second = lucy
    other = LeadFactory(owner_user=manager, first_name="Tom", last_name="Zed", company="Zeta")
    page = text(
        client.get(MERGE, {"object": "Lead", "ids": f"{first.public_id},{other.public_id}"})
    )
    assert (
        "These records do not look like duplicates: no duplicate rule matches Tom Zed with "
        "Lucy Diaz." in page
    )
    assert page.index('id="merge-warning"') < page.index('type="submit">Merge</button>')
    _first, second = lucy
    alike = text(
        client.get(MERGE, {"object": "Lead", "ids": f"{first.public_id},{second.public_id}"})
    )
    assert 'id="merge-warning"' not in alike


def test_the_breadcrumb_leads_a_rep_to_the_lead_list_not_a_403(client, lucy):
    first, second = lucy
    client.force_login(first.owner_user)
    page = text(
        client.get(MERGE, {"object": "Lead", "ids": f"{first.public_id},{second.public_id}"})
    )
    assert '<div class="page-pretitle"><a href="/leads/">Leads</a></div>' in page
    assert "/duplicates/?object=Lead" not in page


# 4. Words


def test_the_merge_page_reads_in_words(client, manager, lucy):
    first, second = lucy
    body = text(
        client.get(MERGE, {"object": "Lead", "ids": f"{first.public_id},{second.public_id}"})
    )
    assert "356,478,000.00" in body and "1,200.50" in body
    # Two records of the same name: the id tells them apart (only then).
    stays = f'Stays: <a href="/leads/{first.public_id}/">Lucy Diaz (Acme) ({first.public_id})</a>'
    assert stays in body
    merge = merged(manager, lucy)
    done = text(client.get(f"/duplicates/merges/{merge.pk}/"))
    assert '<h1 class="page-title">Merge of 2 leads into Lucy Diaz</h1>' in done
    assert "<dt>Related records moved</dt>\n      <dd>1 task</dd>" in done
    assert '<div class="me-auto text-body">Merged 1 lead into' in done  # dark text on green


def test_the_queue_heading_score_and_dates_read_as_words(client, manager, lucy):
    group = DuplicateGroup.objects.get()
    page = text(client.get("/duplicates/"))
    assert "2 leads: Lucy Diaz, Lucy Diaz</h2>" in page
    assert f"Match {group.score.normalize():f}%" in page
    first, _second = lucy
    assert f"<td>{first.created_at.date().isoformat()}</td>" in page
    assert "records</h2>" not in page


# 5. Scan now, Dismiss, Restore


def test_scan_now_says_what_it_found_when_run_in_process(client, lucy):
    DuplicateGroup.objects.all().delete()
    client.force_login(UserFactory(role=Role.ADMIN))
    page = text(client.post("/duplicates/scan/", follow=True))
    assert "Scan finished: 1 new group (1 found in all)." in page
    again = text(client.post("/duplicates/scan/", follow=True))
    assert "Scan finished: 0 new groups (1 found in all)." in again
    assert "has started" not in again


def test_dismiss_asks_and_restore_reopens(client, manager, lucy):
    group = DuplicateGroup.objects.get()
    page = text(client.get("/duplicates/"))
    assert f'action="/duplicates/{group.pk}/dismiss/" data-confirm="Dismiss this group?' in page
    client.post(f"/duplicates/{group.pk}/dismiss/")
    dismissed = text(client.get("/duplicates/", {"status": "dismissed"}))
    assert f'action="/duplicates/{group.pk}/restore/"' in dismissed

    response = client.post(f"/duplicates/{group.pk}/restore/", follow=True)

    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.OPEN
    assert group.resolved_at is None and group.resolved_by is None
    assert "The group is open again" in text(response)


def test_restore_refuses_a_group_that_is_not_dismissed_and_changes_nothing(manager, lucy):
    group = DuplicateGroup.objects.get()
    with pytest.raises(DomainError) as raised:
        duplicate_group_restore(actor=manager, group_id=group.pk)
    assert raised.value.code == ErrorCode.INVALID_STATUS
    assert raised.value.message == (
        "This group is open, not dismissed: only a dismissed group can be restored."
    )
    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.OPEN
    duplicate_group_dismiss(actor=manager, group_id=group.pk)
    restored = duplicate_group_restore(actor=manager, group_id=group.pk)
    assert restored.status == DuplicateGroupStatus.OPEN
    rep = UserFactory(role=Role.REP)
    duplicate_group_dismiss(actor=manager, group_id=group.pk)
    with pytest.raises(DomainError) as refused:
        duplicate_group_restore(actor=rep, group_id=group.pk)
    assert refused.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.DISMISSED


# 6. The new-lead page's email conflict


def test_new_lead_with_a_taken_email_names_the_lead_the_user_may_see(client, manager, lucy):
    first, _second = lucy
    data = {
        "last_name": "New",
        "company": "Acme",
        "email": first.email,
        "status": default_lead_status().name,
    }
    before = model_rows(Lead, Lead.objects.all())
    client.force_login(first.owner_user)
    page = text(client.post("/leads/new/", data))
    assert (
        f'An open lead already has this email: <a href="/leads/{first.public_id}/">Lucy Diaz</a>'
        in page
    )
    assert first.public_id not in page.split('id="email-holder"', 1)[1].split("</div>", 1)[1]
    sharing_default_set(actor=None, object_name="Lead", access="private")
    client.force_login(UserFactory(role=Role.REP))
    hidden = text(client.post("/leads/new/", data))
    assert 'id="email-holder"' not in hidden and "Lucy" not in hidden
    assert "An unconverted lead you cannot see already has the email" in hidden
    assert model_rows(Lead, Lead.objects.all()) == before
    assert Merge.objects.count() == 0


def test_scan_now_with_a_broker_says_it_started_on_a_worker(client, lucy, settings, monkeypatch):
    from dealflow.duplicates import tasks

    queued = []
    monkeypatch.setattr(tasks.scan_duplicates, "delay", lambda: queued.append(True))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client.force_login(UserFactory(role=Role.ADMIN))
    page = text(client.post("/duplicates/scan/", follow=True))
    assert queued == [True]
    assert "The duplicate scan has started on a worker" in page
    assert "Scan finished" not in page
