"""Fuzz every operation of the native API against its own OpenAPI document (schemathesis).

The Django WSGI app runs in-process (no server, no network). Each operation gets a bounded,
derandomized set of generated requests, valid and invalid ones, sent with an admin's bearer
token; no answer may be a 5xx, and every answer must match the status codes and the
response schemas the document declares. About half of the requests to a record's path
use the id of a real record, so reads, changes, deletes and actions hit real rows too.

Transactional (each request commits as in production, so a failed PostgreSQL statement
cannot poison the next request); `serialized_rollback` restores the statuses and stages
the data migrations create.
"""

import os
import zlib

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from dealflow.leads.models import LeadStatus
from dealflow.people.models import Role
from dealflow.people.services import token_create
from dealflow.sales.models import OpportunityContactRole, OpportunityStage
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# More for a deeper local run: DEALFLOW_FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("DEALFLOW_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
PATH_PARAMETERS = ("record_id", "lead_id", "task_id", "user_id", "queue_id")
# Body fields that only work with a real record's id, and the collections it may come from.
BODY_REFERENCES = {
    "account_id": ("accounts",),
    "contact_id": ("contacts",),
    "opportunity_id": ("opportunities",),
    "owner_id": ("users",),
    "who_id": ("leads", "contacts"),
    "what_id": ("accounts", "opportunities"),
}


class Records:
    """An admin with a token, and one real record of every kind the API serves."""

    def __init__(self) -> None:
        self.admin = UserFactory(username="fuzz-admin", role=Role.ADMIN)
        _token_record, self.token = token_create(actor=self.admin, user=self.admin, name="fuzz")
        queue = QueueFactory()
        queue.members.add(self.admin)
        account = AccountFactory(owner=self.admin)
        contact = ContactFactory(account=account, owner=self.admin)
        opportunity = OpportunityFactory(account=account, owner=self.admin)
        self.ids = {
            "leads": LeadFactory(owner_user=self.admin).public_id,
            "accounts": account.public_id,
            "contacts": contact.public_id,
            "opportunities": opportunity.public_id,
            "contact-roles": OpportunityContactRole.objects.create(
                opportunity=opportunity, contact=contact, role="Decision Maker"
            ).public_id,
            "tasks": TaskFactory(owner=self.admin, contact=contact).public_id,
            "users": self.admin.public_id,
            "queues": queue.public_id,
        }
        # Picklist values kept in tables (the schema cannot list them).
        self.names = {
            "status": LeadStatus.objects.get(is_default=True).name,
            "converted_status": LeadStatus.objects.filter(is_converted=True).first().name,
            "stage_name": OpportunityStage.objects.filter(is_closed=False).first().name,
        }

    def fresh(self, collection: str) -> str:
        """A new record for operations that use it up (delete, convert)."""
        account = AccountFactory(owner=self.admin)
        contact = ContactFactory(account=account, owner=self.admin)
        opportunity = OpportunityFactory(account=account, owner=self.admin)
        makers = {
            "leads": lambda: LeadFactory(owner_user=self.admin),
            "accounts": lambda: account,
            "contacts": lambda: contact,
            "opportunities": lambda: opportunity,
            "contact-roles": lambda: OpportunityContactRole.objects.create(
                opportunity=opportunity, contact=contact
            ),
            "tasks": lambda: TaskFactory(owner=self.admin, contact=contact),
        }
        return makers[collection]().public_id

    def use_real_values(self, case) -> None:
        """Swap generated ids and table picklist names for real ones in about half the cases.

        Which ones is decided by a hash of the generated case, so runs stay reproducible.
        """
        seed = zlib.crc32(
            repr(
                (case.method, case.operation.path, case.path_parameters, case.query, case.body)
            ).encode()
        )
        for name in PATH_PARAMETERS:
            if name in (case.path_parameters or {}) and seed & 1:
                collection = case.operation.path.split("/")[3]
                uses_up = case.method.upper() == "DELETE" or case.operation.path.endswith(
                    "/convert"
                )
                case.path_parameters[name] = (
                    self.fresh(collection)
                    if uses_up and collection not in ("users", "queues")
                    else self.ids[collection]
                )
        if not isinstance(case.body, dict):
            return
        for bit, name in enumerate(sorted(case.body), start=1):
            if not seed & (1 << (bit % 31)):
                continue
            if name in BODY_REFERENCES:
                choices = BODY_REFERENCES[name]
                case.body[name] = self.ids[choices[seed % len(choices)]]
            elif name in self.names:
                case.body[name] = self.names[name]


@pytest.fixture
def records() -> Records:
    return Records()


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, records):
    records.use_real_values(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {records.token}"}, checks=CHECKS)
