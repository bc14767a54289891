"""Demo data: `load_demo_data` and `dealflow demo`.

Loading takes a few seconds, so the module loads twice in all: once through the command
(rolled back, kept as a fingerprint) and once directly, kept for every test here and
rolled back when the module ends.
"""

from __future__ import annotations

import datetime
import itertools
import re
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.core.models import AuditEvent, Picklist, PicklistValue
from dealflow.demo.data import (
    HISTORY_DAYS,
    UNTOUCHED_DAYS,
    UNTOUCHED_LEAD_COUNT,
    DemoDataExists,
    allocate,
    load_demo_data,
)
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.service_levels import overdue_leads, service_levels
from dealflow.people.models import Queue, Role, Team, User
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
    TaskStatus,
    TaskType,
)

pytestmark = pytest.mark.django_db

EXPECTED_COUNTS = {
    "users": 9,
    "teams": 2,
    "queues": 1,
    "leads": 500,
    "converted_leads": 60,
    "accounts": 150,
    "contacts": 300,
    "opportunities": 200,
    "contact_roles": 240,
    "opportunity_history": 972,
    "tasks": 300,
    "completed_tasks": 109,
}
# Hashing nine passwords the production way takes seconds; the data is the same.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fingerprint() -> dict[str, list]:
    """What the demo made, without primary keys (a rolled-back load does not reuse them)."""
    return {
        "leads": list(
            Lead.objects.order_by("email").values_list(
                "email",
                "company",
                "status__name",
                "lead_source",
                "owner_user__username",
                "owner_queue__name",
                "created_at",
                "converted_date",
            )
        ),
        "opportunities": list(
            Opportunity.objects.order_by("name", "created_at").values_list(
                "name", "account__name", "stage__name", "amount", "close_date", "created_at"
            )
        ),
        "history": list(
            OpportunityHistory.objects.order_by("opportunity__name", "created_at").values_list(
                "opportunity__name", "stage_name", "amount", "close_date", "created_at"
            )
        ),
        "tasks": list(
            Task.objects.order_by("subject", "due_date", "created_at").values_list(
                "subject", "type", "status", "due_date", "lead__email", "contact__email"
            )
        ),
    }


def table_counts() -> dict[str, int]:
    models = [
        User,
        Team,
        Queue,
        Lead,
        Account,
        Contact,
        Opportunity,
        OpportunityContactRole,
        OpportunityHistory,
        Task,
        AuditEvent,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        kept = transaction.atomic()
        kept.__enter__()
    try:
        with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
            with transaction.atomic():
                output = StringIO()
                call_command("demo", "--seed", "7", stdout=output)
                first_load = fingerprint()
                transaction.set_rollback(True)
            counts = load_demo_data(seed=7)
        yield SimpleNamespace(counts=counts, output=output.getvalue(), first_load=first_load)
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            kept.__exit__(None, None, None)


def test_demo_makes_the_expected_number_of_each_record(demo):
    assert demo.counts == EXPECTED_COUNTS
    counts = table_counts()
    del counts["AuditEvent"]  # one or more per write; not part of the contract
    assert counts == {
        "User": 9,
        "Team": 2,
        "Queue": 1,
        "Lead": 500,
        "Account": 150,
        "Contact": 300,
        "Opportunity": 200,
        "OpportunityContactRole": 240,
        "OpportunityHistory": 972,
        "Task": 300,
    }
    assert Lead.objects.filter(is_converted=True).count() == 60
    assert Task.objects.filter(status=TaskStatus.COMPLETED).count() == 109


def test_the_command_prints_progress_and_counts(demo):
    lines = demo.output.splitlines()

    assert lines[0] == "users: 9 in teams East and West, queue Inbound"
    assert "demo data loaded:" in lines
    assert "  opportunities          200" in lines
    assert "  opportunity history    972" in lines


def test_the_same_seed_gives_the_same_data(demo):
    now = fingerprint()

    assert [row[0] for row in now["leads"]] == [row[0] for row in demo.first_load["leads"]]
    assert now == demo.first_load


def test_users_teams_and_queue(demo):
    roles = dict(User.objects.values_list("username", "role"))
    admin = User.objects.get(username="admin")
    inbound = Queue.objects.get(name="Inbound")

    assert sorted(roles.values()).count(Role.REP) == 6
    assert sorted(roles.values()).count(Role.MANAGER) == 2
    assert admin.role == Role.ADMIN and admin.is_superuser
    # The caller (`dealflow bootstrap`) sets and prints the passwords.
    assert not admin.has_usable_password()
    assert [user for user in User.objects.all() if user.has_usable_password()] == []
    assert set(Team.objects.values_list("name", flat=True)) == {"East", "West"}
    assert User.objects.filter(role=Role.MANAGER, team__isnull=True).count() == 0
    assert inbound.members.count() == 3
    assert set(inbound.members.values_list("role", flat=True)) == {Role.REP}


def test_bootstrap_prints_a_login_per_role_that_signs_in(demo, settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)
    output = StringIO()

    call_command("bootstrap", stdout=output)

    lines = output.getvalue().splitlines()
    logins = [line.split()[1::2] for line in lines[1:4]]
    assert lines[0] == "Sign in at http://127.0.0.1:8765/login/ as"
    assert [line.split()[0] for line in lines[1:4]] == ["admin", "manager", "rep"]
    assert [
        authenticate(username=username, password=password).role for username, password in logins
    ] == ["admin", "manager", "rep"]
    assert len((tmp_path / "demo-logins.txt").read_text().splitlines()) == 1 + 8


def test_leads_cover_every_source_and_status(demo):
    sources = set(
        PicklistValue.objects.filter(picklist=Picklist.LEAD_SOURCE).values_list("value", flat=True)
    )
    unconverted_statuses = set(
        LeadStatus.objects.filter(is_converted=False).values_list("name", flat=True)
    )
    unconverted = Lead.objects.filter(is_converted=False)
    emails = list(Lead.objects.values_list("email", flat=True))

    assert set(Lead.objects.values_list("lead_source", flat=True)) == sources
    assert set(unconverted.values_list("status__name", flat=True)) == unconverted_statuses
    assert unconverted.filter(owner_queue__name="Inbound").exists()
    assert len(set(emails)) == len(emails) == 500
    assert "" not in emails


def test_conversions_are_spread_over_the_past(demo):
    today = timezone.localdate()
    converted = Lead.objects.filter(is_converted=True)
    dates = list(converted.values_list("converted_date", flat=True))

    assert set(converted.values_list("status__name", flat=True)) == {"Closed - Converted"}
    assert converted.filter(converted_opportunity__isnull=True).count() == 0
    assert min(dates) >= today - datetime.timedelta(days=HISTORY_DAYS)
    assert max(dates) < today
    assert len(set(dates)) > 30


def test_every_stage_has_an_opportunity(demo):
    stages = set(OpportunityStage.objects.values_list("name", flat=True))
    lost = Opportunity.objects.filter(stage__is_closed=True, stage__is_won=False)

    assert set(Opportunity.objects.values_list("stage__name", flat=True)) == stages
    assert lost.exists()
    assert not lost.filter(loss_reason="").exists()
    assert not Opportunity.objects.filter(amount__isnull=True).exists()
    assert Opportunity.objects.filter(converted_leads__isnull=False).count() == 60
    # Every deal has a primary contact at its own account.
    for opportunity in Opportunity.objects.prefetch_related("contact_roles__contact"):
        primary = [role for role in opportunity.contact_roles.all() if role.is_primary]
        assert len(primary) == 1
        assert primary[0].contact.account_id == opportunity.account_id


def test_history_steps_through_the_stages_over_nine_months(demo):
    now = timezone.now()
    six_months_ago = now - datetime.timedelta(days=183)
    sort_order = dict(OpportunityStage.objects.values_list("name", "sort_order"))
    opportunities = list(Opportunity.objects.select_related("stage").prefetch_related("history"))
    assert len(opportunities) == EXPECTED_COUNTS["opportunities"]

    for opportunity in opportunities:
        rows = list(opportunity.history.all())
        assert rows, f"{opportunity.name} has no history"
        orders = [sort_order[row.stage_name] for row in rows]
        assert orders == sorted(set(orders))
        assert rows[0].created_at == opportunity.created_at
        assert rows[0].previous_stage_name == ""
        for before, after in itertools.pairwise(rows):
            assert after.previous_stage_name == before.stage_name
            assert after.previous_amount == before.amount
            assert after.previous_close_date == before.close_date
        last = rows[-1]
        assert (last.stage_name, last.amount, last.close_date, last.probability) == (
            opportunity.stage.name,
            opportunity.amount,
            opportunity.close_date,
            opportunity.probability,
        )
    history = OpportunityHistory.objects.all()
    old = Opportunity.objects.filter(history__created_at__lt=six_months_ago).distinct()
    assert old.count() >= 40
    assert not history.filter(created_at__gt=now).exists()
    assert not history.filter(
        created_at__lt=now - datetime.timedelta(days=HISTORY_DAYS + 1)
    ).exists()


def test_tasks_are_open_and_completed_on_leads_and_contacts(demo):
    tasks = Task.objects.all()

    assert set(tasks.values_list("type", flat=True)) == set(TaskType.values)
    assert tasks.filter(lead__isnull=False, status=TaskStatus.OPEN).exists()
    assert tasks.filter(lead__isnull=False, status=TaskStatus.COMPLETED).exists()
    assert tasks.filter(contact__isnull=False, status=TaskStatus.OPEN).exists()
    assert tasks.filter(contact__isnull=False, status=TaskStatus.COMPLETED).exists()
    assert not tasks.filter(status=TaskStatus.COMPLETED, completed_at__gt=timezone.now()).exists()
    assert not tasks.filter(lead__is_converted=True).exists()


def test_a_few_new_leads_are_overdue_against_the_default_service_level(demo, client):
    assert service_levels.get().response_hours == 8  # the default the demo is made for
    overdue = overdue_leads(actor=None)

    assert len(overdue) == UNTOUCHED_LEAD_COUNT
    leads = Lead.objects.filter(pk__in=[lead.id for lead in overdue]).select_related("status")
    week_ago = timezone.now() - datetime.timedelta(days=UNTOUCHED_DAYS)
    assert {lead.status.name for lead in leads} == {"Open - Not Contacted"}
    assert not leads.filter(is_converted=True).exists()
    assert not Task.objects.filter(lead__in=leads).exists()
    assert all(lead.created_at.date() <= week_ago.date() for lead in leads)
    # Their trail starts when they were created; the timeline agrees with the list.
    for lead in leads:
        events = AuditEvent.objects.filter(object_name="Lead", record_id=lead.pk)
        assert set(events.values_list("created_at", flat=True)) == {lead.created_at}
    # The lead list's Overdue filter shows them to the admin (All open leads).
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/leads/", {"view": "open", "overdue": "true"}).content.decode()
    shown = set(re.findall(r'name="lead_ids" value="([^"]+)"', page))
    assert shown == {lead.public_id for lead in overdue}


def test_a_second_load_is_refused_and_changes_nothing(demo):
    before = table_counts()

    with pytest.raises(DemoDataExists):
        load_demo_data(seed=8)
    with pytest.raises(CommandError, match="already has leads or accounts"):
        call_command("demo", stdout=StringIO())
    output = StringIO()
    call_command("demo", "--if-empty", stdout=output)

    assert output.getvalue() == ""
    assert table_counts() == before


def test_allocate_gives_each_bucket_at_least_one():
    assert allocate(10, [1, 1]) == [5, 5]
    assert allocate(3, [100, 1, 1]) == [1, 1, 1]
    assert sum(allocate(200, [1.0, 0.93, 0.86, 4.2])) == 200


def test_leads_arriving_without_an_owner_are_dealt_by_the_demo_rules(demo):
    """Web leads go round-robin to the Inbound queue's reps, each decision with its reason
    (what the lead page's Assignment panel shows); any other lead a rep saves without an
    owner stays the rep's, not a queue's."""
    from dealflow.automation.services import assignment_decide

    spatel = User.objects.get(username="spatel")
    with transaction.atomic():
        web = [
            assignment_decide(actor=None, lead=Lead(lead_source="Web", company="Acme"))
            for _ in range(4)
        ]
        phone = assignment_decide(actor=spatel, lead=Lead(lead_source="Phone Inquiry"))
        transaction.set_rollback(True)  # the rounds' places as the load left them

    assert [decision.owner.username for decision in web] == ["spatel", "nkim", "lnguyen", "spatel"]
    assert web[0].reason == (
        f"entry 1 matched (lead_source equals 'Web'): Sam Patel ({spatel.public_id}),"
        " round-robin: user 1 of 3 in its pool"
    )
    assert phone.owner == spatel
    assert phone.reason == (
        "no entry matched and there is no default owner: the acting user"
        f" Sam Patel ({spatel.public_id})"
    )
