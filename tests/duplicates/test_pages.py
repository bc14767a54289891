"""Pages: the new lead, contact and account forms show the matches with "Save anyway";
the review queue lists groups side by side for admins and managers."""

from __future__ import annotations

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.duplicates.models import DuplicateGroup, DuplicateGroupStatus
from dealflow.duplicates.scan import duplicates_scan
from dealflow.duplicates.services import duplicate_keys_refresh
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from tests.factories import AccountFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def text(response):
    return response.content.decode()


@pytest.fixture
def rep(client):
    user = UserFactory(role=Role.REP)
    client.force_login(user)
    return user


def test_a_new_lead_like_another_shows_it_and_saves_only_when_asked(client, rep):
    form = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Engines",
        "owner_id": rep.public_id,
    }
    client.post("/leads/new/", form)
    first = Lead.objects.get()

    refused = client.post("/leads/new/", {**form, "company": "Engines Ltd"})

    assert refused.status_code == 400
    page = text(refused)
    assert f'<a href="/leads/{first.public_id}/">Ada Lovelace (Engines)</a>' in page
    assert "Name and company, score 100.0" in page
    assert (
        '<button class="btn btn-warning" type="submit" name="allow_duplicates" value="1">Save anyway</button>'
        in page
    )
    assert 'value="Engines Ltd"' in page  # what was typed is kept
    assert Lead.objects.count() == 1

    saved = client.post("/leads/new/", {**form, "company": "Engines Ltd", "allow_duplicates": "1"})
    assert saved.status_code == 302
    assert Lead.objects.count() == 2


def test_contact_and_account_pages_check_too(client, rep):
    acme = AccountFactory(name="Acme, Inc.", owner=rep)
    duplicate_keys_refresh(object_name="Account")
    refused = client.post("/accounts/new/", {"name": "ACME GmbH", "owner_id": rep.public_id})
    assert refused.status_code == 400
    assert f'<a href="/accounts/{acme.public_id}/">Acme, Inc.</a>' in text(refused)
    saved = client.post(
        "/accounts/new/", {"name": "ACME GmbH", "owner_id": rep.public_id, "allow_duplicates": "1"}
    )
    assert saved.status_code == 302
    assert Account.objects.count() == 2

    form = {
        "first_name": "Jon",
        "last_name": "Snow",
        "email": "jon@wall.example",
        "owner_id": rep.public_id,
    }
    assert client.post("/contacts/new/", form).status_code == 302
    again = client.post("/contacts/new/", {**form, "first_name": "J."})
    assert again.status_code == 400
    assert "Email, score 100.0" in text(again)
    assert Contact.objects.count() == 1


def test_a_match_the_user_cannot_see_is_not_named(client, rep):
    from dealflow.duplicates.services import duplicate_rules_set

    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    duplicate_rules_set(actor=None, rules={"Lead": {"record_level_security": "bypass"}})
    hidden = LeadFactory(
        first_name="Ada", last_name="Lovelace", company="Engines", email="secret@hidden.example"
    )
    duplicate_keys_refresh(object_name="Lead")
    refused = client.post(
        "/leads/new/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Engines",
            "owner_id": rep.public_id,
        },
    )
    assert refused.status_code == 400
    page = text(refused)
    assert "A record you cannot see" in page
    assert hidden.public_id not in page and "secret" not in page


@pytest.fixture
def groups(db):
    owner = UserFactory()
    leads = [
        LeadFactory(
            first_name="Ada", last_name="Lovelace", company="Engines <script>", owner_user=owner
        ),
        LeadFactory(
            first_name="Ada", last_name="Lovelace", company="Engines <script> Ltd", owner_user=owner
        ),
    ]
    duplicate_keys_refresh(object_name="Lead")
    duplicates_scan(object_name="Lead")
    return leads


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_the_queue_shows_records_side_by_side_escaped(client, groups, role):
    client.force_login(UserFactory(role=role))
    page = text(client.get("/duplicates/"))
    assert DuplicateGroup.objects.count() == 1
    assert "2 leads: Ada Lovelace, Ada Lovelace" in page
    assert (
        f'<a href="/leads/{groups[0].public_id}/">Ada Lovelace (Engines &lt;script&gt;)</a>' in page
    )
    assert "<td>Engines &lt;script&gt; Ltd</td>" in page
    assert "<script>" not in page.split("<main", 1)[-1]
    assert ("Scan now" in page) == (role == Role.ADMIN)
    assert (
        '<a class="nav-link" href="/duplicates/">Duplicates</a>' in page or "Duplicates</a>" in page
    )


def test_reps_may_not_open_the_queue(client, rep, groups):
    assert client.get("/duplicates/").status_code == 403
    group = DuplicateGroup.objects.get()
    assert client.post(f"/duplicates/{group.pk}/dismiss/").status_code == 403
    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.OPEN
    assert "/duplicates/" not in text(client.get("/"))


def test_dismiss_from_the_queue(client, groups):
    client.force_login(UserFactory(role=Role.MANAGER))
    group = DuplicateGroup.objects.get()
    response = client.post(f"/duplicates/{group.pk}/dismiss/")
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == DuplicateGroupStatus.DISMISSED
    assert "2 leads: Ada Lovelace, Ada Lovelace" not in text(client.get("/duplicates/"))
    assert "2 leads: Ada Lovelace, Ada Lovelace" in text(
        client.get("/duplicates/", {"status": "dismissed"})
    )


def test_admins_start_a_scan(client, groups):
    DuplicateGroup.objects.all().delete()
    client.force_login(UserFactory(role=Role.ADMIN))
    assert client.post("/duplicates/scan/").status_code == 302
    assert DuplicateGroup.objects.count() == 1  # eager without a broker
    client.force_login(UserFactory(role=Role.MANAGER))
    assert client.post("/duplicates/scan/").status_code == 403
