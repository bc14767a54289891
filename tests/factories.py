"""factory-boy factories for the domain models (they bypass services: use them for setup)."""

from __future__ import annotations

import datetime

import factory

from dealflow.accounts.models import Account, Contact
from dealflow.leads.models import Lead, LeadStatus
from dealflow.people.models import Queue, Role, Team, User
from dealflow.sales.models import Opportunity, OpportunityStage, Task


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda number: f"Team {number}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda number: f"user{number}")
    first_name = "Pat"
    last_name = factory.Sequence(lambda number: f"Seller{number}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@dealflow.test")
    role = Role.REP


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue

    name = factory.Sequence(lambda number: f"Queue {number}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda number: f"Company {number}")
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = "Alex"
    last_name = factory.Sequence(lambda number: f"Buyer{number}")
    account = factory.SubFactory(AccountFactory)
    owner = factory.SubFactory(UserFactory)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = "Robin"
    last_name = factory.Sequence(lambda number: f"Prospect{number}")
    company = factory.Sequence(lambda number: f"Prospect Co {number}")
    email = factory.Sequence(lambda number: f"robin{number}@prospect.test")
    status = factory.LazyFunction(lambda: LeadStatus.objects.get(is_default=True))
    owner_user = factory.SubFactory(UserFactory)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda number: f"Deal {number}")
    account = factory.SubFactory(AccountFactory)
    close_date = factory.LazyFunction(lambda: datetime.date(2026, 12, 31))
    stage = factory.LazyFunction(lambda: OpportunityStage.objects.get(name="Prospecting"))
    probability = factory.LazyAttribute(lambda opportunity: opportunity.stage.probability)
    forecast_category = factory.LazyAttribute(
        lambda opportunity: opportunity.stage.forecast_category
    )
    owner = factory.SubFactory(UserFactory)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    subject = factory.Sequence(lambda number: f"Call back {number}")
    owner = factory.SubFactory(UserFactory)
