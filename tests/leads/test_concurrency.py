"""Races that only a real concurrent database shows: row locks and unique indexes."""

import threading

import pytest
from django.db import connection

from dealflow.accounts.models import Account, Contact
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_convert, lead_create
from dealflow.sales.models import Opportunity
from tests.factories import LeadFactory, UserFactory

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_at_once(count, work):
    """Run work() in `count` threads released together; return each result or error."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def worker(index):
        try:
            barrier.wait()
            outcomes[index] = work()
        except Exception as error:  # collected and asserted by the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_concurrent_conversions_of_one_lead_yield_one_of_each_record():
    actor = UserFactory()
    lead = LeadFactory(owner_user=actor)

    outcomes = run_at_once(20, lambda: lead_convert(actor=actor, lead=lead.pk))

    results = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(results) == 1
    assert len(errors) == 19
    assert all(isinstance(error, DomainError) for error in errors), errors
    assert {error.code for error in errors} == {ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD}
    assert (Account.objects.count(), Contact.objects.count(), Opportunity.objects.count()) == (
        1,
        1,
        1,
    )
    lead.refresh_from_db()
    assert lead.converted_opportunity_id == results[0].opportunity_id


def test_concurrent_retries_with_one_idempotency_key_all_get_the_first_result():
    actor = UserFactory()
    lead = LeadFactory(owner_user=actor)

    outcomes = run_at_once(
        8, lambda: lead_convert(actor=actor, lead=lead.pk, idempotency_key="retry-1")
    )

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(set(outcomes)) == 1
    assert Opportunity.objects.count() == 1


def test_two_concurrent_creates_with_one_email_yield_one_lead():
    actor = UserFactory()
    data = {"last_name": "Twin", "company": "Race Ltd", "email": "Same@Race.test"}

    outcomes = run_at_once(2, lambda: lead_create(actor=actor, data=data))

    created = [outcome for outcome in outcomes if isinstance(outcome, Lead)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert len(created) == 1
    assert len(errors) == 1
    assert isinstance(errors[0], DomainError)
    assert (errors[0].code, errors[0].fields) == (ErrorCode.DUPLICATE_VALUE, ["email"])
    assert Lead.objects.filter(email__iexact="same@race.test").count() == 1
