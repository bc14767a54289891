"""The Django admin back office: every model's pages, writes through the services,
read-only converted leads, the conversion action and constant-query change lists."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import AuditAction, AuditEvent, IdempotencyRecord
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.qualification import lead_qualification_set, qualification_settings_set
from dealflow.leads.service_levels import service_levels_set
from dealflow.leads.services import lead_convert, lead_create
from dealflow.leads.web_to_lead import web_to_lead_settings_set
from dealflow.people.models import ApiToken, Role, User
from dealflow.people.services import token_create
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
    TaskStatus,
)
from dealflow.sales.services import opportunity_update, task_create
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DEALFLOW_APPS = ("core", "people", "accounts", "leads", "sales")
MODEL_LABELS = [
    "core.picklistvalue",
    "core.auditevent",
    "core.idempotencyrecord",
    "core.sharingdefault",
    "core.configurationversion",
    "people.user",
    "people.team",
    "people.queue",
    "people.apitoken",
    "accounts.account",
    "accounts.contact",
    "leads.leadstatus",
    "leads.lead",
    "leads.qualificationframework",
    "leads.qualificationitem",
    "leads.qualificationsetting",
    "leads.leadqualificationanswer",
    "leads.qualificationoverride",
    "leads.servicelevelsetting",
    "leads.webtoleadsetting",
    "sales.opportunitystage",
    "sales.opportunity",
    "sales.opportunitycontactrole",
    "sales.opportunityhistory",
    "sales.task",
]


def admin_url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def default_status() -> LeadStatus:
    return LeadStatus.objects.get(is_default=True)


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def change_form_data(response) -> dict:
    """What a browser would post back from a change form page, unchanged."""
    form = response.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
            continue
        data[name] = (
            field.widget.format_value(value) if hasattr(field.widget, "format_value") else value
        )
        if data[name] is None:
            data[name] = ""
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    data["_save"] = "Save"
    return data


@pytest.fixture
def records(admin_user):
    """At least one record of every model, written the way the product writes them."""
    team = TeamFactory()
    admin_user.team = team
    admin_user.save()
    QueueFactory().members.add(admin_user)
    token_create(actor=admin_user, user=admin_user, name="cli")
    lead = lead_create(
        actor=admin_user,
        data={"last_name": "Doe", "first_name": "Jane", "company": "Acme", "email": "j@acme.test"},
    )
    task_create(actor=admin_user, subject="Call Jane", who=lead)
    # Converted with a qualification override, and then no framework required again.
    qualification_settings_set(actor=admin_user, required_framework="BANT")
    result = lead_convert(
        actor=admin_user,
        lead=lead,
        idempotency_key="admin-test-1",
        qualification_override_reason="Strategic account",
    )
    qualification_settings_set(actor=admin_user, required_framework=None)
    opportunity = Opportunity.objects.get(pk=result.opportunity_id)
    opportunity_update(actor=admin_user, opportunity=opportunity, data={"amount": "1000"})
    queued = LeadFactory(owner_user=None, owner_queue=QueueFactory())
    lead_qualification_set(
        actor=admin_user, lead=queued, framework="BANT", items={"budget": {"met": True}}
    )
    sharing_default_set(actor=admin_user, object_name="Lead", access="read_write")
    service_levels_set(actor=admin_user, response_hours=4)
    web_to_lead_settings_set(actor=admin_user, allowed_return_hosts=["www.example.com"])
    return result


# ---------------------------------------------------------------------------------------
# Every model has working pages


def test_every_dealflow_model_is_registered():
    for app_label in DEALFLOW_APPS:
        for model in apps.get_app_config(app_label).get_models():
            assert model in admin.site._registry, model
    assert sorted(MODEL_LABELS) == sorted(
        model._meta.label_lower
        for model in admin.site._registry
        if model._meta.app_label in DEALFLOW_APPS
    )


@pytest.mark.parametrize("label", MODEL_LABELS)
def test_changelist_change_and_add_pages_render(admin_client, admin_user, records, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fixture made no {label}"

    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "changelist"), {"q": "a"}).status_code == 200
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    if model_admin.has_add_permission(admin_client.get("/admin/").wsgi_request):
        assert admin_client.get(admin_url(model, "add")).status_code == 200


def test_search_by_public_id_finds_the_record(admin_client, records):
    lead = Lead.objects.get(pk=records.lead_id)
    response = admin_client.get(admin_url(Lead, "changelist"), {"q": lead.public_id})
    assert list(response.context["cl"].result_list) == [lead]
    response = admin_client.get(admin_url(AuditEvent, "changelist"), {"q": lead.public_id})
    events = list(response.context["cl"].result_list)
    assert events
    assert {(event.object_name, event.record_id) for event in events} == {("Lead", lead.pk)}


def test_read_only_admins_allow_no_writes(admin_client, records):
    for model in (AuditEvent, IdempotencyRecord, OpportunityHistory, ApiToken):
        obj = model.objects.first()
        assert admin_client.get(admin_url(model, "add")).status_code == 403
        assert admin_client.post(admin_url(model, "change", obj.pk), {}).status_code == 403
        assert (
            admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code
            == 403
        )
        assert model.objects.filter(pk=obj.pk).exists()


def test_api_token_page_never_shows_the_digest(admin_client, admin_user):
    api_token, token = token_create(actor=admin_user, user=admin_user, name="cli")
    for url in (admin_url(ApiToken, "changelist"), admin_url(ApiToken, "change", api_token.pk)):
        content = admin_client.get(url).content.decode()
        assert api_token.prefix in content
        assert api_token.digest not in content
        assert token not in content


def test_revoke_action_revokes_tokens(admin_client, admin_user):
    api_token, _token = token_create(actor=admin_user, user=admin_user, name="cli")
    response = admin_client.post(
        admin_url(ApiToken, "changelist"),
        {"action": "revoke_tokens", "_selected_action": [api_token.pk], "index": 0},
        follow=True,
    )
    assert response.status_code == 200
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    assert any("Revoked 1" in text for text in message_texts(response))


def test_complete_action_completes_tasks(admin_client, admin_user):
    task = task_create(actor=admin_user, subject="Call back", who=LeadFactory())
    admin_client.post(
        admin_url(Task, "changelist"),
        {"action": "complete_tasks", "_selected_action": [task.pk], "index": 0},
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert AuditEvent.objects.filter(
        object_name="Task", record_id=task.pk, action=AuditAction.COMPLETE
    ).exists()


# ---------------------------------------------------------------------------------------
# Writes go through the services


def test_adding_a_lead_runs_lead_create(admin_client, admin_user):
    response = admin_client.post(
        admin_url(Lead, "add"),
        {
            "last_name": "Doe",
            "company": "Acme",
            "email": "Jane@ACME.Test",
            "lead_source": "Web",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead = Lead.objects.get()
    assert lead.email == "Jane@ACME.Test"  # stored as typed
    assert lead.email_key == "jane@acme.test"  # matched folded
    assert lead.owner_user == admin_user  # and made the actor the owner
    assert lead.status == default_status()
    event = AuditEvent.objects.get(object_name="Lead", record_id=lead.pk)
    assert event.action == AuditAction.CREATE
    assert event.actor == admin_user


def test_duplicate_email_is_a_form_error_and_writes_nothing(admin_client):
    existing = LeadFactory(email="dup@acme.test")
    response = admin_client.post(
        admin_url(Lead, "add"),
        {"last_name": "Doe", "company": "Acme", "email": "DUP@acme.test", "_save": "Save"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "email" in errors
    assert existing.public_id in str(errors["email"])
    assert list(Lead.objects.all()) == [existing]
    assert not AuditEvent.objects.exists()


def test_unknown_picklist_value_is_a_form_error(admin_client):
    response = admin_client.post(
        admin_url(Lead, "add"),
        {"last_name": "Doe", "company": "Acme", "rating": "Lukewarm", "_save": "Save"},
    )
    assert response.status_code == 200
    assert "rating" in response.context["adminform"].form.errors
    assert not Lead.objects.exists()


def test_changing_a_lead_writes_only_the_changed_fields(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user, company="Old Co")
    page = admin_client.get(admin_url(Lead, "change", lead.pk))
    data = change_form_data(page)
    data["company"] = "New Co"
    response = admin_client.post(admin_url(Lead, "change", lead.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.company == "New Co"
    event = AuditEvent.objects.get(object_name="Lead", record_id=lead.pk)
    assert event.action == AuditAction.UPDATE
    assert event.changes == {"company": ["Old Co", "New Co"]}


def test_moving_a_lead_to_a_queue(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user)
    queue = QueueFactory()
    data = change_form_data(admin_client.get(admin_url(Lead, "change", lead.pk)))
    data["owner_queue"] = str(queue.pk)  # the user is still filled in: the queue wins
    response = admin_client.post(admin_url(Lead, "change", lead.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert (lead.owner_user, lead.owner_queue) == (None, queue)


def test_a_lead_without_owner_is_refused(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user)
    data = change_form_data(admin_client.get(admin_url(Lead, "change", lead.pk)))
    data.pop("owner_user")
    response = admin_client.post(admin_url(Lead, "change", lead.pk), data)
    assert response.status_code == 200
    assert "owner_user" in response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.owner_user == admin_user


def test_converted_lead_change_page_is_read_only(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user, company="Before")
    lead_convert(actor=admin_user, lead=lead)
    url = admin_url(Lead, "change", lead.pk)

    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.context["title"] == "View lead"
    assert 'name="_save"' not in page.content.decode()
    assert not page.context["adminform"].form.fields or all(
        field in page.context["adminform"].readonly_fields
        for field in page.context["adminform"].form.fields
    )

    response = admin_client.post(url, {"company": "After", "last_name": "X", "_save": "Save"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.company == "Before"


def test_adding_an_account_and_a_contact(admin_client, admin_user):
    response = admin_client.post(
        admin_url(Account, "add"), {"name": "Globex", "type": "Customer", "_save": "Save"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = Account.objects.get()
    assert account.owner == admin_user
    response = admin_client.post(
        admin_url(Contact, "add"),
        {"last_name": "Smith", "account": account.pk, "email": "s@GLOBEX.test", "_save": "Save"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert (contact.account, contact.email, contact.owner) == (account, "s@GLOBEX.test", admin_user)
    assert AuditEvent.objects.filter(action=AuditAction.CREATE).count() == 2


def test_account_form_error_from_the_service(admin_client, admin_user):
    account = AccountFactory(owner=admin_user)
    data = change_form_data(admin_client.get(admin_url(Account, "change", account.pk)))
    data["type"] = "Nonsense"
    response = admin_client.post(admin_url(Account, "change", account.pk), data)
    assert response.status_code == 200
    assert "type" in response.context["adminform"].form.errors
    assert not AuditEvent.objects.exists()


def test_adding_an_opportunity_takes_probability_from_the_stage(admin_client, admin_user):
    stage = OpportunityStage.objects.get(name="Needs Analysis")
    response = admin_client.post(
        admin_url(Opportunity, "add"),
        {
            "name": "Big deal",
            "stage": stage.pk,
            "close_date": "2026-06-30",
            "amount": "1000",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    opportunity = Opportunity.objects.get()
    assert (opportunity.probability, opportunity.forecast_category) == (20, "Pipeline")
    assert opportunity.expected_revenue == 200
    assert OpportunityHistory.objects.filter(opportunity=opportunity).count() == 1


def test_stage_change_through_the_admin(admin_client, admin_user):
    opportunity = OpportunityFactory(owner=admin_user)
    url = admin_url(Opportunity, "change", opportunity.pk)
    data = change_form_data(admin_client.get(url))
    data["stage"] = str(OpportunityStage.objects.get(name="Closed Won").pk)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    opportunity.refresh_from_db()
    assert (opportunity.is_closed, opportunity.is_won, opportunity.probability) == (True, True, 100)
    assert OpportunityHistory.objects.filter(opportunity=opportunity).count() == 1


def test_lost_stage_without_loss_reason_is_a_form_error(admin_client, admin_user):
    opportunity = OpportunityFactory(owner=admin_user)
    url = admin_url(Opportunity, "change", opportunity.pk)
    data = change_form_data(admin_client.get(url))
    data["stage"] = str(OpportunityStage.objects.get(name="Closed Lost").pk)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "loss_reason" in response.context["adminform"].form.errors
    opportunity.refresh_from_db()
    assert opportunity.stage.name == "Prospecting"
    assert not OpportunityHistory.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_form_shown_again_rolls_back_what_the_service_wrote(admin_client, admin_user):
    """The service writes while the form validates; if the page is shown again anyway
    (here: the inline management forms are missing), the write is rolled back."""
    opportunity = OpportunityFactory(owner=admin_user)
    url = admin_url(Opportunity, "change", opportunity.pk)
    data = {
        name: value
        for name, value in change_form_data(admin_client.get(url)).items()
        if "-TOTAL_FORMS" not in name and "-INITIAL_FORMS" not in name
    }
    data["stage"] = str(OpportunityStage.objects.get(name="Closed Won").pk)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    opportunity.refresh_from_db()
    assert opportunity.stage.name == "Prospecting"
    assert not OpportunityHistory.objects.exists()
    assert not AuditEvent.objects.exists()


def test_contact_role_through_the_admin_replaces_the_primary(admin_client, admin_user):
    opportunity = OpportunityFactory()
    first = ContactFactory(account=opportunity.account)
    second = ContactFactory(account=opportunity.account)
    for contact in (first, second):
        response = admin_client.post(
            admin_url(OpportunityContactRole, "add"),
            {
                "opportunity": opportunity.pk,
                "contact": contact.pk,
                "role": "Decision Maker",
                "is_primary": "on",
                "_save": "Save",
            },
        )
        assert response.status_code == 302, response.context["adminform"].form.errors
    primaries = OpportunityContactRole.objects.filter(opportunity=opportunity, is_primary=True)
    assert [role.contact for role in primaries] == [second]


def test_adding_a_task_runs_task_create(admin_client, admin_user):
    contact = ContactFactory()
    response = admin_client.post(
        admin_url(Task, "add"),
        {
            "subject": "Send proposal",
            "contact": contact.pk,
            "type": "email",
            "priority": "high",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    task = Task.objects.get()
    assert (task.contact, task.account, task.owner) == (contact, contact.account, admin_user)
    assert task.priority == "high"
    response = admin_client.post(
        admin_url(Task, "add"),
        {"subject": "Nobody", "type": "todo", "priority": "low", "_save": "Save"},
    )
    assert response.status_code == 200
    assert "lead" in response.context["adminform"].form.errors
    converted = LeadFactory()
    lead_convert(actor=admin_user, lead=converted, owner=admin_user)
    response = admin_client.post(
        admin_url(Task, "add"),
        {
            "subject": "Too late",
            "lead": converted.pk,
            "type": "todo",
            "priority": "low",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert "converted" in str(response.context["adminform"].form.errors["lead"])
    assert Task.objects.count() == 1


def test_adding_a_user_runs_user_create(admin_client, admin_user):
    team = TeamFactory()
    response = admin_client.post(
        reverse("admin:people_user_add"),
        {
            "username": "manny",
            "usable_password": "true",
            "password1": "a-long-enough-Passw0rd",
            "password2": "a-long-enough-Passw0rd",
            "role": Role.MANAGER,
            "team": team.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="manny")
    assert (user.role, user.team, user.is_staff, user.is_superuser) == (
        Role.MANAGER,
        team,
        True,
        False,
    )
    assert user.check_password("a-long-enough-Passw0rd")
    assert AuditEvent.objects.filter(object_name="User", record_id=user.pk).exists()


# ---------------------------------------------------------------------------------------
# The conversion action


def _csrf_token(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "the page has no CSRF token"
    return match.group(1)


def test_convert_action_converts_a_lead(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    lead = LeadFactory(owner_user=admin_user)
    changelist = admin_url(Lead, "changelist")

    page = client.get(changelist)
    confirmation = client.post(
        changelist,
        {
            "csrfmiddlewaretoken": _csrf_token(page),
            "action": "convert_leads",
            "_selected_action": [lead.pk],
            "index": 0,
        },
    )
    assert confirmation.status_code == 200
    assert "admin/leads/lead/convert.html" in [t.name for t in confirmation.templates]
    form = confirmation.context["form"]
    converted_status = LeadStatus.objects.filter(is_converted=True, is_active=True).first()
    assert form["converted_status"].value() == converted_status.pk
    assert "account" in form.fields
    assert not Account.objects.exists()  # nothing happens before the confirmation

    response = client.post(
        changelist,
        {
            "csrfmiddlewaretoken": _csrf_token(confirmation),
            "action": "convert_leads",
            "_selected_action": [lead.pk],
            "converted_status": converted_status.pk,
            "create_opportunity": "on",
            "apply": "Convert lead",
        },
        follow=True,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.is_converted
    assert lead.status == converted_status
    assert Account.objects.count() == Contact.objects.count() == Opportunity.objects.count() == 1
    assert lead.converted_opportunity == Opportunity.objects.get()
    assert any(text.startswith("Converted") for text in message_texts(response))


def test_convert_action_without_opportunity_into_an_existing_account(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user)
    account = AccountFactory()
    response = admin_client.post(
        admin_url(Lead, "changelist"),
        {
            "action": "convert_leads",
            "_selected_action": [lead.pk],
            "converted_status": LeadStatus.objects.filter(is_converted=True).first().pk,
            "account": account.public_id,
            "apply": "Convert lead",
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.is_converted
    assert lead.converted_account == account
    assert lead.converted_opportunity is None
    assert Account.objects.count() == 1
    assert not Opportunity.objects.exists()


def test_convert_action_rejects_an_unknown_account_on_the_form(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user)
    response = admin_client.post(
        admin_url(Lead, "changelist"),
        {
            "action": "convert_leads",
            "_selected_action": [lead.pk],
            "converted_status": LeadStatus.objects.filter(is_converted=True).first().pk,
            "account": "not-an-id",
            "apply": "Convert lead",
        },
    )
    assert response.status_code == 200
    assert "account" in response.context["form"].errors
    lead.refresh_from_db()
    assert not lead.is_converted


def test_convert_action_reports_an_already_converted_lead(admin_client, admin_user):
    lead = LeadFactory(owner_user=admin_user)
    lead_convert(actor=admin_user, lead=lead)
    lead.refresh_from_db()
    counts = (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count())
    events = AuditEvent.objects.count()
    updated_at = lead.updated_at

    response = admin_client.post(
        admin_url(Lead, "changelist"),
        {
            "action": "convert_leads",
            "_selected_action": [lead.pk],
            "converted_status": LeadStatus.objects.filter(is_converted=True).first().pk,
            "create_opportunity": "on",
            "apply": "Convert lead",
        },
        follow=True,
    )
    assert response.status_code == 200
    texts = message_texts(response)
    assert any("was not converted" in text and "read-only" in text for text in texts), texts
    assert (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()) == counts
    assert AuditEvent.objects.count() == events
    lead.refresh_from_db()
    assert lead.updated_at == updated_at


def test_convert_action_converts_each_lead_on_its_own(admin_client, admin_user):
    good = LeadFactory(owner_user=admin_user)
    queued = LeadFactory(owner_user=None, owner_queue=QueueFactory())  # needs an owner
    response = admin_client.post(
        admin_url(Lead, "changelist"),
        {
            "action": "convert_leads",
            "_selected_action": [good.pk, queued.pk],
            "converted_status": LeadStatus.objects.filter(is_converted=True).first().pk,
            "create_opportunity": "on",
            "apply": "Convert 2 leads",
        },
        follow=True,
    )
    good.refresh_from_db()
    queued.refresh_from_db()
    assert good.is_converted
    assert not queued.is_converted
    texts = message_texts(response)
    assert any("1 of 2 leads converted" in text for text in texts), texts
    assert any("owned by a queue" in text for text in texts), texts


# ---------------------------------------------------------------------------------------
# Change lists run a constant number of queries


def _changelist_queries(client, model) -> int:
    url = admin_url(model, "changelist")
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _make_leads(count: int) -> None:
    for number in range(count):
        if number % 3 == 0:
            LeadFactory(owner_user=None, owner_queue=QueueFactory())
        else:
            LeadFactory()


def _make_opportunities(count: int) -> None:
    for _ in range(count):
        OpportunityFactory(amount=100)


def _make_contacts(count: int) -> None:
    for _ in range(count):
        ContactFactory()


def _make_tasks(count: int) -> None:
    for number in range(count):
        if number % 2:
            TaskFactory(contact=ContactFactory(), opportunity=OpportunityFactory())
        else:
            TaskFactory(lead=LeadFactory(), account=AccountFactory())


def _make_events(count: int) -> None:
    for _ in range(count):
        user = UserFactory()
        AuditEvent.objects.create(actor=user, object_name="Lead", record_id=1, action="update")


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Lead, _make_leads),
        (Opportunity, _make_opportunities),
        (Contact, _make_contacts),
        (Task, _make_tasks),
        (AuditEvent, _make_events),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(admin_client, model, make):
    make(2)
    few = _changelist_queries(admin_client, model)
    make(18)
    many = _changelist_queries(admin_client, model)
    assert model.objects.count() >= 20
    assert many == few


def test_lead_changelist_query_budget(admin_client, django_assert_max_num_queries):
    _make_leads(20)
    admin_client.get(admin_url(Lead, "changelist"))
    with django_assert_max_num_queries(15):
        admin_client.get(admin_url(Lead, "changelist"))


def test_lead_filters_work(admin_client):
    _make_leads(3)
    queued = Lead.objects.filter(owner_queue__isnull=False).first()
    response = admin_client.get(
        admin_url(Lead, "changelist"),
        {"owner_queue__id__exact": queued.owner_queue_id, "is_converted__exact": "0"},
    )
    assert list(response.context["cl"].result_list) == [queued]
    year = Lead.objects.values_list("created_at__year", flat=True).first()
    response = admin_client.get(admin_url(Lead, "changelist"), {"created_at__year": year})
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == set(Lead.objects.all())
    response = admin_client.get(admin_url(Lead, "changelist"), {"created_at__year": year - 1})
    assert list(response.context["cl"].result_list) == []


# ---------------------------------------------------------------------------------------
# Access rules in the back office


def test_back_office_follows_the_access_rules(client):
    from dealflow.core.services import sharing_default_set
    from tests.factories import TeamFactory, UserFactory

    sharing_default_set(actor=None, object_name="Lead", access="private")
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    manager = UserFactory(role=Role.MANAGER, team=east, is_staff=True)
    team_lead = LeadFactory(owner_user=UserFactory(team=east), last_name="Teamlead")
    other_lead = LeadFactory(owner_user=UserFactory(team=west), last_name="Otherlead")
    client.force_login(manager)

    listing = client.get(admin_url(Lead, "changelist"))
    assert listing.status_code == 200
    assert b"Teamlead" in listing.content
    assert b"Otherlead" not in listing.content
    assert client.get(admin_url(Lead, "change", team_lead.pk)).status_code == 200
    hidden = client.get(admin_url(Lead, "change", other_lead.pk))
    assert hidden.status_code == 302  # Django's "doesn't exist" redirect
    assert client.post(admin_url(Lead, "delete", other_lead.pk), {"post": "yes"}).status_code == 302
    assert Lead.objects.filter(pk=other_lead.pk).exists()


def test_reps_have_no_back_office(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=Role.REP))
    assert client.get(admin_url(Lead, "changelist")).status_code == 302


def test_editing_a_stage_in_the_back_office_is_audited_and_seen_at_once(admin_client):
    from dealflow.sales.models import OpportunityStage
    from dealflow.sales.selectors import stage_name

    stage = OpportunityStage.objects.get(name="Prospecting")
    assert stage_name(stage.pk) == "Prospecting"  # now cached
    response = admin_client.post(
        admin_url(OpportunityStage, "change", stage.pk),
        {
            "name": "Discovery",
            "sort_order": 1,
            "probability": 10,
            "forecast_category": "Pipeline",
            "is_active": "on",
            "stall_days": 14,
        },
    )
    assert response.status_code == 302, response.content
    assert stage_name(stage.pk) == "Discovery"
    event = AuditEvent.objects.get(object_name="OpportunityStage")
    assert event.changes == {"name": ["Prospecting", "Discovery"]}


def test_a_second_default_status_in_the_back_office_replaces_the_first(admin_client):
    status = LeadStatus.objects.get(name="Working - Contacted")
    response = admin_client.post(
        admin_url(LeadStatus, "change", status.pk),
        {"name": "Working - Contacted", "sort_order": 2, "is_default": "on", "is_active": "on"},
    )
    assert response.status_code == 302, response.content
    assert list(LeadStatus.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "Working - Contacted"
    ]


def test_an_inconsistent_stage_is_a_form_error_in_the_back_office(admin_client):
    from dealflow.sales.models import OpportunityStage

    stage = OpportunityStage.objects.get(name="Closed Won")
    response = admin_client.post(
        admin_url(OpportunityStage, "change", stage.pk),
        {
            "name": "Closed Won",
            "sort_order": 9,
            "probability": 100,
            "forecast_category": "Commit",
            "is_closed": "on",
            "is_won": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert b"a won stage forecasts Closed" in response.content
    stage.refresh_from_db()
    assert stage.forecast_category == "Closed"
