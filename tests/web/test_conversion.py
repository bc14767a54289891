"""The guided conversion page at /leads/<id>/convert/ (web/conversion.py)."""

import datetime
import html
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dealflow.accounts.models import Account, Contact
from dealflow.core import ids
from dealflow.core.models import IdempotencyRecord
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.sales.models import Opportunity, OpportunityContactRole
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

KEY = "0f8e2d54a6b94c61a1e7b3c2d9f0a4b5"


@pytest.fixture(autouse=True)
def frozen_today(freeze_clock):
    freeze_clock(datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC))


@pytest.fixture
def rep(client):
    user = UserFactory(username="rep", first_name="Robin", last_name="Rep")
    client.force_login(user)
    return user


@pytest.fixture
def lead(rep):
    return LeadFactory(
        first_name="Ada",
        last_name="Lovelace",
        company="Acme",
        email="ada@acme.test",
        website="acme.test",
        industry="Technology",
        city="London",
        lead_source="Web",
        owner_user=rep,
    )


def url(lead):
    return f"/leads/{lead.public_id}/convert/"


def text(response):
    """The page's text with tags removed and white space collapsed, as a reader sees it."""
    content = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(content).split())


def form(rep, **changes):
    data = {
        "idempotency_key": KEY,
        "account": "new",
        "contact": "new",
        "opportunity": "new",
        "opportunity_name": "Acme-",
        "converted_status": "Closed - Converted",
        "owner": rep.public_id,
    }
    data.update(changes)
    return data


def counts():
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
        Lead.objects.filter(is_converted=True).count(),
    )


def database_state():
    return {
        "accounts": list(Account.objects.values()),
        "contacts": list(Contact.objects.values()),
        "opportunities": list(Opportunity.objects.values()),
        "roles": list(OpportunityContactRole.objects.values()),
        "leads": list(Lead.objects.values()),
        "keys": list(IdempotencyRecord.objects.values()),
    }


# ---------------------------------------------------------------------------------------
# The page


def test_the_default_opportunity_name_is_the_company_cut_to_the_names_length(client, rep):
    """DOMAIN.md §5: the default name is the lead's Company (no trailing "-"), within the
    120 characters an opportunity's name may have, so converting with it is not refused."""
    company = "Birchstone Media " + "x" * 120
    lead = LeadFactory(last_name="Stone", company=company, owner_user=rep)

    content = client.get(url(lead)).content.decode()

    assert f'name="opportunity_name" value="{company[:120]}"' in content
    assert 'value="Birchstone Media-"' not in content
    response = client.post(url(lead), form(rep, opportunity_name=company[:120]))
    assert response.status_code == 302
    assert list(Opportunity.objects.values_list("name", flat=True)) == [company[:120]]


def test_the_page_offers_every_option_with_salesforce_defaults(client, rep, lead):
    response = client.get(url(lead))

    assert response.status_code == 200
    page = text(response)
    for label in (
        "Convert Lead",
        "Create new account: Acme",
        "Choose existing account",
        "Create new contact: Ada Lovelace",
        "Create a new opportunity",
        "Opportunity Name",
        "Don't create an opportunity",
        "Converted Status",
        "Record Owner",
        "Overwrite Lead Source",
        "Preview",
    ):
        assert label in page, label
    content = response.content.decode()
    # DOMAIN.md §5: the name defaults to the lead's Company, without a trailing hyphen.
    assert 'name="opportunity_name" value="Acme"' in content
    assert re.search(r'value="new" checked', content)
    assert '<option value="Closed - Converted" selected>' in content
    assert f'<option value="{rep.public_id}" selected>' in content
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', content)
    assert key, "a uuid4 idempotency key"
    assert key.group(1) != re.search(
        r'name="idempotency_key" value="([0-9a-f]{32})"', client.get(url(lead)).content.decode()
    ).group(1)
    # The preview is there on the first load, without a request of its own.
    assert "New Account : Acme New Contact : Ada Lovelace New Opportunity : Acme in stage" in page
    assert "in stage Prospecting" in page


def test_the_matching_account_is_suggested(client, rep, lead):
    account = AccountFactory(name="ACME", website="acme.example", owner=rep)
    AccountFactory(name="Zenith", owner=rep)

    response = client.get(url(lead))

    content = response.content.decode()
    # An account named as the company is offered first and chosen: no duplicate by default.
    assert f'id="account-{account.public_id}" value="{account.public_id}" checked' in content
    assert 'id="account-new" value="new">' in content
    assert "ACME acme.example" in text(response)
    assert "Zenith" not in text(response)


def test_an_account_whose_name_only_starts_with_the_company_is_not_chosen(client, rep, lead):
    account = AccountFactory(name="Acme Holdings", owner=rep)

    content = client.get(url(lead)).content.decode()

    assert f'id="account-{account.public_id}" value="{account.public_id}">' in content
    assert 'id="account-new" value="new" checked' in content


def test_choosing_the_account_suggests_its_matching_contacts_and_opportunities(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    ada = ContactFactory(first_name="ADA", last_name="Lovelace", account=account, owner=rep)
    ContactFactory(first_name="Charles", last_name="Babbage", account=account, owner=rep)
    deal = OpportunityFactory(name="Acme renewal", account=account, owner=rep)
    OpportunityFactory(name="Other account's deal", owner=rep)

    response = client.get(
        url(lead),
        {**form(rep, account=account.public_id), "part": "update", "account_shown": ""},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="conversion-related" hx-swap-oob="true"' in content
    assert f'value="{ada.public_id}"' in content
    assert "Babbage" not in content
    assert f'value="{deal.public_id}"' in content
    assert "Acme renewal Prospecting · closes 2026-12-31" in text(response)
    assert "Other account's deal" not in content
    # The preview: the account exists and gets its blank fields filled from the lead.
    page = text(response)
    assert "Existing Account : Acme Blank fields filled from the lead:" in page
    assert "Website acme.test Industry Technology Account Source Web Billing City London" in page


def test_an_update_for_the_same_account_sends_only_the_preview(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(
        first_name="Ada", last_name="Lovelace", email="", account=account, owner=rep
    )

    response = client.get(
        url(lead),
        {
            **form(rep, account=account.public_id, contact=contact.public_id),
            "part": "update",
            "account_shown": account.public_id,
        },
    )

    assert "conversion-related" not in response.content.decode()
    page = text(response)
    assert (
        "Existing Contact : Ada Lovelace Blank fields filled from the lead: Email ada@acme.test"
        in page
    )


def test_a_contact_of_another_account_falls_back_to_a_new_one(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    elsewhere = ContactFactory(first_name="Ada", last_name="Lovelace", owner=rep)

    response = client.get(
        url(lead),
        {
            **form(rep, account=account.public_id, contact=elsewhere.public_id),
            "part": "update",
            "account_shown": "",
        },
    )

    assert 'id="contact-new" value="new" checked' in response.content.decode()
    assert "New Contact : Ada Lovelace" in text(response)


def test_no_opportunity_and_an_unchosen_lookup_account_in_the_preview(client, rep, lead):
    response = client.get(url(lead), {**form(rep, opportunity="none"), "part": "update"})
    assert "No opportunity is created." in text(response)

    response = client.get(url(lead), {**form(rep, account="other"), "part": "update"})
    assert "Choose the existing account to convert into." in text(response)

    account = AccountFactory(name="Acme", owner=rep)
    response = client.get(
        url(lead), {**form(rep, account=account.public_id, contact="other"), "part": "update"}
    )
    assert "Choose the existing contact to convert into." in text(response)


# ---------------------------------------------------------------------------------------
# Converting


def test_convert_into_the_suggested_account(client, rep, lead):
    account = AccountFactory(name="ACME", industry="Finance", owner=rep)
    other_rep = UserFactory(username="other")

    response = client.post(
        url(lead),
        form(
            rep,
            account=account.public_id,
            opportunity_name="Acme-Engines",
            owner=other_rep.public_id,
        ),
    )

    assert (response.status_code, response["Location"]) == (302, url(lead))
    lead.refresh_from_db()
    assert lead.is_converted and lead.converted_account == account
    assert Account.objects.count() == 1
    account.refresh_from_db()
    # Only the blank fields were filled; Industry and Name are kept.
    assert (account.name, account.industry, account.website, account.billing_city) == (
        "ACME",
        "Finance",
        "acme.test",
        "London",
    )
    assert account.owner == rep
    contact = Contact.objects.get()
    assert (contact.account, contact.email, contact.owner) == (account, "ada@acme.test", other_rep)
    opportunity = Opportunity.objects.get()
    assert (opportunity.name, opportunity.account, opportunity.stage.name) == (
        "Acme-Engines",
        account,
        "Prospecting",
    )
    assert (opportunity.probability, opportunity.owner) == (10, other_rep)
    assert lead.converted_contact == contact and lead.converted_opportunity == opportunity

    done = client.get(url(lead))
    assert done.status_code == 200
    page = text(done)
    assert "Lead converted" in page
    assert "Account ACME Contact Ada Lovelace Opportunity Acme-Engines" in page
    content = done.content.decode()
    assert f'href="/accounts/{account.public_id}/"' in content
    assert f'href="/contacts/{contact.public_id}/"' in content
    assert f'href="/opportunities/{opportunity.public_id}/"' in content


def test_convert_into_existing_contact_and_opportunity(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    contact = ContactFactory(
        first_name="Ada", last_name="Lovelace", lead_source="Phone", account=account, owner=rep
    )
    deal = OpportunityFactory(name="Acme renewal", account=account, owner=rep)

    response = client.post(
        url(lead),
        form(
            rep,
            account=account.public_id,
            contact=contact.public_id,
            opportunity=deal.public_id,
            overwrite_lead_source="on",
        ),
    )

    assert response.status_code == 302
    assert counts() == (1, 1, 1, 1)
    contact.refresh_from_db()
    assert (contact.lead_source, contact.email) == ("Web", "ada@acme.test")
    assert OpportunityContactRole.objects.get().contact == contact


def test_convert_without_an_opportunity(client, rep, lead):
    response = client.post(url(lead), form(rep, opportunity="none"))

    assert response.status_code == 302
    assert counts() == (1, 1, 0, 1)
    assert "No opportunity was created" in text(client.get(url(lead)))


def test_convert_into_an_account_chosen_with_the_lookup(client, rep, lead):
    account = AccountFactory(name="Unrelated Name", owner=rep)

    response = client.post(url(lead), form(rep, account="other", account_other=account.public_id))

    assert response.status_code == 302
    assert Lead.objects.get().converted_account == account


def test_a_double_submit_with_the_same_key_converts_once(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    data = form(rep, account=account.public_id)

    first = client.post(url(lead), data)
    second = client.post(url(lead), data)

    assert (first.status_code, second.status_code) == (302, 302)
    assert counts() == (1, 1, 1, 1)
    assert "Lead converted" in text(client.get(second["Location"]))


def test_a_converted_lead_refuses_another_conversion(client, rep, lead):
    client.post(url(lead), form(rep))
    before = database_state()

    response = client.post(url(lead), form(rep, idempotency_key="another-key"))

    assert response.status_code == 400
    page = text(response)
    assert "Lead converted" in page
    assert "This lead was converted on 27 Nov 2026 and can no longer be converted." in page
    assert lead.public_id not in page
    assert database_state() == before


@pytest.mark.parametrize(
    ("changes", "label", "input_id", "words"),
    [
        (
            {"overwrite_lead_source": "on"},
            "Overwrite Lead Source",
            "conversion-overwrite-lead-source",
            "Only applies when converting into an existing contact.",
        ),
        (
            {"converted_status": "Qualified"},
            "Converted Status",
            "conversion-status",
            "&#x27;Qualified&#x27; is not a converted status (allowed: Closed - Converted).",
        ),
        (
            {"opportunity_name": "x" * 121},
            "Opportunity Name",
            "opportunity-name",
            "At most 120 characters.",
        ),
        (
            {"account": "other"},
            "Account",
            "account-other-search",
            "Choose the existing account, or create a new one.",
        ),
        (
            {"owner": "005000000000000AAA"},
            "Record Owner",
            "conversion-owner",
            "No user you can see has this id.",
        ),
    ],
)
def test_a_refusal_shows_the_reason_beside_its_input_and_changes_nothing(
    client, rep, lead, changes, label, input_id, words
):
    """A fresh user saw "account_id: choose the existing account, or create a new one"
    above the form: each reason is now in words beside the input it is about."""
    before = database_state()

    response = client.post(url(lead), form(rep, **changes))

    assert response.status_code == 400
    page = response.content.decode()
    assert f'<div class="field-error" id="{input_id}_error">{words}</div>' in page
    assert (
        '<div class="alert alert-danger" role="alert" id="conversion-error">'
        f'Not converted: correct <a href="#{input_id}">{label}</a>.</div>'
    ) in page
    assert re.search(rf'id="{input_id}"[^>]*aria-invalid="true"', page) or re.search(
        rf'class="[^"]*is-invalid"[^>]*id="{input_id}"', page
    )
    for internal in ("account_id", "owner_id", "opportunity_name:", "converted_status:"):
        assert internal not in page.split('id="conversion-error"')[1].split("</div>")[0]
    assert "Convert Lead" in page  # the form again, with the options as posted
    assert f'name="idempotency_key" value="{KEY}"' in response.content.decode()
    assert database_state() == before


def test_a_contact_outside_the_account_is_refused_with_the_reason(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    elsewhere = ContactFactory(last_name="Elsewhere", owner=rep)
    before = database_state()

    response = client.post(
        url(lead),
        form(rep, account=account.public_id, contact="other", contact_other=elsewhere.public_id),
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert 'Not converted: correct <a href="#contact-other-search">Contact</a>.</div>' in page
    assert (
        '<div class="field-error" id="contact-other-search_error">'
        f"{elsewhere} ({elsewhere.public_id}) does not belong to account"
        f" {account.name} ({account.public_id}).</div>"
    ) in page
    assert database_state() == before


@pytest.mark.parametrize("of_account", [True, False])
def test_the_preview_says_a_contact_outside_the_account_is_refused(client, rep, lead, of_account):
    """Before Convert is pressed: the contact chosen in "Another contact of <account>"
    belongs to another account (or none), so no preview promises it, and the reason is
    the service's, in words."""
    account = AccountFactory(name="Copperline Bank", owner=rep)
    other = AccountFactory(name="Elsewhere Inc", owner=rep) if of_account else None
    contact = ContactFactory(account=other, owner=rep, first_name="Vera", last_name="Parker")
    before = database_state()

    page = client.get(
        url(lead),
        {
            "part": "update",  # what the page asks for as the options change (htmx)
            "account": account.public_id,
            "account_shown": account.public_id,
            "contact": "other",
            "contact_other": contact.public_id,
        },
    ).content.decode()

    reason = "does not belong to account" if of_account else "belongs to no account, not to account"
    assert (
        '<div class="alert alert-warning" role="alert">'
        f"Vera Parker ({contact.public_id}) {reason} Copperline Bank ({account.public_id}).</div>"
    ) in page
    assert "Existing</span>\n      <strong>Contact</strong>" not in page
    assert "Blank fields filled from the lead" not in page
    assert database_state() == before


def test_a_queue_owned_lead_defaults_the_owner_to_the_converting_user(client, rep):
    queue = QueueFactory()
    queue.members.add(rep)
    lead = LeadFactory(company="Queue Co", owner_user=None, owner_queue=queue)

    page = client.get(url(lead)).content.decode()
    assert f'<option value="{rep.public_id}" selected>' in page

    response = client.post(url(lead), form(rep, opportunity_name=""))

    assert response.status_code == 302
    assert Opportunity.objects.get().name == "Queue Co"
    assert Account.objects.get().owner == rep


# ---------------------------------------------------------------------------------------
# Access and security


def test_another_reps_private_lead_is_a_404(client, rep):
    sharing_default_set(actor=None, object_name="Lead", access="private")
    hidden = LeadFactory(company="Secret", owner_user=UserFactory(username="other"))

    assert client.get(url(hidden)).status_code == 404
    assert client.post(url(hidden), form(rep)).status_code == 404
    assert client.get(url(hidden), {"part": "update"}).status_code == 404
    assert not Lead.objects.get().is_converted


def test_a_rep_who_may_only_read_the_lead_cannot_convert_it(client, rep):
    sharing_default_set(actor=None, object_name="Lead", access="read")
    other_lead = LeadFactory(company="Theirs", owner_user=UserFactory(username="other"))
    before = database_state()

    page = client.get(url(other_lead))
    assert "you cannot convert it" in text(page)
    assert re.search(r"data-conversion-submit disabled", page.content.decode())

    response = client.post(url(other_lead), form(rep))

    assert response.status_code == 403
    assert f"you may not change Lead {other_lead.public_id}" in text(response)
    assert database_state() == before


def test_a_private_account_of_another_rep_is_neither_suggested_nor_usable(client, rep, lead):
    sharing_default_set(actor=None, object_name="Account", access="private")
    hidden = AccountFactory(name="Acme", owner=UserFactory(username="other"))
    before = database_state()

    assert hidden.public_id not in client.get(url(lead)).content.decode()
    response = client.post(url(lead), form(rep, account=hidden.public_id))

    assert response.status_code == 400
    assert (
        '<div class="field-error" id="account-other-search_error">'
        "No account you can see has this id.</div>"
    ) in response.content.decode()
    assert database_state() == before


def test_the_form_needs_its_csrf_token(rep, lead):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rep)

    assert 'name="csrfmiddlewaretoken"' in browser.get(url(lead)).content.decode()
    assert browser.post(url(lead), form(rep)).status_code == 403
    assert not Lead.objects.get().is_converted


def test_user_data_is_escaped(client, rep):
    script = "<script>alert(1)</script>"
    lead = LeadFactory(first_name=script, last_name="X", company=script, owner_user=rep)
    AccountFactory(name=script, website=script, owner=rep)

    content = client.get(url(lead)).content.decode()

    assert script not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    client.post(url(lead), form(rep))
    assert script not in client.get(url(lead)).content.decode()


# ---------------------------------------------------------------------------------------
# Query counts


def _queries(client, path, data=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, data or {})
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_for_5_and_50_suggested_accounts(client, rep, lead):
    for number in range(5):
        AccountFactory(name=f"Acme {number:02}", owner=rep)
    _queries(client, url(lead))  # warm the configuration caches
    with_five = _queries(client, url(lead))
    for number in range(5, 50):
        AccountFactory(name=f"Acme {number:02}", owner=rep)

    assert _queries(client, url(lead)) == with_five


def test_the_update_costs_the_same_for_5_and_50_contacts_and_opportunities(client, rep, lead):
    sharing_default_set(actor=None, object_name="Contact", access="private")
    account = AccountFactory(name="Acme", owner=rep)

    def add(count):
        for _number in range(count):
            ContactFactory(first_name="Ada", last_name="Lovelace", account=account, owner=rep)
            OpportunityFactory(account=account, owner=rep)

    data = {**form(rep, account=account.public_id), "part": "update", "account_shown": ""}
    add(5)
    _queries(client, url(lead), data)
    with_five = _queries(client, url(lead), data)
    add(45)

    assert _queries(client, url(lead), data) == with_five


def test_the_converted_page_costs_a_fixed_number_of_queries(client, rep, lead):
    client.post(url(lead), form(rep))
    _queries(client, url(lead))

    assert _queries(client, url(lead)) <= 8


def test_a_conversion_runs_a_bounded_number_of_queries(client, rep, lead):
    account = AccountFactory(name="Acme", owner=rep)
    client.get(url(lead))  # warm the configuration caches

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(lead), form(rep, account=account.public_id))

    assert response.status_code == 302
    assert len(queries) <= 30
    assert ids.decode(response["Location"].split("/")[2], "Lead")[1] == lead.pk


def test_an_update_after_the_lead_was_converted_elsewhere_says_so(client, rep, lead):
    client.post(url(lead), form(rep))

    response = client.get(url(lead), {**form(rep), "part": "update"})

    assert response.status_code == 200
    assert text(response) == "This lead has been converted meanwhile. See what it became ."
