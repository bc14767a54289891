"""The back office changes users and passwords through people.services, as every channel does."""

import pytest
from django.urls import reverse

from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction, AuditEvent
from dealflow.people.models import Role
from dealflow.people.services import user_set_password, user_update
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a-long-enough-Passw0rd"


def _change(client, user, **values):
    data = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "team": user.team_id or "",
        "is_active": "on" if user.is_active else "",
        "_save": "Save",
        **values,
    }
    return client.post(reverse("admin:people_user_change", args=[user.pk]), data)


def _events(user):
    return list(
        AuditEvent.objects.filter(object_name="User", record_id=user.pk, action=AuditAction.UPDATE)
        .order_by("id")
        .values_list("actor_id", "changes")
    )


def test_a_role_change_in_the_back_office_runs_user_update(admin_client, admin_user):
    rep = UserFactory(role=Role.REP, first_name="Sam")
    team = TeamFactory()
    response = _change(admin_client, rep, role=Role.MANAGER, team=team.pk)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rep.refresh_from_db()
    assert (rep.role, rep.team, rep.is_staff, rep.is_superuser) == (Role.MANAGER, team, True, False)
    assert _events(rep) == [
        (
            admin_user.pk,
            {
                "role": ["rep", "manager"],
                "team": [None, team.name],
                "is_staff": [False, True],
            },
        )
    ]


def test_a_manager_with_every_permission_still_cannot_change_users(client):
    from django.contrib.auth.models import Permission

    manager = UserFactory(role=Role.MANAGER, is_staff=True)
    manager.user_permissions.set(Permission.objects.all())
    rep = UserFactory(role=Role.REP)
    client.force_login(manager)
    response = _change(client, rep, role=Role.ADMIN)
    assert response.status_code == 200
    assert "only admins change users" in str(response.context["adminform"].form.errors)
    rep.refresh_from_db()
    assert (rep.role, rep.is_superuser) == (Role.REP, False)
    assert _events(rep) == []


def test_the_password_form_runs_user_set_password(admin_client, admin_user):
    rep = UserFactory(role=Role.REP)
    url = reverse("admin:auth_user_password_change", args=[rep.pk])  # Django names it so
    weak = admin_client.post(
        url, {"password1": "123", "password2": "123", "usable_password": "true"}
    )
    assert weak.status_code == 200
    rep.refresh_from_db()
    assert not rep.check_password("123")
    assert _events(rep) == []

    strong = admin_client.post(
        url, {"password1": STRONG, "password2": STRONG, "usable_password": "true"}
    )
    assert strong.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password(STRONG)
    assert _events(rep) == [(admin_user.pk, {"password": ["(set)", "(changed)"]})]


def test_user_update_refuses_what_it_cannot_honour_and_changes_nothing(actor):
    admin = UserFactory(role=Role.ADMIN, is_superuser=True, is_staff=True)
    for data, code, fields in [
        ({"is_superuser": True}, ErrorCode.INVALID_FIELD, ["is_superuser"]),
        ({"role": "king"}, ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, ["role"]),
    ]:
        with pytest.raises(DomainError) as raised:
            user_update(actor=admin, user=actor, data=data)
        assert (raised.value.code, raised.value.fields) == (code, fields)
    for data in ({"is_active": False}, {"role": Role.REP}):
        with pytest.raises(DomainError) as raised:
            user_update(actor=admin, user=admin, data=data)
        assert raised.value.code == ErrorCode.FIELD_INTEGRITY_EXCEPTION
    with pytest.raises(DomainError) as raised:
        user_update(actor=actor, user=admin, data={"first_name": "Mallory"})
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    admin.refresh_from_db()
    actor.refresh_from_db()
    assert (admin.is_active, admin.role, admin.first_name) == (True, Role.ADMIN, admin.first_name)
    assert (actor.is_superuser, actor.role) == (False, Role.REP)
    assert AuditEvent.objects.filter(object_name="User").count() == 0


def test_a_user_may_set_their_own_password_but_not_anothers(actor):
    other = UserFactory()
    user_set_password(actor=actor, user=actor, password=STRONG)
    with pytest.raises(DomainError) as raised:
        user_set_password(actor=actor, user=other, password=STRONG)
    assert raised.value.code == ErrorCode.INSUFFICIENT_ACCESS_OR_READONLY
    actor.refresh_from_db()
    other.refresh_from_db()
    assert actor.check_password(STRONG)
    assert not other.check_password(STRONG)
    user_set_password(actor=None, user=other, password=None)
    other.refresh_from_db()
    assert not other.has_usable_password()
