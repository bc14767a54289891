"""The lead list's default view: the one a user chose last for a bare /leads/, else My open
leads, or All open leads for an admin or manager who owns no open lead; the page's links
and its CSV download keep the view it shows."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from dealflow.leads.models import LeadStatus
from dealflow.people.models import Role
from tests.factories import LeadFactory, QueueFactory, UserFactory
from tests.web.helpers import text

pytestmark = pytest.mark.django_db


def shown(response) -> tuple[str, list[str]]:
    """(the active view's label, the Name column in order)."""
    content = text(response)
    active = re.search(
        r'<a class="nav-link active" href="\?view=[^"]*" aria-current="page">([^<]*)</a>', content
    )
    names = re.findall(r'<td><a href="/leads/[0-9A-Za-z]{18}/">([^<]*)</a></td>', content)
    return unescape(active.group(1)), sorted(unescape(name) for name in names)


@pytest.fixture
def others_leads():
    """Two open leads of a rep, one converted, one closed."""
    rep = UserFactory(username="seller")
    LeadFactory(owner_user=rep, last_name="Open1")
    LeadFactory(owner_user=rep, last_name="Open2")
    LeadFactory(owner_user=rep, last_name="Converted", is_converted=True)
    LeadFactory(
        owner_user=rep,
        last_name="Closed",
        status=LeadStatus.objects.get(name="Closed - Not Converted"),
    )
    return rep


def signed_in(client, **values):
    user = UserFactory(**values)
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_an_admin_or_manager_without_open_leads_lands_on_all_open_leads(client, others_leads, role):
    manager = signed_in(client, role=role)
    LeadFactory(owner_user=manager, last_name="MineConverted", is_converted=True)

    response = client.get("/leads/")

    assert response.status_code == 200
    assert shown(response) == ("All open leads", ["Robin Open1", "Robin Open2"])


def test_an_admin_who_owns_an_open_lead_lands_on_my_open_leads(client, others_leads):
    admin = signed_in(client, role=Role.ADMIN)
    LeadFactory(owner_user=admin, last_name="Mine")

    assert shown(client.get("/leads/")) == ("My open leads", ["Robin Mine"])


def test_a_rep_without_leads_still_lands_on_my_open_leads(client, others_leads):
    signed_in(client, role=Role.REP)

    assert shown(client.get("/leads/")) == ("My open leads", [])


def test_the_links_and_the_download_keep_the_default_view(client, others_leads):
    signed_in(client, role=Role.ADMIN)

    content = text(client.get("/leads/"))

    sort_link = unescape(re.search(r'href="(\?[^"]*order_by=company[^"]*)"', content).group(1))
    assert parse_qs(urlsplit(sort_link).query) == {"order_by": ["company"], "view": ["open"]}
    assert '<a class="btn btn-outline-secondary" href="/leads/download/?view=open" download>' in (
        content
    )
    download = client.get("/leads/download/?view=open")
    rows = b"".join(download.streaming_content).decode().splitlines()
    assert len(rows) == 3  # the header and the two open leads


def test_a_filtered_address_without_a_view_takes_the_role_default(client, others_leads):
    signed_in(client, role=Role.ADMIN)

    response = client.get("/leads/", {"q": "open1"})

    assert shown(response) == ("All open leads", ["Robin Open1"])


def test_a_bare_address_opens_the_view_chosen_last(client, others_leads):
    rep = signed_in(client, role=Role.REP, username="rep")
    LeadFactory(owner_user=rep, last_name="Mine")

    assert shown(client.get("/leads/?view=converted"))[0] == "Converted"
    assert shown(client.get("/leads/")) == ("Converted", ["Robin Converted"])
    content = text(client.get("/leads/"))
    assert 'href="/leads/download/?view=converted"' in content  # the links name it
    # An address with filters but no view is a link from elsewhere: the role's default.
    assert shown(client.get("/leads/", {"q": "mine"})) == ("My open leads", ["Robin Mine"])
    assert shown(client.get("/leads/?view=mine"))[0] == "My open leads"
    assert shown(client.get("/leads/")) == ("My open leads", ["Robin Mine"])


def test_a_remembered_queue_view_ends_with_the_membership(client, others_leads):
    rep = signed_in(client, role=Role.REP)
    queue = QueueFactory(name="Inbound")
    queue.members.add(rep)
    LeadFactory(owner_user=None, owner_queue=queue, last_name="Queued")
    assert shown(client.get(f"/leads/?view=queue-{queue.public_id}")) == (
        "Queue: Inbound",
        ["Robin Queued"],
    )
    assert shown(client.get("/leads/"))[0] == "Queue: Inbound"

    queue.members.remove(rep)

    assert shown(client.get("/leads/")) == ("My open leads", [])


def test_an_unknown_view_is_not_remembered(client, others_leads):
    signed_in(client, role=Role.ADMIN)

    client.get("/leads/?view=nonsense")

    assert "dealflow:lead-list-view" not in client.session
    assert shown(client.get("/leads/"))[0] == "All open leads"
