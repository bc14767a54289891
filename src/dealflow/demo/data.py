"""Demo data: a small sales organisation with nine months of pipeline behind it.

`load_demo_data` fills an empty database through the domain services, so every record
is one a user could have made. Services stamp what they write with the current time,
though, and a demo that was all created "just now" shows empty trend reports; the past
is therefore simulated afterwards by a few direct, set-based writes (`_Demo.backdate`).
The same seed on the same day gives the same data.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.services import account_create, account_update, contact_create
from dealflow.core.models import AuditEvent, Picklist, PicklistValue
from dealflow.leads.models import Lead, LeadStatus
from dealflow.leads.services import lead_convert, lead_create
from dealflow.people.models import Queue, Role, Team, User
from dealflow.people.services import user_create
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
    Task,
    TaskPriority,
    TaskType,
)
from dealflow.sales.services import (
    contact_role_set,
    history_row,
    opportunity_create,
    opportunity_update,
    stage_stays_record,
    task_complete,
    task_create,
)


class Writer(Protocol):
    """Where progress lines go: a text stream or a management command's stdout."""

    def write(self, text: str, /) -> Any: ...


class DemoDataExists(Exception):
    """The database already holds leads or accounts; demo data only goes into an empty one."""


HISTORY_DAYS = 270  # about nine months
LEAD_COUNT = 500
CONVERTED_LEAD_COUNT = 60
DIRECT_ACCOUNT_COUNT = 90
EXTRA_OPPORTUNITY_COUNT = 50  # second and third deals of direct accounts
SECONDARY_ROLE_COUNT = 40
LEAD_TASK_COUNT = 150
CONTACT_TASK_COUNT = 150
WON_SHARE, LOST_SHARE = 0.22, 0.18  # of all opportunities; the rest are open
# New leads nobody has touched for a week or more: overdue against the default service
# level (8 working hours), so the lead list's Overdue filter has something to show.
UNTOUCHED_LEAD_COUNT = 12
UNTOUCHED_DAYS = 7  # at least five working days: overdue under any working week

# (username, first name, last name, role, team)
STAFF = [
    ("admin", "Avery", "Stone", Role.ADMIN, None),
    ("mgarcia", "Maria", "Garcia", Role.MANAGER, "East"),
    ("dchen", "David", "Chen", Role.MANAGER, "West"),
    ("spatel", "Sam", "Patel", Role.REP, "East"),
    ("obrown", "Olivia", "Brown", Role.REP, "East"),
    ("nkim", "Noah", "Kim", Role.REP, "East"),
    ("ewilson", "Emma", "Wilson", Role.REP, "West"),
    ("lnguyen", "Liam", "Nguyen", Role.REP, "West"),
    ("amartinez", "Ava", "Martinez", Role.REP, "West"),
]
DEMO_LOGINS_FILE = "demo-logins.txt"  # under settings.VAR_DIR, mode 0600
QUEUE_NAME = "Inbound"
QUEUE_MEMBERS = ["spatel", "nkim", "lnguyen"]
STAFF_DOMAIN = "dealflow.example"

FIRST_NAMES = [
    "Aaron", "Abigail", "Adrian", "Aisha", "Alan", "Alicia", "Amir", "Andrea", "Ben",
    "Bianca", "Brandon", "Carla", "Carlos", "Chloe", "Chris", "Claire", "Daniel", "Diana",
    "Eli", "Elena", "Ethan", "Fatima", "Felix", "Fiona", "Gabriel", "Grace", "Hannah",
    "Hugo", "Ian", "Imani", "Isaac", "Jade", "James", "Jasmine", "Jonas", "Julia", "Kai",
    "Karen", "Kevin", "Laura", "Leon", "Lucy", "Marco", "Maya", "Mei", "Nadia", "Nathan",
    "Nina", "Omar", "Paula", "Peter", "Priya", "Rachel", "Raj", "Rosa", "Ryan", "Sara",
    "Sofia", "Tariq", "Tessa", "Tom", "Vera", "Victor", "Yuki", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Adams", "Ahmed", "Alvarez", "Andersen", "Baker", "Bauer", "Becker", "Bell", "Brooks",
    "Campbell", "Carter", "Castillo", "Cohen", "Collins", "Cooper", "Costa", "Davies",
    "Diaz", "Edwards", "Evans", "Fischer", "Fleming", "Foster", "Graham", "Gupta", "Hall",
    "Hansen", "Harris", "Hughes", "Ito", "Jensen", "Johnson", "Kaur", "Keller", "Khan",
    "Lambert", "Larsen", "Lopez", "Meyer", "Mitchell", "Moreau", "Murphy", "Novak",
    "O'Brien", "Okafor", "Olsen", "Parker", "Perez", "Quinn", "Reed", "Reyes", "Rossi",
    "Russo", "Sato", "Schmidt", "Shah", "Silva", "Sullivan", "Tanaka", "Turner", "Walsh",
    "Weber", "Young", "Zhang",
]  # fmt: skip
TITLES = [
    "CEO", "CFO", "COO", "CTO", "VP Sales", "VP Operations", "VP Engineering",
    "Head of IT", "Head of Procurement", "IT Director", "Finance Director",
    "Operations Manager", "Procurement Manager", "IT Manager", "Marketing Manager",
    "Project Manager", "Office Manager", "Systems Analyst", "Business Analyst",
    "Purchasing Agent",
]  # fmt: skip
COMPANY_PREFIXES = [
    "Acorn", "Alder", "Amber", "Apex", "Arrow", "Aspen", "Atlas", "Beacon", "Birch",
    "Blue", "Bright", "Cedar", "Clear", "Cobalt", "Copper", "Crest", "Delta", "Eagle",
    "Ember", "Evergreen", "Falcon", "Granite", "Harbor", "Iron", "Juniper", "Lake",
    "Maple", "North", "Oak", "Pine", "Red", "Silver",
]  # fmt: skip
COMPANY_ROOTS = [
    "bridge", "brook", "field", "gate", "haven", "hill", "line", "mark", "mont", "peak",
    "point", "ridge", "rock", "shore", "side", "stone", "ton", "vale", "view", "water",
    "way", "well", "wind", "wood",
]  # fmt: skip
# (company name suffix, industry picklist value)
COMPANY_KINDS = [
    ("Logistics", "Transportation"),
    ("Foods", "Food & Beverage"),
    ("Health", "Healthcare"),
    ("Capital", "Finance"),
    ("Bank", "Banking"),
    ("Labs", "Biotechnology"),
    ("Software", "Technology"),
    ("Systems", "Electronics"),
    ("Energy", "Energy"),
    ("Builders", "Construction"),
    ("Media", "Media"),
    ("Telecom", "Telecommunications"),
    ("Insurance", "Insurance"),
    ("Manufacturing", "Manufacturing"),
    ("Industries", "Machinery"),
    ("Outfitters", "Retail"),
    ("Consulting", "Consulting"),
    ("Hotels", "Hospitality"),
    ("Shipping", "Shipping"),
    ("Engineering", "Engineering"),
    ("Utilities", "Utilities"),
    ("Academy", "Education"),
]


@dataclass(frozen=True)
class City:
    """A city and its fictional phone numbers (ranges reserved for films and books)."""

    name: str
    state: str
    country: str
    postal_code: str
    phone_format: str  # str.format with {number}
    phone_capacity: int


def _nanp(name: str, state: str, country: str, postal_code: str, area: int) -> City:
    # 555-0100 to 555-0199 is the North American range reserved for fiction.
    return City(name, state, country, postal_code, f"+1 ({area}) 555-01{{number:02d}}", 100)


CITIES = [
    _nanp("New York", "NY", "United States", "10001", 212),
    _nanp("Boston", "MA", "United States", "02110", 617),
    _nanp("Chicago", "IL", "United States", "60601", 312),
    _nanp("San Francisco", "CA", "United States", "94105", 415),
    _nanp("Seattle", "WA", "United States", "98101", 206),
    _nanp("Austin", "TX", "United States", "78701", 512),
    _nanp("Denver", "CO", "United States", "80202", 303),
    _nanp("Atlanta", "GA", "United States", "30303", 404),
    _nanp("Miami", "FL", "United States", "33131", 305),
    _nanp("Los Angeles", "CA", "United States", "90012", 213),
    _nanp("Philadelphia", "PA", "United States", "19103", 215),
    _nanp("Minneapolis", "MN", "United States", "55402", 612),
    _nanp("Portland", "OR", "United States", "97204", 503),
    _nanp("Phoenix", "AZ", "United States", "85004", 602),
    _nanp("Dallas", "TX", "United States", "75201", 214),
    _nanp("Nashville", "TN", "United States", "37203", 615),
    _nanp("Toronto", "ON", "Canada", "M5H 2N2", 416),
    _nanp("Vancouver", "BC", "Canada", "V6C 1T2", 604),
    _nanp("Montreal", "QC", "Canada", "H3B 4W8", 514),
    _nanp("Calgary", "AB", "Canada", "T2P 1J9", 403),
    City("London", "England", "United Kingdom", "EC2A 4NE", "+44 20 7946 0{number:03d}", 1000),
    City("Manchester", "England", "United Kingdom", "M1 1AE", "+44 161 496 0{number:03d}", 1000),
    City("Sydney", "NSW", "Australia", "2000", "+61 2 5550 {number:04d}", 10000),
    City("Melbourne", "VIC", "Australia", "3000", "+61 3 7010 {number:04d}", 10000),
]
STREETS = [
    "Main Street", "Market Street", "Harbor Way", "Oak Avenue", "Pine Street",
    "Commerce Drive", "Innovation Way", "King Street", "Queen Street", "Station Road",
    "High Street", "Park Avenue", "Elm Street", "Mill Road", "Bridge Street", "River Road",
]  # fmt: skip
PRODUCTS = [
    "Platform licence", "Analytics add-on", "Pilot", "Enterprise plan", "Team plan",
    "Onboarding package", "Support upgrade", "Multi-year renewal", "Data migration",
    "Integration services",
]  # fmt: skip
NEXT_STEPS = [
    "Schedule demo with IT", "Send revised quote", "Security review", "Call with CFO",
    "Draft statement of work", "Reference call", "Legal review of contract",
    "Confirm budget owner", "Workshop with stakeholders", "Trial kickoff",
]  # fmt: skip
# (type, subject template); {first}, {last}, {company} are filled in.
TASK_TEMPLATES = [
    (TaskType.CALL, "Discovery call with {first}"),
    (TaskType.CALL, "Follow-up call: {company}"),
    (TaskType.CALL, "Check in with {first} on timeline"),
    (TaskType.EMAIL, "Send pricing to {first} {last}"),
    (TaskType.EMAIL, "Email case study to {first}"),
    (TaskType.EMAIL, "Send proposal to {company}"),
    (TaskType.MEETING, "Demo for {company}"),
    (TaskType.MEETING, "On-site meeting at {company}"),
    (TaskType.MEETING, "Quarterly review with {first}"),
    (TaskType.TODO, "Prepare quote for {company}"),
    (TaskType.TODO, "Research {company} org chart"),
    (TaskType.TODO, "Update details for {first} {last}"),
]


@dataclass
class Company:
    """A fictional company, shared by its leads, account and contacts."""

    name: str
    domain: str
    industry: str
    city: City
    street: str
    employees: int
    annual_revenue: int


@dataclass
class DealStep:
    """One simulated change of an opportunity: the values after it and its day."""

    stage: OpportunityStage
    day: datetime.date
    amount: Decimal
    close_date: datetime.date


@dataclass
class DealPlan:
    """An opportunity's simulated life, from its first stage to its current one."""

    steps: list[DealStep]
    loss_reason: str = ""
    step_times: list[datetime.datetime] = field(default_factory=list)

    @property
    def final(self) -> DealStep:
        return self.steps[-1]


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights`, at least 1 each (largest remainders)."""
    if total < len(weights):
        raise ValueError("fewer items than buckets")
    spare = total - len(weights)
    shares = [spare * weight / sum(weights) for weight in weights]
    counts = [1 + int(share) for share in shares]
    by_remainder = sorted(
        range(len(weights)), key=lambda index: (int(shares[index]) - shares[index], index)
    )
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


class _Demo:
    """The state of one demo load; the methods run in the order `run` calls them."""

    def __init__(self, *, seed: int, stdout: Writer | None) -> None:
        self.rng = random.Random(seed)
        self.stdout = stdout
        self.today = timezone.localdate()
        self.counts: dict[str, int] = {}
        self.used_emails: set[str] = set()
        self.phones_used = dict.fromkeys(range(len(CITIES)), 0)
        self.stages = list(OpportunityStage.objects.filter(is_active=True))
        self.open_stages = [stage for stage in self.stages if not stage.is_closed]
        self.statuses = list(LeadStatus.objects.filter(is_active=True, is_converted=False))
        self.lead_sources = self._picklist(Picklist.LEAD_SOURCE)
        self.loss_reasons = self._picklist(Picklist.LOSS_REASON)
        self.contact_roles = self._picklist(Picklist.CONTACT_ROLE)
        self.opportunity_types = self._picklist(Picklist.OPPORTUNITY_TYPE)
        self.ratings = self._picklist(Picklist.RATING)
        # Simulated creation times by model and primary key; applied by `backdate`.
        self.created: dict[Any, dict[int, datetime.datetime]] = {
            Lead: {},
            Account: {},
            Contact: {},
            Task: {},
        }
        self.converted_at: dict[int, datetime.datetime] = {}
        self.completed_at: dict[int, datetime.datetime] = {}
        self.deals: list[tuple[Opportunity, DealPlan]] = []
        self.converting: list[int] = []
        self.untouched: list[int] = []  # leads whose audit trail goes back to their creation
        self.users: dict[str, User] = {}
        self.reps: list[User] = []
        self.queue_members: list[User] = []

    # -- helpers ---------------------------------------------------------------------

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message + "\n")

    @staticmethod
    def _picklist(picklist: str) -> list[str]:
        return list(
            PicklistValue.objects.filter(picklist=picklist, is_active=True).values_list(
                "value", flat=True
            )
        )

    def spread(self, values: Sequence[Any], weights: Sequence[float], total: int) -> list[Any]:
        """`total` values, each at least once, in proportion to the weights, shuffled."""
        items = [
            value
            for value, count in zip(values, allocate(total, weights), strict=True)
            for _ in range(count)
        ]
        self.rng.shuffle(items)
        return items

    def moment(self, day: datetime.date) -> datetime.datetime:
        """A time in working hours on `day`, in the current time zone."""
        hour, minute = self.rng.randint(8, 17), self.rng.randint(0, 59)
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))

    def days_ago(self, low: int, high: int) -> datetime.date:
        return self.today - datetime.timedelta(days=self.rng.randint(low, high))

    def phone(self, city: City) -> str:
        index = CITIES.index(city)
        number = self.phones_used[index]
        if number >= city.phone_capacity:
            return ""  # better no number than someone else's
        self.phones_used[index] = number + 1
        return city.phone_format.format(number=number)

    def contact_values(
        self, company: Company, account: Any, lead_source: str, owner: Any
    ) -> dict[str, Any]:
        """A new contact of `account` at `company`'s address (contact_create's data)."""
        return {
            **self.person(company),
            "account": account,
            "lead_source": lead_source,
            "mailing_street": company.street,
            "mailing_city": company.city.name,
            "mailing_state": company.city.state,
            "mailing_postal_code": company.city.postal_code,
            "mailing_country": company.city.country,
            "owner": owner,
        }

    def person(self, company: Company) -> dict[str, Any]:
        """Name, title, email and phone of someone new at `company`."""
        while True:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower().replace("'", "")
            email = f"{local}@{company.domain}"
            if email not in self.used_emails:
                self.used_emails.add(email)
                break
        values = {
            "first_name": first,
            "last_name": last,
            "title": self.rng.choice(TITLES),
            "email": email,
            "phone": self.phone(company.city),
        }
        if self.rng.random() < 0.3:
            values["mobile_phone"] = self.phone(company.city)
        return values

    def companies(self, count: int) -> list[Company]:
        names = [prefix + root for prefix in COMPANY_PREFIXES for root in COMPANY_ROOTS]
        result = []
        for stem in self.rng.sample(names, count):
            suffix, industry = self.rng.choice(COMPANY_KINDS)
            employees = self.rng.choice([12, 25, 40, 80, 150, 300, 600, 1200, 2500, 8000])
            employees += self.rng.randint(0, employees // 4)
            result.append(
                Company(
                    name=f"{stem} {suffix}",
                    domain=f"{stem.lower()}.example",
                    industry=industry,
                    city=self.rng.choice(CITIES),
                    street=f"{self.rng.randint(1, 999)} {self.rng.choice(STREETS)}",
                    employees=employees,
                    annual_revenue=employees * self.rng.randint(80, 400) * 1000,
                )
            )
        return result

    def base_amount(self, company: Company) -> int:
        low, high = (
            (5_000, 30_000)
            if company.employees < 100
            else (20_000, 150_000)
            if company.employees < 1000
            else (80_000, 500_000)
        )
        return round(self.rng.randint(low, high) / 500) * 500

    # -- the steps of a load ---------------------------------------------------------

    def run(self) -> dict[str, int]:
        self.people()
        companies = self.companies(LEAD_COUNT + DIRECT_ACCOUNT_COUNT)
        lead_companies, account_companies = companies[:LEAD_COUNT], companies[LEAD_COUNT:]
        final_stages = self.final_stages(
            CONVERTED_LEAD_COUNT + DIRECT_ACCOUNT_COUNT + EXTRA_OPPORTUNITY_COUNT
        )
        leads = self.leads(lead_companies)
        self.conversions(leads, lead_companies, final_stages[:CONVERTED_LEAD_COUNT])
        self.accounts(account_companies, final_stages[CONVERTED_LEAD_COUNT:])
        self.tasks(leads)
        self.untouched_leads(leads)
        self.backdate()
        self.assignment_rules()
        self.counts["opportunities"] = len(self.deals)
        self.counts["contact_roles"] = OpportunityContactRole.objects.count()
        order = [
            "users", "teams", "queues", "leads", "converted_leads", "accounts", "contacts",
            "opportunities", "contact_roles", "opportunity_history", "tasks", "completed_tasks",
        ]  # fmt: skip
        return {name: self.counts[name] for name in order}

    def people(self) -> None:
        # Teams and queues have no service yet: they are plain configuration rows.
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in ("East", "West")}
        created = 0
        for username, first, last, role, team in STAFF:
            existing = User.objects.filter(username__iexact=username).first()
            self.users[username] = existing or user_create(
                actor=None,
                username=username,
                # `dealflow bootstrap` gives them passwords (`demo_logins`) and prints them;
                # loading data must not choose or print secrets.
                password=None,
                role=role,
                email=f"{username}@{STAFF_DOMAIN}",
                first_name=first,
                last_name=last,
                team=teams[team] if team else None,
            )
            created += existing is None
        self.reps = [self.users[row[0]] for row in STAFF if row[3] == Role.REP]
        self.queue, _created = Queue.objects.get_or_create(
            name=QUEUE_NAME, defaults={"email": f"inbound@{STAFF_DOMAIN}"}
        )
        self.queue.members.add(*(self.users[name] for name in QUEUE_MEMBERS))
        self.queue_members = [self.users[name] for name in QUEUE_MEMBERS]
        self.counts.update(users=created, teams=len(teams), queues=1)
        self.say(f"users: {created} in teams East and West, queue {QUEUE_NAME}")

    def assignment_rules(self) -> None:
        """Rules for the leads that arrive without an owner after the load (web-to-lead,
        the API, an import without an owner column), so that a new user sees them dealt
        and the lead page's Assignment panel says why (docs/assignment.md): Web leads
        round-robin to the Inbound queue's reps. No entry catches the other leads: a lead
        a rep saves on the New lead page without an owner stays theirs (the acting user,
        as no rule matched), rather than going to a queue. Set after every demo lead
        exists (their owners are the load's), and only when no rules are active: a
        team's own rules are never replaced."""
        from dealflow.automation.selectors import active_rule_set
        from dealflow.automation.services import assignment_rules_set

        if active_rule_set() is not None:
            return
        web = {"field": "lead_source", "operator": "equals", "value": "Web"}
        pool = [user.public_id for user in self.queue_members]
        assignment_rules_set(
            actor=self.users["admin"],
            rules={
                "default_owner_id": None,
                "entries": [
                    {
                        "criteria": [web],
                        "assign_to": {"kind": "round_robin", "user_ids": pool, "capacity": None},
                    },
                ],
            },
        )
        self.say(f"assignment rules: Web leads round-robin to {QUEUE_NAME}'s reps")

    def final_stages(self, total: int) -> list[OpportunityStage]:
        """The current stage of every opportunity: every stage used, early ones more."""
        open_weights = [1.0 - 0.07 * position for position in range(len(self.open_stages))]
        # Scale the closed stages so that won and lost deals get their shares of the total.
        total_weight = sum(open_weights) / (1 - WON_SHARE - LOST_SHARE)
        won = [stage for stage in self.stages if stage.is_won]
        lost = [stage for stage in self.stages if stage.is_lost]
        weights = [
            total_weight * WON_SHARE / len(won)
            if stage.is_won
            else total_weight * LOST_SHARE / len(lost)
            if stage.is_lost
            else open_weights[self.open_stages.index(stage)]
            for stage in self.stages
        ]
        return self.spread(self.stages, weights, total)

    def leads(self, companies: list[Company]) -> list[Lead]:
        converted = set(self.rng.sample(range(LEAD_COUNT), CONVERTED_LEAD_COUNT))
        self.converting = sorted(converted)
        unconverted_count = LEAD_COUNT - CONVERTED_LEAD_COUNT
        # Most leads are new or being worked; fewer get to the later open statuses.
        working = [
            status for status in self.statuses if not (status.is_default or status.is_closed)
        ]
        statuses = self.spread(
            self.statuses,
            [
                4.0
                if status.is_default
                else 2.0
                if status.is_closed
                else 3.0 / (1 + working.index(status))
                for status in self.statuses
            ],
            unconverted_count,
        )
        # Leads about to be converted were qualified first: the last open status.
        qualified = [status for status in self.statuses if not status.is_closed][-1]
        # Web first, then phone, referrals and trade shows; "Other" least (default order).
        source_weights = [5, 3, 3, 2, 3, 2, 1, *[1] * len(self.lead_sources)]
        sources = self.spread(
            self.lead_sources, source_weights[: len(self.lead_sources)], LEAD_COUNT
        )
        leads = []
        for index, company in enumerate(companies):
            status = qualified if index in converted else statuses.pop()
            owner: User | Queue = self.rng.choice(self.reps)
            # Half the uncontacted leads wait in the Inbound queue until a rep takes them.
            if status.is_default and self.rng.random() < 0.5:
                owner = self.queue
            data = {
                **self.person(company),
                "company": company.name,
                "website": f"https://www.{company.domain}",
                "street": company.street,
                "city": company.city.name,
                "state": company.city.state,
                "postal_code": company.city.postal_code,
                "country": company.city.country,
                "lead_source": sources[index],
                "status": status.name,
                "industry": company.industry,
                "rating": self.rng.choice(self.ratings) if self.rng.random() < 0.7 else "",
                "annual_revenue": company.annual_revenue,
                "number_of_employees": company.employees,
                "owner": owner,
            }
            actor = owner if isinstance(owner, User) else self.rng.choice(self.queue_members)
            # The demo's people are generated: a chance likeness is not a duplicate to refuse.
            lead = lead_create(actor=actor, data=data, allow_duplicates=True)
            if status.is_default:
                low, high = 1, 30
            elif status.is_closed:
                low, high = 14, HISTORY_DAYS
            else:
                low, high = 3, 150
            self.created[Lead][lead.pk] = self.moment(self.days_ago(low, high))
            leads.append(lead)
        self.counts["leads"] = len(leads)
        self.say(f"leads: {len(leads)}")
        return leads

    def plan_deal(self, final: OpportunityStage, amount: int) -> DealPlan:
        """Steps through the stages in order (skipping some) up to `final`, back in time."""
        if final.is_closed:
            reached = (
                len(self.open_stages)
                if final.is_won
                else self.rng.randint(1, len(self.open_stages))
            )
            path = [*self.open_stages[:reached], final]
        else:
            path = self.open_stages[: self.open_stages.index(final) + 1]
        path = [
            stage
            for position, stage in enumerate(path)
            if position in (0, len(path) - 1) or self.rng.random() < 0.85
        ]
        count = len(path)
        if final.is_closed:
            start = self.days_ago(45, HISTORY_DAYS)
            longest = min((self.today - start).days - 1, 150)
            last = self.rng.randint(min(longest, max(3 * count, 14)), longest)
        else:
            start = self.days_ago(count + 7, HISTORY_DAYS)
            latest = (self.today - start).days - 1
            last = self.rng.randint(max(count - 1, latest - 45), latest)
        offsets = [0]
        if count > 1:
            offsets += [*sorted(self.rng.sample(range(1, last), count - 2)), last]
        close_date = start + datetime.timedelta(days=self.rng.randint(30, 120))
        steps = []
        for position, (stage, offset) in enumerate(zip(path, offsets, strict=True)):
            day = start + datetime.timedelta(days=offset)
            if position and self.rng.random() < 0.15:
                amount = round(amount * self.rng.choice([0.8, 1.2, 1.5]) / 100) * 100
            if position and self.rng.random() < 0.15:
                close_date += datetime.timedelta(days=self.rng.randint(30, 75))  # a push
            if stage.is_closed:
                close_date = day
            elif position == count - 1 and close_date < self.today - datetime.timedelta(days=21):
                close_date = self.today + datetime.timedelta(days=self.rng.randint(7, 90))
            steps.append(
                DealStep(stage=stage, day=day, amount=Decimal(amount), close_date=close_date)
            )
        plan = DealPlan(steps=steps)
        if final.is_lost:
            plan.loss_reason = self.rng.choice(self.loss_reasons)
        plan.step_times = [self.moment(step.day) for step in steps]
        return plan

    def deal_values(self, plan: DealPlan, *, new_customer: bool) -> dict[str, Any]:
        final = plan.final
        values: dict[str, Any] = {
            "stage": final.stage.name,
            "amount": final.amount,
            "close_date": final.close_date,
            "type": self.opportunity_types[
                0 if new_customer else self.rng.randint(1, min(2, len(self.opportunity_types) - 1))
            ],
        }
        if plan.loss_reason:
            values["loss_reason"] = plan.loss_reason
        if not final.stage.is_closed:
            values["next_step"] = self.rng.choice(NEXT_STEPS)
        return values

    def conversions(
        self, leads: list[Lead], companies: list[Company], stages: list[OpportunityStage]
    ) -> None:
        for index, stage in zip(self.converting, stages, strict=True):
            lead, company = leads[index], companies[index]
            plan = self.plan_deal(stage, self.base_amount(company))
            owner = lead.owner_user or self.rng.choice(self.queue_members)
            result = lead_convert(
                actor=owner,
                lead=lead,
                owner=owner,
                opportunity_name=f"{company.name} - {self.rng.choice(PRODUCTS)}",
            )
            assert result.opportunity_id is not None
            opportunity = Opportunity.objects.get(pk=result.opportunity_id)
            opportunity = opportunity_update(
                actor=owner, opportunity=opportunity, data=self.deal_values(plan, new_customer=True)
            )
            self.deals.append((opportunity, plan))
            account = Account.objects.get(pk=result.account_id)
            account_update(
                actor=owner,
                account=account,
                data={
                    "type": "Customer" if stage.is_won else "Prospect",
                    "phone": self.phone(company.city),
                },
            )
            converted_at = plan.step_times[0]
            lead_created = converted_at - datetime.timedelta(days=self.rng.randint(2, 30))
            self.created[Lead][lead.pk] = lead_created
            self.converted_at[lead.pk] = converted_at
            self.created[Account][account.pk] = converted_at
            self.created[Contact][result.contact_id] = converted_at
            colleague = contact_create(
                actor=owner,
                allow_duplicates=True,
                data=self.contact_values(company, account, lead.lead_source, owner),
            )
            colleague_day = converted_at.date() + datetime.timedelta(days=self.rng.randint(0, 20))
            self.created[Contact][colleague.pk] = max(
                converted_at,
                self.moment(min(self.today - datetime.timedelta(days=1), colleague_day)),
            )
        self.counts["converted_leads"] = len(self.converting)
        self.say(
            f"lead conversions: {len(self.converting)} (an account, a contact and a deal each)"
        )

    def accounts(self, companies: list[Company], stages: list[OpportunityStage]) -> None:
        # Every direct account has a deal; some have a second or third one.
        deal_counts = [1] * len(companies)
        for index in self.rng.choices(range(len(companies)), k=EXTRA_OPPORTUNITY_COUNT):
            deal_counts[index] += 1
        stage_queue = list(stages)
        direct_deals: list[tuple[Opportunity, Account, list[Contact]]] = []
        for company, deal_count in zip(companies, deal_counts, strict=True):
            owner = self.rng.choice(self.reps)
            source = self.rng.choice(self.lead_sources)
            plans = [
                self.plan_deal(stage_queue.pop(), self.base_amount(company))
                for _ in range(deal_count)
            ]
            won = any(plan.final.stage.is_won for plan in plans)
            account = account_create(
                actor=owner,
                allow_duplicates=True,
                data={
                    "name": company.name,
                    "website": f"https://www.{company.domain}",
                    "phone": self.phone(company.city),
                    "industry": company.industry,
                    "annual_revenue": company.annual_revenue,
                    "number_of_employees": company.employees,
                    "rating": self.rng.choice(self.ratings),
                    "type": "Customer" if won else "Prospect",
                    "account_source": source,
                    "billing_street": company.street,
                    "billing_city": company.city.name,
                    "billing_state": company.city.state,
                    "billing_postal_code": company.city.postal_code,
                    "billing_country": company.city.country,
                    "owner": owner,
                },
            )
            first_day = min(plan.steps[0].day for plan in plans)
            account_day = first_day - datetime.timedelta(days=self.rng.randint(1, 20))
            self.created[Account][account.pk] = self.moment(account_day)
            contacts = []
            for _ in range(2):
                contact = contact_create(
                    actor=owner,
                    allow_duplicates=True,
                    data=self.contact_values(company, account, source, owner),
                )
                contact_day = account_day + datetime.timedelta(days=self.rng.randint(0, 5))
                self.created[Contact][contact.pk] = self.moment(min(contact_day, first_day))
                contacts.append(contact)
            for position, plan in enumerate(sorted(plans, key=lambda plan: plan.steps[0].day)):
                values = self.deal_values(plan, new_customer=position == 0)
                product = self.rng.choice(PRODUCTS)
                opportunity = opportunity_create(
                    actor=owner,
                    data={
                        **values,
                        "name": f"{company.name} - {product}",
                        "account": account,
                        "lead_source": source,
                        "owner": owner,
                    },
                )
                contact_role_set(
                    actor=owner,
                    opportunity=opportunity,
                    contact=contacts[0] if self.rng.random() < 0.7 else contacts[1],
                    role=self.rng.choice(self.contact_roles[:2]),
                    is_primary=True,
                )
                self.deals.append((opportunity, plan))
                direct_deals.append((opportunity, account, contacts))
        for opportunity, _account, contacts in self.rng.sample(direct_deals, SECONDARY_ROLE_COUNT):
            primary = opportunity.contact_roles.get(is_primary=True).contact
            other = contacts[1] if primary.pk == contacts[0].pk else contacts[0]
            contact_role_set(
                actor=opportunity.owner,
                opportunity=opportunity,
                contact=other,
                role=self.rng.choice(self.contact_roles[2:]),
            )
        self.counts["accounts"] = Account.objects.count()
        self.counts["contacts"] = Contact.objects.count()
        self.say(
            f"accounts: {self.counts['accounts']}, contacts: {self.counts['contacts']}, "
            f"opportunities: {len(self.deals)}"
        )

    def task_subject(self, first: str, last: str, company: str) -> tuple[str, str]:
        task_type, template = self.rng.choice(TASK_TEMPLATES)
        return task_type, template.format(first=first or last, last=last, company=company)

    def tasks(self, leads: list[Lead]) -> None:
        yesterday = self.today - datetime.timedelta(days=1)
        priorities = [TaskPriority.HIGH, TaskPriority.NORMAL, TaskPriority.NORMAL, TaskPriority.LOW]
        converted = set(self.converting)
        open_leads = [
            lead
            for index, lead in enumerate(leads)
            if index not in converted and not lead.status.is_closed
        ]
        targets: list[tuple[Lead | Contact, Any, User, datetime.datetime, str]] = []
        for lead in self.rng.sample(open_leads, LEAD_TASK_COUNT):
            owner = lead.owner_user or self.rng.choice(self.queue_members)
            targets.append((lead, None, owner, self.created[Lead][lead.pk], lead.company))
        contacts = list(Contact.objects.select_related("account", "owner").order_by("pk"))
        open_deal_of = {
            opportunity.account_id: opportunity
            for opportunity, plan in self.deals
            if not plan.final.stage.is_closed
        }
        for contact in self.rng.sample(contacts, CONTACT_TASK_COUNT):
            assert contact.account is not None
            what = open_deal_of.get(contact.account_id, contact.account)
            company = contact.account.name
            targets.append(
                (contact, what, contact.owner, self.created[Contact][contact.pk], company)
            )
        completed = 0
        for who, what, owner, record_created, company in targets:
            task_type, subject = self.task_subject(who.first_name, who.last_name, company)
            # Leads nobody has contacted yet only have something to do, nothing done.
            done = not (isinstance(who, Lead) and who.status.is_default) and self.rng.random() < 0.5
            if done:
                first = max(record_created.date(), yesterday - datetime.timedelta(days=120))
                due = first + datetime.timedelta(days=self.rng.randint(0, (yesterday - first).days))
                created_at = max(record_created, self.moment(due - datetime.timedelta(days=7)))
            else:
                due = self.today + datetime.timedelta(days=self.rng.randint(-7, 21))
                created_at = max(record_created, self.moment(self.days_ago(1, 14)))
            task = task_create(
                actor=owner,
                subject=subject,
                who=who,
                what=what,
                type=task_type,
                priority=self.rng.choice(priorities),
                due_date=due,
                owner=owner,
            )
            self.created[Task][task.pk] = created_at
            if done:
                task_complete(actor=owner, task=task)
                self.completed_at[task.pk] = max(created_at, self.moment(due))
                completed += 1
        self.counts["tasks"] = len(targets)
        self.counts["completed_tasks"] = completed
        self.say(f"tasks: {len(targets)} ({completed} completed)")

    def untouched_leads(self, leads: list[Lead]) -> None:
        """Pick a few new leads (default status, no task) a week old or more that nobody
        has touched since: `backdate` moves their audit trail to their creation, so the
        service level finds them overdue (the others' creation events stay stamped now,
        which counts as a touch: a demo of hundreds of overdue leads would tell nothing).
        """
        converted = set(self.converting)
        with_tasks = set(Task.objects.filter(lead__isnull=False).values_list("lead_id", flat=True))
        latest = self.today - datetime.timedelta(days=UNTOUCHED_DAYS)
        candidates = [
            lead.pk
            for index, lead in enumerate(leads)
            if index not in converted
            and lead.status.is_default
            and lead.pk not in with_tasks
            and self.created[Lead][lead.pk].date() <= latest
        ]
        count = min(UNTOUCHED_LEAD_COUNT, len(candidates))
        self.untouched = sorted(self.rng.sample(candidates, count))
        self.say(f"untouched: {count} new leads waiting past the response time (overdue)")

    def backdate(self) -> None:
        """Move what the services stamped "now" into the simulated past.

        Demo data stands for months of work done before today; without this every
        record, conversion and stage change would have happened this minute, and
        pipeline history, stage durations and trends would show nothing. These are
        direct writes by design: the services rightly refuse to invent a past.
        """
        # The services wrote one or two history rows per deal, stamped now; the
        # simulated timeline replaces them, each row built by the service's own helper.
        deal_ids = [opportunity.pk for opportunity, _plan in self.deals]
        OpportunityHistory.objects.filter(opportunity_id__in=deal_ids).delete()
        rows = []
        for opportunity, plan in self.deals:
            previous: DealStep | None = None
            for step, at in zip(plan.steps, plan.step_times, strict=True):
                snapshot = Opportunity(
                    pk=opportunity.pk,
                    stage=step.stage,
                    amount=step.amount,
                    probability=step.stage.probability,
                    forecast_category=step.stage.forecast_category,
                    close_date=step.close_date,
                )
                rows.append(
                    history_row(
                        snapshot,
                        actor=opportunity.owner,
                        previous_amount=previous.amount if previous else None,
                        previous_close_date=previous.close_date if previous else None,
                        previous_stage_name=previous.stage.name if previous else "",
                        at=at,
                    )
                )
                previous = step
            opportunity.created_at = plan.step_times[0]
            opportunity.updated_at = plan.step_times[-1]
        OpportunityHistory.objects.bulk_create(rows, batch_size=500)
        stage_stays_record(deal_ids)  # each stay's end, as the services keep it
        Opportunity.objects.bulk_update(
            [opportunity for opportunity, _plan in self.deals],
            ["created_at", "updated_at"],
            batch_size=200,
        )
        self.counts["opportunity_history"] = len(rows)

        for model, moments in self.created.items():
            records = []
            for pk, created_at in sorted(moments.items()):
                record = model(pk=pk, created_at=created_at, updated_at=created_at)
                if model is Lead and pk in self.converted_at:
                    record.converted_date = self.converted_at[pk].date()
                    record.updated_at = self.converted_at[pk]
                if model is Task and pk in self.completed_at:
                    record.completed_at = self.completed_at[pk]
                    record.updated_at = self.completed_at[pk]
                records.append(record)
            fields = ["created_at", "updated_at"]
            if model is Lead:
                fields.append("converted_date")
            if model is Task:
                fields.append("completed_at")
            model._default_manager.bulk_update(records, fields, batch_size=200)
        # The untouched leads' trail (their creation) happened when they were created.
        for lead_id in self.untouched:
            AuditEvent.objects.filter(object_name=Lead.object_name, record_id=lead_id).update(
                created_at=self.created[Lead][lead_id]
            )
        self.say(f"history: {len(rows)} stage changes over the last nine months")


def load_demo_data(*, seed: int = 7, stdout: Writer | None = None) -> dict[str, int]:
    """Fill an empty database with a demo organisation; returns how many of each were made.

    Raises DemoDataExists, having changed nothing, when any lead or account exists.
    """
    with transaction.atomic():
        if Lead.objects.exists() or Account.objects.exists():
            raise DemoDataExists(
                "The database already has leads or accounts; demo data only goes into an "
                "empty database."
            )
        return _Demo(seed=seed, stdout=stdout).run()


@dataclass(frozen=True)
class DemoLogin:
    """How one of the demo's staff signs in."""

    role: str
    username: str
    password: str


def demo_logins(var_dir: Path) -> list[DemoLogin]:
    """The demo staff's logins (the admin's is `bootstrap`'s), kept in `var_dir`; [] without a demo.

    A password is made only for a demo user missing from the file or without a usable
    password, so running this again prints the same logins and keeps passwords set since.
    """
    # The reserved .example domain marks the demo's users: no real user has such an address.
    staff = [row for row in STAFF if row[0] != "admin"]
    users = {
        user.username: user
        for user in User.objects.filter(username__in=[row[0] for row in staff])
        if user.email == f"{user.username}@{STAFF_DOMAIN}"
    }
    if not users:
        return []
    path = var_dir / DEMO_LOGINS_FILE
    kept = _read_logins(path)
    logins, changed = [], False
    for username, _first, _last, role, _team in staff:
        user = users.get(username)
        if user is None:
            continue
        password = kept.get(username)
        if password is None or not user.has_usable_password():
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
            changed = True
        logins.append(DemoLogin(role=str(role), username=username, password=password))
    if changed:
        _write_logins(path, logins)
    return logins


def _read_logins(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    kept = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) == 3 and not line.startswith("#"):
            _role, username, password = words
            kept[username] = password
    return kept


def _write_logins(path: Path, logins: list[DemoLogin]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private before the secrets go in; never committed (var/ is ignored).
    path.touch(mode=0o600)
    path.chmod(0o600)
    lines = ["# dealflow demo logins: role, username, password (`dealflow changepassword USER`)"]
    lines += [f"{login.role}\t{login.username}\t{login.password}" for login in logins]
    path.write_text("\n".join(lines) + "\n")
