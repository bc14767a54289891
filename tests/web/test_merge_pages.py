"""The merge pages: choose from a record page, compare side by side with a radio per
field, the preview, Merge (CSRF), the banner with Undo merge, and the queue's link."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from dealflow.core.services import sharing_default_set
from dealflow.duplicates.merge import model_rows
from dealflow.duplicates.models import DuplicateGroup, DuplicateGroupMember, Merge
from dealflow.duplicates.services import duplicate_keys_refresh
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.sales.models import Task
from tests.factories import AccountFactory, LeadFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

MERGE = "/duplicates/merge/"


def text(response):
    return response.content.decode()


@pytest.fixture
def rep(client):
    user = UserFactory(role=Role.REP)
    client.force_login(user)
    return user


@pytest.fixture
def pair(rep):
    master = LeadFactory(
        owner_user=rep, first_name="Ada", last_name="Lovelace", company="Engines", phone=""
    )
    other = LeadFactory(
        owner_user=rep,
        first_name="Ada",
        last_name="Lovelace",
        company="Engines <Ltd>",
        phone="+44 20 7946 0000",
    )
    TaskFactory(lead=other, owner=rep)
    duplicate_keys_refresh(object_name="Lead", record_ids=[master.pk, other.pk])
    return master, other


def state():
    return model_rows(Lead, Lead.objects.all()), model_rows(Task, Task.objects.all())


def test_the_record_page_links_to_merge_and_offers_its_duplicates(client, pair):
    master, other = pair
    page = text(client.get(f"/leads/{master.public_id}/"))
    assert f'href="{MERGE}?object=Lead&amp;ids={master.public_id}"' in page

    choose = client.get(MERGE, {"object": "Lead", "ids": master.public_id})

    assert choose.status_code == 200
    body = text(choose)
    assert f'name="ids" value="{master.public_id}" checked' in body
    assert f'name="ids" value="{other.public_id}">' in body  # offered, not chosen
    assert "Engines &lt;Ltd&gt;" in body


def test_the_compare_page_shows_a_radio_per_differing_field_and_the_preview(client, pair):
    master, other = pair
    response = client.get(MERGE, {"object": "Lead", "ids": f"{master.public_id},{other.public_id}"})
    assert response.status_code == 200
    body = text(response)
    assert f'name="master" value="{master.public_id}" checked' in body
    assert f'name="field_phone" value="{other.public_id}"' in body
    assert (
        f'name="field_phone" value="{master.public_id}" aria-describedby="field-phone" checked'
        in body
    )
    assert 'name="field_last_name"' not in body  # the same in both: nothing to choose
    assert "Engines &lt;Ltd&gt;" in body and "<Ltd>" not in body
    assert re.search(
        r'<form method="post"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', body
    )
    assert "<li>1 task</li>" in body

    preview = client.get(
        MERGE,
        {
            "object": "Lead",
            "ids": f"{master.public_id},{other.public_id}",
            "field_phone": other.public_id,
            "part": "preview",
        },
    )
    assert preview.status_code == 200
    assert "<dt>Phone</dt><dd>+44 20 7946 0000</dd>" in text(preview)
    assert "<html" not in text(preview)


def test_merge_then_undo_from_the_banner(client, pair):
    master, other = pair
    before = state()

    response = client.post(
        MERGE,
        {
            "object": "Lead",
            "ids": f"{master.public_id},{other.public_id}",
            "master": master.public_id,
            "field_phone": other.public_id,
        },
    )

    merge = Merge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("merge_detail", args=[merge.pk])
    assert list(Lead.objects.values_list("pk", "phone")) == [(master.pk, "+44 20 7946 0000")]
    banner = text(client.get(response["Location"]))
    assert "Merged 1 lead into" in banner
    assert "Engines &lt;Ltd&gt;" in banner  # the merged lead, named from the snapshot
    assert f'action="/duplicates/merges/{merge.pk}/undo/"' in banner
    assert "Undo merge" in banner

    undone = client.post(f"/duplicates/merges/{merge.pk}/undo/", follow=True)

    assert state() == before
    body = text(undone)
    assert "Merge undone: the merged record is back, with its related records." in body
    assert "Undo merge" not in body
    assert "This merge was undone" in body


def test_undoing_a_merge_of_three_says_two_records_are_back(client, pair, rep):
    master, other = pair
    third = LeadFactory(owner_user=rep, first_name="Ada", last_name="Lovelace", company="E")
    before = state()
    client.post(
        MERGE,
        {
            "object": "Lead",
            "ids": f"{master.public_id},{other.public_id},{third.public_id}",
            "master": master.public_id,
        },
    )
    merge = Merge.objects.get()
    assert Lead.objects.count() == 1

    undone = client.post(f"/duplicates/merges/{merge.pk}/undo/", follow=True)

    assert state() == before
    assert "Merge undone: the 2 merged records are back, with their related records." in text(
        undone
    )


def test_a_merge_without_the_csrf_token_is_refused(pair, rep):
    master, other = pair
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    before = state()
    response = client.post(
        MERGE, {"object": "Lead", "ids": f"{master.public_id},{other.public_id}"}
    )
    assert response.status_code == 403
    assert state() == before
    assert Merge.objects.count() == 0


def test_a_refused_undo_says_why_and_changes_nothing(client, pair, rep):
    master, other = pair
    client.post(
        MERGE,
        {
            "object": "Lead",
            "ids": f"{master.public_id},{other.public_id}",
            "master": master.public_id,
            "field_phone": other.public_id,
        },
    )
    merge = Merge.objects.get()
    Lead.objects.filter(pk=master.pk).update(phone="+44 20 7946 1111")
    before = state()
    response = client.post(f"/duplicates/merges/{merge.pk}/undo/", follow=True)
    assert "The merge was not undone: " in text(response)
    assert "was changed since the merge (phone)" in text(response)
    assert state() == before


def test_a_converted_lead_is_refused_on_the_page(client, pair):
    master, other = pair
    Lead.objects.filter(pk=other.pk).update(is_converted=True)
    before = state()
    response = client.post(
        MERGE, {"object": "Lead", "ids": f"{master.public_id},{other.public_id}"}
    )
    assert response.status_code == 400
    assert (
        f"Lead {other.first_name} {other.last_name} was converted and cannot be merged "
        "(Salesforce refuses this too)."
    ) in text(response)
    assert state() == before


def test_an_invisible_record_is_404_and_not_named(client, pair, rep):
    master, _other = pair
    sharing_default_set(actor=None, object_name="Lead", access="private")
    hidden = LeadFactory(first_name="Secret", last_name="Person")
    before = state()
    for response in (
        client.get(MERGE, {"object": "Lead", "ids": f"{master.public_id},{hidden.public_id}"}),
        client.post(MERGE, {"object": "Lead", "ids": f"{master.public_id},{hidden.public_id}"}),
    ):
        assert response.status_code == 404
        assert "Secret" not in text(response)
    # On the choose step it is named as typed, the same as an id of no record: "no lead
    # with id X that you can see" says nothing of whether it exists.
    choose = client.get(MERGE, {"object": "Lead", "ids": hidden.public_id})
    assert choose.status_code == 404
    assert f"No lead with id {hidden.public_id} that you can see." in text(choose)
    assert "Secret" not in text(choose)
    assert f'value="{hidden.public_id}"' not in text(choose)  # not offered
    nothing = client.get(MERGE, {"object": "Lead", "ids": f"{master.public_id},x"})
    assert nothing.status_code == 404
    assert "No lead with id x that you can see." in text(nothing)
    assert f'name="ids" value="{master.public_id}" checked' in text(nothing)
    assert state() == before


def test_more_than_three_records_ask_to_choose(client, rep):
    leads = [LeadFactory(owner_user=rep) for _ in range(4)]
    response = client.get(
        MERGE, {"object": "Lead", "ids": ",".join(lead.public_id for lead in leads)}
    )
    assert response.status_code == 200
    assert "Choose at most 3 records to merge at once." in text(response)


def test_accounts_merge_from_the_account_page(client, rep):
    first, second = (
        AccountFactory(owner=rep, name="Initech"),
        AccountFactory(owner=rep, name="Initech Inc"),
    )
    page = text(client.get(f"/accounts/{first.public_id}/"))
    assert f'href="{MERGE}?object=Account&amp;ids={first.public_id}"' in page
    response = client.post(
        MERGE,
        {
            "object": "Account",
            "ids": [first.public_id, second.public_id],
            "master": second.public_id,
        },
    )
    assert response.status_code == 302
    assert list(Merge.objects.values_list("master_record_id", "merged_record_ids")) == [
        (second.pk, [first.pk])
    ]


def test_the_review_queue_links_each_open_group_to_the_merge_page(client, pair):
    master, other = pair
    manager = UserFactory(role=Role.MANAGER)
    client.force_login(manager)
    group = DuplicateGroup.objects.create(
        object_type="Lead",
        signature="s",
        rule="Name and company",
        score=100,
        record_count=2,
        last_found_at="2026-03-01T00:00:00Z",
    )
    for record in (master, other):
        DuplicateGroupMember.objects.create(group=group, record_id=record.pk)
    page = text(client.get("/duplicates/"))
    assert (
        f'href="{MERGE}?object=Lead&amp;ids={master.public_id},{other.public_id}">Merge</a>' in page
    )


def test_another_master_keeps_the_columns_and_takes_its_own_values(client, pair):
    master, other = pair
    response = client.get(
        MERGE,
        {
            "object": "Lead",
            "ids": f"{master.public_id},{other.public_id}",
            "master": other.public_id,
        },
    )
    body = text(response)
    # The columns stay in the order named; the radios follow the new master.
    assert body.index(f'name="master" value="{master.public_id}"') < body.index(
        f'name="master" value="{other.public_id}"'
    )
    assert f'name="master" value="{other.public_id}" checked' in body
    assert re.search(
        rf'name="field_phone" value="{other.public_id}" aria-describedby="field-phone" checked',
        body,
    )
    assert f'Stays: <a href="/leads/{other.public_id}/">' in body
    # The master radio asks for the page again (htmx), without the field choices.
    assert 'hx-include="#merge-form [name=object], #merge-form [name=ids]"' in body
