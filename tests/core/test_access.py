"""core/access.py directly: who may read and change what, under each sharing default."""

import pytest

from dealflow.core.access import (
    can_edit,
    can_read,
    is_admin,
    readable,
    require_admin,
    require_edit,
    sharing_default,
)
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.people.models import Role
from dealflow.sales.models import OpportunityContactRole
from tests.factories import (
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    QueueFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def east():
    return TeamFactory(name="East")


@pytest.fixture
def owner(east):
    return UserFactory(role=Role.REP, team=east)


def test_an_unset_default_is_read_write_and_a_set_one_is_read_back():
    assert sharing_default("Lead") == Access.READ_WRITE
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    assert sharing_default("Lead") == Access.READ
    assert sharing_default("Account") == Access.READ_WRITE


def test_the_system_superusers_and_admins_are_admins():
    assert is_admin(None) is True
    assert is_admin(UserFactory(role=Role.ADMIN)) is True
    assert is_admin(UserFactory(role=Role.REP, is_superuser=True)) is True
    assert is_admin(UserFactory(role=Role.MANAGER)) is False
    assert is_admin(UserFactory(role=Role.REP)) is False


@pytest.mark.parametrize(
    ("access", "readable_by_others", "editable_by_others"),
    [
        (Access.PRIVATE, False, False),
        (Access.READ, True, False),
        (Access.READ_WRITE, True, True),
    ],
)
def test_each_default_decides_what_everybody_else_may_do(
    owner, access, readable_by_others, editable_by_others
):
    sharing_default_set(actor=None, object_name="Lead", access=access)
    lead = LeadFactory(owner_user=owner)
    other = UserFactory(role=Role.REP, team=TeamFactory(name="West"))

    assert (can_read(other, lead), can_edit(other, lead)) == (
        readable_by_others,
        editable_by_others,
    )
    assert (can_read(owner, lead), can_edit(owner, lead)) == (True, True)
    assert list(readable(other, Lead.objects.all())) == ([lead] if readable_by_others else [])
    assert list(readable(owner, Lead.objects.all())) == [lead]


@pytest.mark.parametrize("access", [Access.PRIVATE, Access.READ])
def test_the_owners_team_manager_may_edit_another_teams_manager_may_not(owner, east, access):
    sharing_default_set(actor=None, object_name="Lead", access=access)
    lead = LeadFactory(owner_user=owner)
    manager = UserFactory(role=Role.MANAGER, team=east)
    other_manager = UserFactory(role=Role.MANAGER, team=TeamFactory(name="West"))
    team_mate = UserFactory(role=Role.REP, team=east)
    teamless_manager = UserFactory(role=Role.MANAGER, team=None)

    assert can_edit(manager, lead) is True
    assert can_edit(other_manager, lead) is False
    assert can_edit(team_mate, lead) is False
    assert can_edit(teamless_manager, lead) is False


def test_queue_members_may_edit_the_queues_leads_only(owner):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    queue, other_queue = QueueFactory(), QueueFactory()
    member = UserFactory()
    queue.members.add(member)
    queued = LeadFactory(owner_user=None, owner_queue=queue)
    elsewhere = LeadFactory(owner_user=None, owner_queue=other_queue)

    assert can_edit(member, queued) is True
    assert can_edit(member, elsewhere) is False
    assert can_edit(owner, queued) is False


def test_contact_roles_follow_their_opportunitys_default_and_owner(owner):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    opportunity = OpportunityFactory(owner=owner)
    role = OpportunityContactRole.objects.create(
        opportunity=opportunity, contact=ContactFactory(account=opportunity.account)
    )
    other = UserFactory()

    assert (can_read(owner, role), can_edit(owner, role)) == (True, True)
    assert (can_read(other, role), can_edit(other, role)) == (False, False)
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.READ)
    assert (can_read(other, role), can_edit(other, role)) == (True, False)


def test_require_edit_refuses_with_the_records_public_id(owner):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    lead = LeadFactory(owner_user=owner)

    require_edit(owner, lead)
    with pytest.raises(DomainError) as raised:
        require_edit(UserFactory(), lead)

    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    assert lead.public_id in raised.value.message


def test_require_admin_refuses_everybody_but_admins():
    require_admin(None, "stages")
    require_admin(UserFactory(role=Role.ADMIN), "stages")
    for role in (Role.MANAGER, Role.REP):
        with pytest.raises(DomainError) as raised:
            require_admin(UserFactory(role=role), "stages")
        assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
        assert "stages" in raised.value.message


def test_a_task_is_visible_only_when_every_record_it_is_about_is(owner):
    from dealflow.sales.models import Task
    from tests.factories import TaskFactory

    for object_name in ("Lead", "Account"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    other = UserFactory()
    mine = TaskFactory(lead=LeadFactory(owner_user=owner), owner=other)
    hidden = TaskFactory(lead=LeadFactory(owner_user=other), owner=owner)

    assert (can_read(owner, mine), can_edit(owner, mine)) == (True, True)
    assert (can_read(owner, hidden), can_edit(owner, hidden)) == (False, False)
    assert list(readable(owner, Task.objects.all())) == [mine]


def test_a_refusal_names_the_record(owner):
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    lead = LeadFactory(owner_user=owner)

    with pytest.raises(DomainError) as raised:
        require_edit(UserFactory(), lead)

    assert raised.value.message.endswith(f"Lead {lead.public_id}")
    assert raised.value.fields == []
