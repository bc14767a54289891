"""The qualification checklist on the lead page and the convert page (web/qualification.py)."""

import html
import re

import pytest
from django.test import Client

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import Access, AuditEvent
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadQualificationAnswer, QualificationOverride
from dealflow.leads.qualification import lead_qualification_set, qualification_settings_set
from dealflow.people.models import Role
from dealflow.sales.models import Opportunity
from tests.factories import LeadFactory, TaskFactory, UserFactory
from tests.web.helpers import XSS, queries_of

pytestmark = pytest.mark.django_db

KEY = "6a1f0c3e9b7d4e2f8a5c1b0d3e7f9a2c"
BANT = ("budget", "authority", "need", "timeline")


@pytest.fixture
def rep(client):
    user = UserFactory(first_name="Robin", last_name="Rep")
    client.force_login(user)
    return user


@pytest.fixture
def lead(rep):
    return LeadFactory(owner_user=rep, company="Acme")


def page(lead):
    return f"/leads/{lead.public_id}/"


def save_url(lead):
    return f"/leads/{lead.public_id}/qualification/"


def convert_url(lead):
    return f"/leads/{lead.public_id}/convert/"


def text(response):
    """The page's text with tags removed and white space collapsed, as a reader sees it."""
    content = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(content).split())


def require_bant(minimum=None):
    qualification_settings_set(actor=None, required_framework="BANT", minimum_items=minimum)


def convert_form(rep, **changes):
    return {
        "idempotency_key": KEY,
        "account": "new",
        "contact": "new",
        "opportunity": "new",
        "opportunity_name": "Acme-",
        "converted_status": "Closed - Converted",
        "owner": rep.public_id,
        **changes,
    }


def database_state():
    return (
        Account.objects.count(),
        Contact.objects.count(),
        Opportunity.objects.count(),
        list(Lead.objects.values_list("pk", "is_converted", "status_id", "updated_at")),
        QualificationOverride.objects.count(),
    )


# ---------------------------------------------------------------------------------------
# The lead page's panel


def test_the_lead_page_shows_the_checklist_with_labelled_inputs(client, lead):
    response = client.get(page(lead))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Qualification: BANT" in text(response)
    # Nothing requires the checklist: a count, not a verdict.
    assert "0 of 4 met" in text(response)
    assert "Not qualified" not in text(response)
    for key in BANT:
        assert f'<label class="form-check-label" for="qualification-{key}-met">' in content
        assert f'for="qualification-{key}-note"' in content
    assert "Save qualification" in content


def test_a_required_checklist_not_met_says_not_qualified(client, lead):
    require_bant(minimum=3)

    response = client.get(page(lead))

    assert "Not qualified: 0 of 3 needed met" in text(response)


def test_a_converted_lead_shows_a_count_not_a_verdict(client, rep, lead):
    require_bant()
    Lead.objects.filter(pk=lead.pk).update(is_converted=True)

    response = client.get(page(lead))

    assert "0 of 4 met" in text(response)
    assert "Not qualified" not in text(response)


def test_saving_the_checklist_sets_items_and_returns_to_the_lead(client, rep, lead):
    response = client.post(
        save_url(lead),
        {"framework": "BANT", "met_budget": "1", "note_budget": "50k", "note_need": "Churn"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{page(lead)}?framework=BANT"
    answers = {
        answer.item.key: (answer.met, answer.note, answer.set_by)
        for answer in LeadQualificationAnswer.objects.select_related("item")
    }
    assert answers == {"budget": (True, "50k", rep), "need": (False, "Churn", rep)}
    shown = text(client.get(response["Location"]))
    assert "Qualification (BANT) saved." in shown
    assert "Set by Robin Rep on" in shown
    assert AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk).count() == 1


def test_another_framework_is_shown_and_saved(client, rep, lead):
    response = client.get(page(lead), {"framework": "MEDDIC"})
    assert "Qualification: MEDDIC" in text(response)
    assert 'for="qualification-economic_buyer-met"' in response.content.decode()

    client.post(save_url(lead), {"framework": "MEDDIC", "met_champion": "1"})
    # The last framework answered is the one shown by default.
    assert "Qualification: MEDDIC" in text(client.get(page(lead)))


def test_an_unknown_framework_in_the_address_shows_the_default(client, lead):
    assert "Qualification: BANT" in text(client.get(page(lead), {"framework": "<b>SPIN</b>"}))


def test_a_refused_save_shows_the_reason_and_changes_nothing(client, lead):
    response = client.post(
        save_url(lead), {"framework": "BANT", "met_need": "1", "note_budget": "x" * 2001}
    )

    assert response.status_code == 400
    assert "note: at most 2000 characters" in text(response)
    assert 'id="qualification-need-met" name="met_need" value="1" checked' in (
        response.content.decode()
    )
    assert not LeadQualificationAnswer.objects.exists()


def test_an_unknown_framework_is_refused(client, lead):
    response = client.post(save_url(lead), {"framework": "SPIN", "met_budget": "1"})
    assert response.status_code == 400
    assert "framework: expected one of BANT, CHAMP, MEDDIC" in text(response)
    assert not LeadQualificationAnswer.objects.exists()


def test_notes_are_escaped(client, rep, lead):
    lead_qualification_set(
        actor=rep, lead=lead, framework="BANT", items={"budget": {"met": True, "note": XSS}}
    )
    for path in (page(lead), save_url(lead), convert_url(lead)):
        content = client.get(path).content.decode()
        assert XSS not in content, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, path


def test_a_rep_gets_404_on_another_reps_private_lead(client, lead):
    sharing_default_set(actor=None, object_name="Lead", access=Access.PRIVATE)
    other = UserFactory()
    client.force_login(other)

    assert client.get(save_url(lead)).status_code == 404
    response = client.post(save_url(lead), {"framework": "BANT", "met_budget": "1"})
    assert response.status_code == 404
    assert not LeadQualificationAnswer.objects.exists()


def test_a_read_only_lead_shows_the_checklist_without_a_form_and_refuses_a_post(client, lead):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    client.force_login(UserFactory())

    content = client.get(page(lead)).content.decode()
    assert "Qualification: BANT" in content
    assert "Save qualification" not in content
    response = client.post(save_url(lead), {"framework": "BANT", "met_budget": "1"})
    assert response.status_code == 403
    assert not LeadQualificationAnswer.objects.exists()


def test_the_form_needs_its_csrf_token(rep, lead):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rep)

    assert "csrfmiddlewaretoken" in browser.get(page(lead)).content.decode()
    assert "csrfmiddlewaretoken" in browser.get(save_url(lead)).content.decode()
    response = browser.post(save_url(lead), {"framework": "BANT", "met_budget": "1"})
    assert response.status_code == 403
    assert not LeadQualificationAnswer.objects.exists()


def test_the_lead_page_costs_the_same_for_5_and_50_rows(client, rep, lead):
    def add(count):
        for number in range(count):
            AuditEvent.objects.create(
                actor=rep,
                object_name="Lead",
                record_id=lead.pk,
                action="update",
                changes={"title": [str(number), str(number + 1)]},
            )
            TaskFactory(lead=lead, owner=rep)

    # Each item set by another user: their names come with the answers.
    for key in BANT:
        lead_qualification_set(
            actor=UserFactory(role=Role.MANAGER),
            lead=lead,
            framework="BANT",
            items={key: {"met": True, "note": key}},
        )
    add(5)
    five = queries_of(client, page(lead))
    add(45)
    fifty = queries_of(client, page(lead))

    assert five == fifty


# ---------------------------------------------------------------------------------------
# The convert page


def test_without_a_required_framework_the_convert_page_says_so(client, lead):
    shown = text(client.get(convert_url(lead)))
    assert "No framework is required before conversion." in shown
    assert "Override reason" not in shown


def test_the_convert_page_names_what_is_missing(client, rep, lead):
    require_bant(3)
    lead_qualification_set(actor=rep, lead=lead, framework="BANT", items={"budget": {"met": True}})

    shown = text(client.get(convert_url(lead)))

    assert (
        "Conversion requires 3 of the 4 BANT items met (1 met). "
        "Missing: Authority, Need, Timeline." in shown
    )
    assert "ask a manager or admin to override" in shown
    assert "Override reason" not in shown  # a rep may not override


def test_a_refused_conversion_shows_the_reason_and_changes_nothing(client, rep, lead):
    require_bant()
    before = database_state()

    response = client.post(convert_url(lead), convert_form(rep))

    assert response.status_code == 400
    assert "missing: Budget, Authority, Need, Timeline" in text(response)
    assert database_state() == before


def test_a_rep_posting_an_override_reason_is_refused(client, rep, lead):
    require_bant()
    before = database_state()
    response = client.post(
        convert_url(lead), convert_form(rep, qualification_override_reason="Please")
    )
    assert response.status_code == 403
    assert database_state() == before


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_a_manager_or_admin_overrides_with_a_reason(client, rep, lead, role):
    require_bant()
    boss = UserFactory(role=role, first_name="Bea", last_name="Boss")
    client.force_login(boss)
    assert "Override reason" in text(client.get(convert_url(lead)))

    response = client.post(
        convert_url(lead), convert_form(rep, qualification_override_reason=f"Board {XSS}")
    )

    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).is_converted
    override = QualificationOverride.objects.get(lead=lead)
    assert (override.reason, override.overridden_by) == (f"Board {XSS}", boss)
    content = client.get(page(lead)).content.decode()
    assert XSS not in content
    shown = text(client.get(page(lead)))
    assert f"Override reason: Board {XSS}" in shown
    assert "By Bea Boss on" in shown
    assert "Save qualification" not in shown  # a converted lead's checklist is read-only


def test_a_qualified_lead_converts_from_the_page(client, rep, lead):
    require_bant()
    lead_qualification_set(
        actor=rep, lead=lead, framework="BANT", items={key: {"met": True} for key in BANT}
    )
    assert "Qualified: 4 of the 4 items conversion requires are met." in text(
        client.get(convert_url(lead))
    )

    response = client.post(convert_url(lead), convert_form(rep))

    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).is_converted
    assert not QualificationOverride.objects.exists()


def test_without_any_framework_the_pages_show_no_checklist(client, rep, lead):
    from dealflow.leads.models import QualificationFramework

    QualificationFramework.objects.all().delete()

    for path in (page(lead), convert_url(lead)):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Qualification:" not in text(response), path
