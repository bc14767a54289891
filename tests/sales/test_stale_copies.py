"""Services decide on the row as it is now, not on the caller's (possibly stale) copy."""

import datetime

import pytest

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_convert, lead_delete
from dealflow.sales.models import OpportunityContactRole
from dealflow.sales.services import contact_role_update
from tests.factories import AccountFactory, ContactFactory, LeadFactory, OpportunityFactory

pytestmark = pytest.mark.django_db

EARLIER = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
LATER = datetime.datetime(2026, 11, 27, 15, 30, tzinfo=datetime.UTC)


def test_a_stale_copy_cannot_delete_a_lead_converted_since(actor):
    lead = LeadFactory(owner_user=actor)
    stale = Lead.objects.get(pk=lead.pk)
    lead_convert(actor=actor, lead=lead)
    with pytest.raises(DomainError) as raised:
        lead_delete(actor=actor, lead=stale)
    assert raised.value.code == ErrorCode.CANNOT_UPDATE_CONVERTED_LEAD
    assert Lead.objects.get(pk=lead.pk).is_converted is True


def test_a_stale_contact_role_keeps_the_role_set_since(actor):
    deal = OpportunityFactory(owner=actor)
    role = OpportunityContactRole.objects.create(
        opportunity=deal, contact=ContactFactory(owner=actor), role="Evaluator"
    )
    stale = OpportunityContactRole.objects.get(pk=role.pk)
    contact_role_update(actor=actor, contact_role=role, data={"role": "Decision Maker"})
    contact_role_update(actor=actor, contact_role=stale, data={"is_primary": True})
    stored = OpportunityContactRole.objects.get(pk=role.pk)
    assert (stored.role, stored.is_primary) == ("Decision Maker", True)


def test_conversion_into_a_deal_touches_the_primary_role_it_replaces(actor, freeze_clock):
    freeze_clock(EARLIER)
    account = AccountFactory(owner=actor)
    deal = OpportunityFactory(owner=actor, account=account)
    old = OpportunityContactRole.objects.create(
        opportunity=deal, contact=ContactFactory(owner=actor, account=account), is_primary=True
    )
    freeze_clock(LATER)
    lead_convert(actor=actor, lead=LeadFactory(owner_user=actor), account=account, opportunity=deal)
    old.refresh_from_db()
    assert (old.is_primary, old.updated_at) == (False, LATER)
