"""The back office follows the access rules: every choice a form offers, every key it
accepts, every filter, widget and page answers a manager of another team as if the other
team's private records did not exist (generated over every registered ModelAdmin)."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from dealflow.accounts.admin import ContactAdmin
from dealflow.accounts.models import Account, Contact
from dealflow.core.access import readable
from dealflow.core.admin import (
    HIDDEN_RECORD_LABEL,
    ReadableRawIdWidget,
    ReadableRelatedFieldListFilter,
    ReadableRelatedOnlyFieldListFilter,
)
from dealflow.core.models import AuditAction, AuditEvent, IdempotencyRecord
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead, LeadStatus
from dealflow.people.models import Role
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
)
from dealflow.sales.services import history_row
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)
from tests.test_admin import admin_url, change_form_data, message_texts

pytestmark = pytest.mark.django_db

DEALFLOW_APPS = ("core", "people", "accounts", "leads", "sales")
# Every object with owners and an organisation-wide default (contact roles follow deals).
SHARED_OBJECTS = ("Lead", "Account", "Contact", "Opportunity", "Task")
# Every name of the other team's records starts with this; no page may show it.
SECRET = "Zqsecret"
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."
REGISTERED = sorted(
    model._meta.label_lower
    for model in admin.site._registry
    if model._meta.app_label in DEALFLOW_APPS
)
# The registered models whose records follow owners and sharing defaults.
ACCESS_CONTROLLED = [
    label
    for label in REGISTERED
    if getattr(apps.get_model(label), "object_name", None)
    in (*SHARED_OBJECTS, "OpportunityContactRole")
]


class World:
    """Private defaults, a manager of East, and records of East (visible) and West (hidden)."""

    def __init__(self) -> None:
        for object_name in SHARED_OBJECTS:
            sharing_default_set(actor=None, object_name=object_name, access="private")
        east, west = TeamFactory(name="East"), TeamFactory(name="West")
        self.manager = UserFactory(
            username="eastmanager", role=Role.MANAGER, team=east, is_staff=True
        )
        ours, theirs = UserFactory(team=east), UserFactory(team=west)
        account = AccountFactory(owner=ours, name="Eastern Trading")
        contact = ContactFactory(owner=ours, account=account, last_name="Eastbuyer")
        lead = LeadFactory(owner_user=ours, last_name="Eastprospect", company="East Co")
        opportunity = OpportunityFactory(owner=ours, account=account, name="Eastern deal")
        self.visible: dict[type[models.Model], models.Model] = {
            Account: account,
            Contact: contact,
            Lead: lead,
            Opportunity: opportunity,
            OpportunityContactRole: OpportunityContactRole.objects.create(
                opportunity=opportunity, contact=contact
            ),
            Task: TaskFactory(owner=ours, lead=lead, account=account, subject="Call East"),
        }
        account = AccountFactory(owner=theirs, name=f"{SECRET} Account")
        contact = ContactFactory(owner=theirs, account=account, last_name=f"{SECRET}contact")
        lead = LeadFactory(owner_user=theirs, last_name=f"{SECRET}lead", company=f"{SECRET} Co")
        opportunity = OpportunityFactory(owner=theirs, account=account, name=f"{SECRET} deal")
        self.hidden: dict[type[models.Model], models.Model] = {
            Account: account,
            Contact: contact,
            Lead: lead,
            Opportunity: opportunity,
            OpportunityContactRole: OpportunityContactRole.objects.create(
                opportunity=opportunity, contact=contact, role=SECRET
            ),
            Task: TaskFactory(owner=theirs, lead=lead, account=account, subject=SECRET),
        }
        history_row(opportunity, actor=theirs).save()
        AuditEvent.objects.create(
            actor=theirs,
            object_name="Lead",
            record_id=lead.pk,
            action=AuditAction.CREATE,
            changes={"last_name": [None, lead.last_name]},
        )
        IdempotencyRecord.objects.create(
            operation="lead_convert",
            key=SECRET,
            request_fingerprint="x",
            result={"company": lead.company},
            actor=theirs,
        )

    def give_every_permission(self) -> None:
        """The worst case: the manager holds every model permission of dealflow's apps."""
        self.manager.user_permissions.set(
            Permission.objects.filter(content_type__app_label__in=DEALFLOW_APPS)
        )


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture(params=["staff", "every_permission"])
def manager_client(request, world, client):
    if request.param == "every_permission":
        world.give_every_permission()
    client.force_login(world.manager)
    return client


def as_request(user, path: str = "/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def missing_key(model: type[models.Model]) -> int:
    """A primary key no row of the model has."""
    return (model._default_manager.aggregate(top=models.Max("pk"))["top"] or 0) + 1000


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in DEALFLOW_APPS
    }


def relation_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.get_fields()
        if field.concrete and (field.many_to_one or field.many_to_many or field.one_to_one)
    ]


def assert_no_secret(response) -> None:
    content = response.content.decode()
    assert SECRET not in content, re.findall(rf".{{0,80}}{SECRET}.{{0,40}}", content)


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors.get_json_data()


def readable_keys(user, model: type[models.Model]) -> set[str]:
    return {
        str(key)
        for key in readable(user, model._default_manager.all()).values_list("pk", flat=True)
    }


# ---------------------------------------------------------------------------------------
# Generated over every ModelAdmin


def _form_pages(client, user, model) -> list[str]:
    """The add page (if the user may add) and a change page of a record the user may see."""
    model_admin = admin.site._registry[model]
    request = as_request(user)
    pages = []
    if model_admin.has_add_permission(request):
        pages.append(admin_url(model, "add"))
    obj = model_admin.get_queryset(request).order_by("pk").first()
    if obj is not None and model_admin.has_view_permission(request, obj):
        pages.append(admin_url(model, "change", obj.pk))
    return pages


@pytest.mark.parametrize("label", REGISTERED)
def test_every_form_offers_and_accepts_only_readable_records(manager_client, world, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    user = world.manager
    pages = _form_pages(manager_client, user, model)
    if not pages:
        assert manager_client.get(admin_url(model, "add")).status_code in (302, 403)
        return
    for url in pages:
        page = manager_client.get(url)
        assert page.status_code == 200, url
        assert_no_secret(page)
        form = page.context["adminform"].form
        # (a) every choice of every related-record field is one the user may read
        for name, field in form.fields.items():
            if not hasattr(field, "queryset"):
                continue
            related = field.queryset.model
            offered = {str(value) for value, _label in field.choices if str(value)}
            assert offered <= readable_keys(user, related), (url, name)
        for name in model_admin.get_autocomplete_fields(as_request(user)):
            found = manager_client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": name,
                    "term": "",
                },
            )
            if found.status_code == 200:
                related = model._meta.get_field(name).related_model
                keys = {result["id"] for result in found.json()["results"]}
                assert keys <= readable_keys(user, related), (url, name)
                assert_no_secret(found)
        for field in relation_fields(model):
            hidden = world.hidden.get(field.related_model)
            if hidden is None:
                continue  # everybody may read every record of this model (the directory)
            # (b) a hidden key in the query string is neither shown nor preselected
            assert_no_secret(manager_client.get(url, {field.name: hidden.pk}))
            if field.name not in form.fields:
                continue
            # (c) posting it is refused exactly like a key that does not exist
            data = change_form_data(page)
            before = row_counts()
            answers = []
            for key in (hidden.pk, missing_key(field.related_model)):
                data[field.name] = [str(key)] if field.many_to_many else str(key)
                response = manager_client.post(url, data)
                assert_no_secret(response)
                answers.append(form_errors(response))
            assert answers[0] == answers[1], (url, field.name)
            assert field.name in answers[0], (url, field.name)
            assert row_counts() == before, (url, field.name)


@pytest.mark.parametrize("label", REGISTERED)
def test_every_change_list_and_its_filters_show_only_readable_records(manager_client, world, label):
    model = apps.get_model(label)
    response = manager_client.get(admin_url(model, "changelist"))
    if response.status_code != 200:
        assert response.status_code in (302, 403)
        return
    assert_no_secret(response)
    changelist = response.context["cl"]
    keys = {str(obj.pk) for obj in changelist.result_list}
    assert keys <= readable_keys(world.manager, model) or model is OpportunityHistory
    for spec in changelist.filter_specs:
        field = getattr(spec, "field", None)
        if field is not None and field.is_relation:
            offered = {str(key) for key, _label in spec.lookup_choices}
            assert offered <= readable_keys(world.manager, field.related_model), spec.title
    for field in relation_fields(model):
        hidden = world.hidden.get(field.related_model)
        if hidden is not None:
            filtered = manager_client.get(
                admin_url(model, "changelist"), {f"{field.name}__id__exact": hidden.pk}
            )
            assert_no_secret(filtered)


@pytest.mark.parametrize("label", ACCESS_CONTROLLED)
def test_a_hidden_record_is_answered_as_a_missing_one(manager_client, world, label):
    model = apps.get_model(label)
    hidden = world.hidden[model]
    for view in ("change", "history", "delete"):
        answers = []
        for key in (hidden.pk, missing_key(model)):
            response = manager_client.get(admin_url(model, view, key), follow=True)
            assert_no_secret(response)
            texts = {text.replace(str(key), "KEY") for text in message_texts(response)}
            answers.append((response.redirect_chain, texts))
        assert answers[0] == answers[1], view
        delete = manager_client.post(admin_url(model, "delete", hidden.pk), {"post": "yes"})
        assert delete.status_code == 302
        assert model._default_manager.filter(pk=hidden.pk).exists()


# ---------------------------------------------------------------------------------------
# The named examples


def test_task_add_does_not_name_another_teams_lead_or_account(manager_client, world):
    for field, model in (("lead", Lead), ("account", Account), ("contact", Contact)):
        response = manager_client.get(admin_url(Task, "add"), {field: world.hidden[model].pk})
        assert response.status_code == 200
        assert_no_secret(response)
        # The manager's own team's record is preselected and named as before.
        response = manager_client.get(admin_url(Task, "add"), {field: world.visible[model].pk})
        assert str(world.visible[model]) in response.content.decode()


def keys_around(model) -> range:
    """Every key from just below this test's records to just above them: on PostgreSQL
    the sequences keep counting across the suite's tests, so starting at 1 would step
    through every lead any earlier test made."""
    keys = model.objects.aggregate(low=models.Min("pk"), top=models.Max("pk"))
    return range(max(keys["low"] - 2, 1), keys["top"] + 2)


def test_stepping_the_key_lists_no_names(manager_client, world):
    for key in keys_around(Lead):
        assert_no_secret(manager_client.get(admin_url(Task, "add"), {"lead": key}))
    for key in keys_around(Opportunity):
        response = manager_client.get(
            admin_url(OpportunityContactRole, "add"), {"opportunity": key}
        )
        assert_no_secret(response)


def test_contact_role_add_does_not_name_another_teams_opportunity(manager_client, world):
    hidden = world.hidden[Opportunity]
    response = manager_client.get(
        admin_url(OpportunityContactRole, "add"), {"opportunity": hidden.pk}
    )
    assert response.status_code == 200
    assert_no_secret(response)


ADD_FORMS = [
    (Contact, {"last_name": "Newbuyer"}, "account", Account),
    (
        Opportunity,
        {"name": "New deal", "close_date": "2026-06-30", "stage": "Prospecting"},
        "account",
        Account,
    ),
    (Task, {"subject": "New call", "type": "call", "priority": "normal"}, "lead", Lead),
    (Task, {"subject": "New call", "type": "call", "priority": "normal"}, "contact", Contact),
    (OpportunityContactRole, {"role": "Evaluator"}, "opportunity", Opportunity),
]


@pytest.mark.parametrize(("model", "values", "field", "related"), ADD_FORMS)
def test_adding_with_another_teams_private_record_is_refused(
    manager_client, world, model, values, field, related
):
    data = {**values, "_save": "Save"}
    if "stage" in data:
        data["stage"] = OpportunityStage.objects.get(name=data["stage"]).pk
    if model is OpportunityContactRole:
        data["contact"] = ContactFactory(owner=world.visible[Contact].owner).pk
    before = row_counts()
    answers = []
    for key in (world.hidden[related].pk, missing_key(related)):
        response = manager_client.post(admin_url(model, "add"), {**data, field: key})
        assert_no_secret(response)
        answers.append(form_errors(response))
    assert answers[0] == answers[1]
    assert answers[0][field] == [{"message": INVALID_CHOICE, "code": "invalid_choice"}]
    assert row_counts() == before
    # The same form with the manager's own team's record is accepted.
    response = manager_client.post(
        admin_url(model, "add"), {**data, field: world.visible[related].pk}
    )
    assert response.status_code == 302, form_errors(response)
    assert model._default_manager.count() == before[model._meta.label] + 1


def test_a_current_value_the_user_may_not_see_is_kept_unnamed(client, world):
    """A contact of the manager's team at another team's private account: the account is
    shown without its name, and saving the contact keeps it."""
    contact = world.visible[Contact]
    contact.account = world.hidden[Account]
    contact.save()
    client.force_login(world.manager)
    url = admin_url(Contact, "change", contact.pk)
    page = client.get(url)
    assert_no_secret(page)
    assert HIDDEN_RECORD_LABEL in page.content.decode()
    data = change_form_data(page)
    data["title"] = "Buyer"
    response = client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    contact.refresh_from_db()
    assert (contact.title, contact.account) == ("Buyer", world.hidden[Account])
    # Another hidden account is still refused.
    data["account"] = AccountFactory(owner=world.hidden[Account].owner).pk
    assert "account" in form_errors(client.post(url, data))


def test_converting_into_another_teams_account_says_no_account(client, world):
    client.force_login(world.manager)
    lead = world.visible[Lead]
    answers = []
    for key in (world.hidden[Account].pk, missing_key(Account)):
        response = client.post(
            admin_url(Lead, "changelist"),
            {
                "action": "convert_leads",
                "_selected_action": [lead.pk],
                "converted_status": LeadStatus.objects.filter(is_converted=True).first().pk,
                "account": str(key),
                "apply": "Convert lead",
            },
        )
        assert response.status_code == 200
        assert_no_secret(response)
        answers.append(str(response.context["form"].errors["account"]).replace(str(key), "KEY"))
    assert answers[0] == answers[1]
    lead.refresh_from_db()
    assert not lead.is_converted


# ---------------------------------------------------------------------------------------
# Widgets and filters no ModelAdmin uses yet


def test_raw_id_widget_names_only_readable_records(world):
    class RawContactAdmin(ContactAdmin):
        autocomplete_fields = ("owner",)
        raw_id_fields = ("account",)

    model_admin = RawContactAdmin(Contact, admin.site)
    request = as_request(world.manager)
    form_class = model_admin.get_form(request)
    widget = form_class.base_fields["account"].widget
    assert isinstance(widget, ReadableRawIdWidget)
    assert SECRET not in str(form_class(initial={"account": world.hidden[Account].pk})["account"])
    shown = str(form_class(initial={"account": world.visible[Account].pk})["account"])
    assert str(world.visible[Account]) in shown


def test_related_list_filters_list_only_readable_records(world):
    class FilteredContactAdmin(ContactAdmin):
        list_filter = ("account", ("owner", admin.RelatedOnlyFieldListFilter))

    model_admin = FilteredContactAdmin(Contact, admin.site)
    assert model_admin.get_list_filter(as_request(world.manager)) == [
        ("account", ReadableRelatedFieldListFilter),
        ("owner", ReadableRelatedOnlyFieldListFilter),
    ]
    ContactFactory(owner=UserFactory(team=world.manager.team))  # a second owner to list
    changelist = model_admin.get_changelist_instance(
        as_request(world.manager, admin_url(Contact, "changelist"))
    )
    specs = {spec.field_path: spec for spec in changelist.filter_specs}
    accounts = {key for key, _label in specs["account"].lookup_choices}
    assert accounts == set(
        readable(world.manager, Account.objects.all()).values_list("pk", flat=True)
    )
    assert world.hidden[Account].pk not in accounts
    owners = {key for key, _label in specs["owner"].lookup_choices}
    readable_contacts = readable(world.manager, Contact.objects.all())
    assert owners == set(readable_contacts.values_list("owner", flat=True))
    assert world.hidden[Contact].owner_id not in owners


def test_deleting_goes_through_the_service(client, world):
    client.force_login(world.manager)
    task = world.visible[Task]
    account = AccountFactory(owner=world.visible[Account].owner)
    response = client.post(admin_url(Account, "delete", account.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Account.objects.filter(pk=account.pk).exists()
    assert AuditEvent.objects.filter(
        object_name="Account", record_id=account.pk, action=AuditAction.DELETE
    ).exists()
    assert Task.objects.filter(pk=task.pk).exists()


def test_records_about_hidden_records_are_answered_as_missing(client, world):
    """Audit events, idempotency results and deal history name what they are about."""
    world.give_every_permission()
    client.force_login(world.manager)
    hidden_rows = [
        AuditEvent.objects.get(object_name="Lead", record_id=world.hidden[Lead].pk),
        IdempotencyRecord.objects.get(key=SECRET),
        OpportunityHistory.objects.get(opportunity=world.hidden[Opportunity]),
    ]
    for row in hidden_rows:
        model = type(row)
        answers = []
        for key in (row.pk, missing_key(model)):
            response = client.get(admin_url(model, "change", key), follow=True)
            assert_no_secret(response)
            answers.append({text.replace(str(key), "KEY") for text in message_texts(response)})
        assert answers[0] == answers[1]


# ---------------------------------------------------------------------------------------
# Configuration writes go through their services too


def test_configuration_forms_write_through_the_services(admin_client, world):
    from dealflow.core.models import PicklistValue
    from dealflow.people.models import Queue, Team

    response = admin_client.post(
        admin_url(PicklistValue, "add"),
        {"picklist": "industry", "value": "Robotics", "sort_order": 50, "is_active": "on"},
    )
    assert response.status_code == 302, form_errors(response)
    value = PicklistValue.objects.get(picklist="industry", value="Robotics")
    response = admin_client.post(admin_url(PicklistValue, "change", value.pk), {"sort_order": 51})
    assert response.status_code == 302, form_errors(response)
    value.refresh_from_db()
    assert (value.sort_order, value.is_active) == (51, False)
    duplicate = admin_client.post(
        admin_url(PicklistValue, "add"),
        {"picklist": "industry", "value": "Robotics", "sort_order": 1, "is_active": "on"},
    )
    assert "value" in form_errors(duplicate)
    assert admin_client.post(admin_url(Team, "add"), {"name": "North"}).status_code == 302
    response = admin_client.post(
        admin_url(Queue, "add"),
        {"name": "Inbound", "email": "in@dealflow.test", "members": [world.manager.pk]},
    )
    assert response.status_code == 302, form_errors(response)
    queue = Queue.objects.get(name="Inbound")
    assert list(queue.members.all()) == [world.manager]
    assert "name" in form_errors(admin_client.post(admin_url(Queue, "add"), {"name": "Inbound"}))
    for object_name in ("PicklistValue", "Team", "Queue"):
        assert AuditEvent.objects.filter(object_name=object_name).exists(), object_name


def test_a_manager_with_permissions_still_cannot_change_configuration(client, world):
    from dealflow.people.models import Team

    world.give_every_permission()
    client.force_login(world.manager)
    response = client.post(admin_url(Team, "add"), {"name": "Rogue"})
    assert "only admins" in str(form_errors(response))
    assert not Team.objects.filter(name="Rogue").exists()


def test_change_lists_do_not_name_related_records_the_user_may_not_read(manager_client, world):
    """A readable contact at another team's private account: the column does not name it."""
    ContactFactory(owner=world.manager, account=world.hidden[Account], last_name="Visible")
    ContactFactory(
        owner=world.manager, account=AccountFactory(owner=world.manager, name="Own Works")
    )
    page = manager_client.get(admin_url(Contact, "changelist")).content.decode()
    assert "Visible" in page
    assert "Own Works" in page
    assert f"{SECRET} Account" not in page
    assert HIDDEN_RECORD_LABEL in page


def test_every_back_office_delete_goes_through_a_service(rf, admin_user):
    """An admin may delete only where the model admin deletes through a domain service."""
    from dealflow.core.admin import RecordAdmin

    request = rf.get("/admin/")
    request.user = admin_user
    deleting = sorted(
        type(model_admin).__name__
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in DEALFLOW_APPS and model_admin.has_delete_permission(request)
    )
    assert deleting == [
        "AccountAdmin",
        "ContactAdmin",
        "LeadAdmin",
        "OpportunityAdmin",
        "OpportunityContactRoleAdmin",
        "TaskAdmin",
    ]
    assert all(
        isinstance(admin.site._registry[model], RecordAdmin)
        for model in (Account, Contact, Lead, Opportunity, OpportunityContactRole, Task)
    )


def test_read_only_fields_do_not_name_related_records_the_user_may_not_read(manager_client, world):
    """A manager's converted lead whose account went to another team's private account."""
    from dealflow.leads.services import lead_convert

    lead = LeadFactory(owner_user=world.manager, last_name="Mine")
    lead_convert(actor=None, lead=lead, account=world.hidden[Account], owner=world.manager)
    page = manager_client.get(admin_url(Lead, "change", lead.pk))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Mine" in text
    assert f"{SECRET} Account" not in text
    assert HIDDEN_RECORD_LABEL in text
