"""Account and contact pages: lists, details and their related lists, create, edit, delete."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import OpportunityContactRole
from dealflow.web import record_pages
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    UserFactory,
)
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db


def table_cells(response) -> list[list[str]]:
    """The text of each body row's cells of the page's first table."""
    body = text(response).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    found = []
    for row in re.findall(r"<tr.*?</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells])
    return found


# ---------------------------------------------------------------------------------------
# Lists


def test_account_list_shows_the_columns_and_only_what_a_rep_may_see(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    AccountFactory(
        name="Acme",
        website="acme.test",
        phone="555-0100",
        industry="Technology",
        type="Customer",
        owner=rep,
    )
    AccountFactory(name="Hidden Corp", owner=other_rep)

    response = signed_in.get("/accounts/")

    assert response.status_code == 200
    assert table_cells(response) == [
        ["Acme", "acme.test", "555-0100", "Technology", "Customer", "Robin Rep"]
    ]
    assert "Hidden Corp" not in text(response)


def test_account_list_searches_filters_and_sorts(signed_in, rep):
    AccountFactory(name="Acme", type="Customer", owner=rep)
    AccountFactory(name="Acorn", type="Prospect", owner=rep)
    AccountFactory(name="Zeta", type="Customer", owner=rep)

    def names(query: str) -> list[str]:
        return [row[0] for row in table_cells(signed_in.get(f"/accounts/?{query}"))]

    assert names("") == ["Acme", "Acorn", "Zeta"]
    assert names("q=ac") == ["Acme", "Acorn"]
    assert names("type=customer") == ["Acme", "Zeta"]
    assert names("order_by=-name") == ["Zeta", "Acorn", "Acme"]
    page = text(signed_in.get("/accounts/?order_by=name"))
    assert 'aria-sort="ascending"' in page
    assert 'href="?order_by=-name"' in page  # the header sorts the other way next


def test_account_list_pages_by_keyset(signed_in, rep, monkeypatch):
    monkeypatch.setattr(record_pages, "PAGE_SIZE", 2)
    for name in ("Alpha", "Bravo", "Charlie"):
        AccountFactory(name=name, owner=rep)

    first = signed_in.get("/accounts/")
    assert [row[0] for row in table_cells(first)] == ["Alpha", "Bravo"]
    next_url = re.search(r'href="([^"]+)" rel="next">Next page', text(first)).group(1)
    second = signed_in.get("/accounts/" + next_url.replace("&amp;", "&"))
    assert [row[0] for row in table_cells(second)] == ["Charlie"]
    assert "Next page" not in text(second)


def test_a_bad_filter_is_shown_next_to_it_and_not_applied(signed_in, rep):
    AccountFactory(name="Acme", owner=rep)

    response = signed_in.get("/accounts/?created_after=yesterday")

    assert response.status_code == 200
    assert 'id="filter_created_after_error">expected a date YYYY-MM-DD<' in text(response)
    assert [row[0] for row in table_cells(response)] == ["Acme"]


def test_a_cursor_from_another_order_shows_a_message_not_an_error(signed_in, rep, monkeypatch):
    monkeypatch.setattr(record_pages, "PAGE_SIZE", 1)
    AccountFactory(name="Alpha", owner=rep)
    AccountFactory(name="Bravo", owner=rep)
    first = text(signed_in.get("/accounts/"))
    cursor = re.search(r"cursor=([^\"&]+)", first).group(1)

    response = signed_in.get(f"/accounts/?order_by=-name&cursor={cursor}")

    assert response.status_code == 200
    assert "it was made for another order_by" in text(response)


def test_contact_list_shows_account_names_owner_and_escapes(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    mine = AccountFactory(name=XSS, owner=rep)
    theirs = AccountFactory(name="Their Account", owner=other_rep)
    ContactFactory(
        first_name="Ann",
        last_name="Able",
        account=mine,
        title="CEO",
        email="ann@able.test",
        phone="555-1",
        owner=rep,
    )
    ContactFactory(first_name="Ben", last_name="Baker", account=theirs, owner=rep)

    response = signed_in.get("/contacts/")

    assert table_cells(response) == [
        [
            "Ann Able",
            XSS.replace("<", "&lt;").replace(">", "&gt;"),
            "CEO",
            "ann@able.test",
            "555-1",
            "Robin Rep",
        ],
        # The account the rep may not see is not named.
        ["Ben Baker", "", "", "", "", "Robin Rep"],
    ]
    assert XSS not in text(response)
    assert "Their Account" not in text(response)


def test_contact_list_filters_by_owner_and_lead_source(signed_in, rep, other_rep):
    ContactFactory(last_name="Mine", lead_source="Web", owner=rep)
    ContactFactory(last_name="Theirs", lead_source="Web", owner=other_rep)
    ContactFactory(last_name="Phoned", lead_source="Phone Inquiry", owner=rep)

    def names(query: str) -> list[str]:
        return [row[0] for row in table_cells(signed_in.get(f"/contacts/?{query}"))]

    assert names(f"owner={rep.public_id}") == ["Alex Mine", "Alex Phoned"]
    assert names("lead_source=web") == ["Alex Mine", "Alex Theirs"]


@pytest.mark.parametrize("url", ["/accounts/", "/contacts/"])
def test_lists_run_the_same_queries_for_5_and_50_rows(signed_in, rep, url):
    def make(count: int) -> None:
        for _ in range(count):
            ContactFactory(account=AccountFactory(owner=UserFactory()), owner=UserFactory())

    make(5)
    with_5 = queries_of(signed_in, url)
    make(45)
    assert queries_of(signed_in, url) == with_5


# ---------------------------------------------------------------------------------------
# Details


def test_account_detail_shows_fields_grouped_and_related_lists(signed_in, rep):
    account = AccountFactory(
        name="Acme",
        industry="Technology",
        annual_revenue=1500000,
        billing_city="Lyon",
        description="Big one",
        owner=rep,
    )
    ContactFactory(first_name="Ann", last_name="Able", account=account, owner=rep)
    OpportunityFactory(name="Acme Renewal", account=account, amount=2500, owner=rep)
    LeadFactory(
        first_name="Lee",
        last_name="Lead",
        company="Acme",
        is_converted=True,
        converted_account=account,
        owner_user=rep,
    )
    LeadFactory(last_name="Unrelated", owner_user=rep)

    response = signed_in.get(f"/accounts/{account.public_id}/")

    page = text(response)
    assert response.status_code == 200
    for heading in ("Account Information", "Address Information", "Description Information"):
        assert f'<h2 class="h4">{heading}</h2>' in page
    assert "<dt>Annual Revenue</dt>\n            <dd>1,500,000.00</dd>" in page
    assert "<dt>Billing City</dt>\n            <dd>Lyon</dd>" in page
    assert "<dt>Owner</dt>\n            <dd>Robin Rep</dd>" in page
    assert "Contacts (1)" in page and ">Ann Able</a>" in page
    assert "Opportunities (1)" in page and ">Acme Renewal</a>" in page
    assert "<td>2,500.00</td>" in page
    assert "Converted Leads (1)" in page and ">Lee Lead</a>" in page
    assert "Unrelated" not in page
    # The task form asks which contact: an account is a task's "what", never its "who".
    assert f'name="what_id" value="{account.public_id}"' in page
    assert 'hx-get="/lookup/?objects=Contact"' in page


def test_account_related_lists_show_only_what_the_rep_may_see(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    sharing_default_set(actor=None, object_name="Contact", access=Access.PRIVATE)
    account = AccountFactory(owner=rep)
    OpportunityFactory(name="My Deal", account=account, owner=rep)
    OpportunityFactory(name="Secret Deal", account=account, owner=other_rep)
    ContactFactory(last_name="Visible", account=account, owner=rep)
    ContactFactory(last_name="Invisible", account=account, owner=other_rep)

    page = text(signed_in.get(f"/accounts/{account.public_id}/"))

    assert "Opportunities (1)" in page and "My Deal" in page
    assert "Secret Deal" not in page
    assert "Contacts (1)" in page and "Visible" in page
    assert "Invisible" not in page


def test_related_lists_show_the_first_ten_and_how_many_more(signed_in, rep):
    account = AccountFactory(owner=rep)
    for _ in range(12):
        ContactFactory(account=account, owner=rep)

    page = text(signed_in.get(f"/accounts/{account.public_id}/"))

    assert "Contacts (12)" in page
    assert "and 2 more" in page
    all_url = f"/contacts/?account={account.public_id}"
    assert f'<a href="{all_url}">View all contacts</a>' in page
    ContactFactory(owner=rep)  # on no account
    assert len(table_cells(signed_in.get(all_url))) == 12


def test_a_private_account_of_another_rep_is_404(signed_in, other_rep):
    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    account = AccountFactory(owner=other_rep)

    for suffix in ("", "edit/", "delete/"):
        assert signed_in.get(f"/accounts/{account.public_id}/{suffix}").status_code == 404
    assert signed_in.get("/accounts/001000000000000XXX/").status_code == 404


def test_contact_detail_shows_account_roles_converted_leads_and_task_form(signed_in, rep):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(first_name="Ann", last_name="Able", account=account, owner=rep)
    deal = OpportunityFactory(name="Acme Deal", account=account, amount=100, owner=rep)
    OpportunityFactory(name="Other Deal", account=account, owner=rep)
    OpportunityContactRole.objects.create(
        opportunity=deal, contact=contact, role="Decision Maker", is_primary=True
    )
    LeadFactory(last_name="Origin", is_converted=True, converted_contact=contact, owner_user=rep)

    page = text(signed_in.get(f"/contacts/{contact.public_id}/"))

    assert f'<a href="/accounts/{account.public_id}/">Acme</a>' in page
    assert "Opportunities (1)" in page
    assert "<td>Decision Maker · Primary</td>" in page
    assert "Other Deal" not in page
    assert "Converted Leads (1)" in page and "Origin" in page
    assert f'name="who_id" value="{contact.public_id}"' in page
    assert f'name="next" value="/contacts/{contact.public_id}/"' in page


def test_contact_detail_hides_a_deal_the_rep_may_not_see(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    contact = ContactFactory(owner=rep)
    secret = OpportunityFactory(name="Secret Deal", owner=other_rep)
    OpportunityContactRole.objects.create(opportunity=secret, contact=contact)

    page = text(signed_in.get(f"/contacts/{contact.public_id}/"))

    assert "Opportunities (0)" in page
    assert "Secret Deal" not in page


def test_details_escape_user_data(signed_in, rep):
    account = AccountFactory(name=XSS, description=XSS, owner=rep)
    contact = ContactFactory(first_name=XSS, account=account, owner=rep)

    for url in (f"/accounts/{account.public_id}/", f"/contacts/{contact.public_id}/"):
        page = text(signed_in.get(url))
        assert XSS not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_account_detail_runs_the_same_queries_for_5_and_50_related_rows(signed_in, rep):
    account = AccountFactory(owner=rep)
    url = f"/accounts/{account.public_id}/"

    def make(count: int) -> None:
        for _ in range(count):
            owner = UserFactory()
            ContactFactory(account=account, owner=owner)
            OpportunityFactory(account=account, owner=owner)
            LeadFactory(is_converted=True, converted_account=account, owner_user=owner)

    make(5)
    with_5 = queries_of(signed_in, url)
    make(45)
    assert queries_of(signed_in, url) == with_5


def test_contact_detail_runs_the_same_queries_for_5_and_50_deals(signed_in, rep):
    contact = ContactFactory(owner=rep)
    url = f"/contacts/{contact.public_id}/"

    def make(count: int) -> None:
        for _ in range(count):
            deal = OpportunityFactory(owner=UserFactory())
            OpportunityContactRole.objects.create(opportunity=deal, contact=contact, role="User")

    make(5)
    with_5 = queries_of(signed_in, url)
    make(45)
    assert queries_of(signed_in, url) == with_5


def test_detail_pages_are_remembered_as_recently_viewed(signed_in, rep):
    account = AccountFactory(owner=rep)
    contact = ContactFactory(owner=rep)

    signed_in.get(f"/accounts/{account.public_id}/")
    signed_in.get(f"/contacts/{contact.public_id}/")

    assert signed_in.session["recently_viewed"] == [
        ["Contact", contact.public_id],
        ["Account", account.public_id],
    ]


# ---------------------------------------------------------------------------------------
# Create, edit, delete


def test_creating_an_account_without_a_name_is_refused_next_to_the_name(signed_in, rep):
    response = signed_in.post(
        "/accounts/new/", {"name": "", "phone": "555-0199", "owner_id": rep.public_id}
    )

    assert response.status_code == 400
    page = text(response)
    assert re.search(r'id="id_name" name="name" value=""[^>]*aria-invalid="true"', page)
    assert '<div class="field-error" id="id_name_error">' in page
    assert 'value="555-0199"' in page  # what was typed is kept
    assert Account.objects.count() == 0


def test_creating_an_account_opens_it(signed_in, rep):
    form = signed_in.get("/accounts/new/")
    assert form.status_code == 200
    assert f'<option value="{rep.public_id}" selected>' in text(form)

    response = signed_in.post(
        "/accounts/new/",
        {
            "name": "Acme",
            "industry": "Technology",
            "annual_revenue": "12000.50",
            "owner_id": rep.public_id,
        },
    )

    account = Account.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/accounts/{account.public_id}/")
    assert (account.name, account.industry, account.owner) == ("Acme", "Technology", rep)
    assert str(account.annual_revenue) == "12000.50"


def test_editing_a_contact_changes_it_through_the_service(signed_in, rep):
    old_account = AccountFactory(name="Old Co", owner=rep)
    new_account = AccountFactory(name="New Co", owner=rep)
    contact = ContactFactory(first_name="Ann", last_name="Able", account=old_account, owner=rep)

    form = text(signed_in.get(f"/contacts/{contact.public_id}/edit/"))
    assert 'value="Able"' in form
    assert 'value="Old Co"' in form  # the account lookup shows its name

    response = signed_in.post(
        f"/contacts/{contact.public_id}/edit/",
        {
            "first_name": "Ann",
            "last_name": "Baker",
            "account_id": new_account.public_id,
            "email": "ann@baker.test",
            "owner_id": rep.public_id,
            "do_not_call": "on",
        },
    )

    assert (response.status_code, response["Location"]) == (302, f"/contacts/{contact.public_id}/")
    contact.refresh_from_db()
    assert (contact.last_name, contact.account, contact.email, contact.do_not_call) == (
        "Baker",
        new_account,
        "ann@baker.test",
        True,
    )


def test_a_contact_on_an_account_the_rep_may_not_see_is_refused_inline(signed_in, rep, other_rep):
    sharing_default_set(actor=None, object_name="Account", access=Access.PRIVATE)
    hidden = AccountFactory(owner=other_rep)
    contact = ContactFactory(last_name="Able", account=None, owner=rep)

    response = signed_in.post(
        f"/contacts/{contact.public_id}/edit/",
        {"last_name": "Able", "account_id": hidden.public_id, "owner_id": rep.public_id},
    )

    assert response.status_code == 400
    assert 'id="id_account_id_error">no Account you can see has this id<' in text(response)
    contact.refresh_from_db()
    assert contact.account is None


def test_new_contact_from_an_account_fills_in_the_account(signed_in, rep):
    account = AccountFactory(name="Acme", owner=rep)

    page = text(signed_in.get(f"/contacts/new/?account={account.public_id}"))

    assert f'name="account_id" value="{account.public_id}"' in page
    assert 'value="Acme"' in page


def test_a_rep_with_read_only_access_may_not_edit_or_delete(signed_in, other_rep):
    sharing_default_set(actor=None, object_name="Account", access=Access.READ)
    account = AccountFactory(name="Acme", owner=other_rep)

    assert signed_in.get(f"/accounts/{account.public_id}/").status_code == 200
    assert signed_in.get(f"/accounts/{account.public_id}/edit/").status_code == 403
    response = signed_in.post(f"/accounts/{account.public_id}/delete/")
    assert response.status_code == 403
    assert Account.objects.filter(pk=account.pk).exists()


def test_deleting_asks_for_confirmation_then_deletes(signed_in, rep):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(account=account, owner=rep)

    confirm = signed_in.get(f"/accounts/{account.public_id}/delete/")
    assert confirm.status_code == 200
    assert "Delete account “Acme”?" in text(confirm)
    assert Account.objects.filter(pk=account.pk).exists()

    response = signed_in.post(f"/accounts/{account.public_id}/delete/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/")
    assert not Account.objects.filter(pk=account.pk).exists()
    contact.refresh_from_db()
    assert contact.account is None  # contacts stay, without the account

    response = signed_in.post(f"/contacts/{contact.public_id}/delete/")
    assert (response.status_code, response["Location"]) == (302, "/contacts/")
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/new/",
        "/contacts/new/",
        "{account}edit/",
        "{account}delete/",
        "{contact}edit/",
        "{contact}delete/",
    ],
)
def test_every_form_needs_the_csrf_token(rep, path):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(last_name="Able", account=account, owner=rep)
    url = path.format(
        account=f"/accounts/{account.public_id}/", contact=f"/contacts/{contact.public_id}/"
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert 'name="csrfmiddlewaretoken"' in text(client.get(url))

    response = client.post(
        url, {"name": "Changed", "last_name": "Changed", "owner_id": rep.public_id}
    )

    assert response.status_code == 403
    assert list(Account.objects.values_list("name", flat=True)) == ["Acme"]
    assert list(Contact.objects.values_list("last_name", flat=True)) == ["Able"]
