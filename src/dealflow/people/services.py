"""Writes for users and API tokens."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dealflow.core.access import require_admin
from dealflow.core.audit import changes_since, record_audit, snapshot
from dealflow.core.errors import DomainError, ErrorCode
from dealflow.core.models import AuditAction
from dealflow.people.models import ApiToken, Queue, Role, Team, User

TOKEN_PREFIX = "dft_"


def token_digest(token: str) -> str:
    """The SHA-256 digest stored in place of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_check(password: str, user: User) -> None:
    """Refuse a password that fails the one policy (settings.AUTH_PASSWORD_VALIDATORS)."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"password: {' '.join(error.messages)}", ["password"]
        ) from None


def user_create(
    *,
    actor: User | None,
    username: str,
    password: str | None,
    role: str = Role.REP,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    team: Team | None = None,
) -> User:
    """Create a user who can sign in (admins only); admins and managers get the back office."""
    require_admin(actor, "users")
    username = username.strip()
    if not username:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "username: required", ["username"])
    if role not in Role.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"role: expected one of {', '.join(Role.values)}, got {role!r}",
            ["role"],
        )
    if len(username) > 150 or "\x00" in username:
        raise DomainError(
            ErrorCode.STRING_TOO_LONG, "username: at most 150 characters, no NUL", ["username"]
        )
    try:
        UnicodeUsernameValidator()(username)  # Django's rule: letters, digits and @.+-_
    except ValidationError:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"username: {username!r} may hold only letters, digits and @ . + - _ (no spaces)",
            ["username"],
        ) from None
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(
            ErrorCode.DUPLICATE_VALUE, f"username: {username!r} is taken", ["username"]
        )
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        team=team,
        is_staff=role in (Role.ADMIN, Role.MANAGER),
        is_superuser=role == Role.ADMIN,
    )
    if password:
        password_check(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()  # signs in with an API token, or after a reset
    with transaction.atomic():
        user.save()
        record_audit(
            actor, user, AuditAction.CREATE, {"username": [None, username], "role": [None, role]}
        )
    return user


# What user_update changes; the back-office flags follow the role (as in user_create).
USER_SETTINGS = ("first_name", "last_name", "email", "role", "team", "is_active")


def user_update(*, actor: User | None, user: User, data: dict[str, Any]) -> User:
    """Change a user's names, email, role, team or whether they may sign in (admins only).

    A new role also sets the back-office flags: admins and managers are staff, admins
    superusers (DOMAIN.md section 10). Refuses unknown fields (INVALID_FIELD), an unknown
    role, and an admin's deactivating or demoting themselves (nobody would be left to
    undo it).
    """
    require_admin(actor, "users")
    unknown = sorted(set(data) - set(USER_SETTINGS))
    if unknown:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"{', '.join(unknown)}: not a user setting ({', '.join(USER_SETTINGS)})",
            unknown,
        )
    if "role" in data and data["role"] not in Role.values:
        raise DomainError(
            ErrorCode.INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
            f"role: expected one of {', '.join(Role.values)}, got {data['role']!r}",
            ["role"],
        )
    if (
        actor is not None
        and actor.pk == user.pk
        and (data.get("is_active") is False or data.get("role", Role.ADMIN) != Role.ADMIN)
    ):
        raise DomainError(
            ErrorCode.FIELD_INTEGRITY_EXCEPTION,
            "you may not deactivate yourself or give up your own admin role",
            [name for name in ("is_active", "role") if name in data],
        )
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(user, [*USER_SETTINGS, "is_staff", "is_superuser"])
        for name, value in data.items():
            setattr(user, name, value)
        if "role" in data:
            user.is_staff = user.role in (Role.ADMIN, Role.MANAGER)
            user.is_superuser = user.role == Role.ADMIN
        changes = changes_since(before, user)
        if changes:
            user.save(update_fields=[*changes, "updated_at"])
            record_audit(actor, user, AuditAction.UPDATE, changes)
    return user


def user_set_password(*, actor: User | None, user: User, password: str | None) -> User:
    """Set a user's password (admins, or the user themself) under the one password policy;
    None leaves them no password (they sign in with API tokens only).

    The audit event says that the password changed, never what it is.
    """
    if actor is None or actor.pk != user.pk:
        require_admin(actor, "other users' passwords")
    if password is not None:
        password_check(password, user)
    with transaction.atomic():
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(update_fields=["password", "updated_at"])
        record_audit(actor, user, AuditAction.UPDATE, {"password": ["(set)", "(changed)"]})
    return user


def token_create(*, actor: User | None, user: User, name: str) -> tuple[ApiToken, str]:
    """Create an API token; returns the record and the token, which is never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_token = ApiToken.objects.create(
            user=user, name=name.strip() or "token", prefix=token[:10], digest=token_digest(token)
        )
        record_audit(
            actor,
            api_token,
            AuditAction.CREATE,
            {"user": [None, user.public_id], "name": [None, api_token.name]},
        )
    return api_token, token


def token_revoke(*, actor: User | None, api_token: ApiToken) -> ApiToken:
    """Revoke a token; requests with it are refused from now on."""
    if api_token.revoked_at is not None:
        return api_token
    with transaction.atomic():
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at", "updated_at"])
        record_audit(
            actor,
            api_token,
            AuditAction.UPDATE,
            {"revoked_at": [None, api_token.revoked_at.isoformat()]},
        )
    return api_token


def team_create(*, actor: User | None, name: str) -> Team:
    """Add a team (admins only)."""
    require_admin(actor, "teams")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 80:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "name: 1 to 80 characters", ["name"])
    if Team.objects.filter(name__iexact=name).exists():
        raise DomainError(ErrorCode.DUPLICATE_VALUE, f"name: a team {name!r} exists", ["name"])
    with transaction.atomic():
        team = Team.objects.create(name=name)
        record_audit(actor, team, AuditAction.CREATE, {"name": [None, name]})
    return team


def queue_set(
    *, actor: User | None, name: str, email: str = "", members: list[User] | None = None
) -> Queue:
    """Add a queue or change its email and members (admins only)."""
    require_admin(actor, "queues")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 80:
        raise DomainError(ErrorCode.REQUIRED_FIELD_MISSING, "name: 1 to 80 characters", ["name"])
    with transaction.atomic():
        queue, created = Queue.objects.get_or_create(name=name, defaults={"email": email})
        before_members = sorted(queue.members.values_list("pk", flat=True))
        if not created and email != queue.email:
            queue.email = email
            queue.save(update_fields=["email", "updated_at"])
        if members is not None:
            queue.members.set(members)
        after_members = sorted(queue.members.values_list("pk", flat=True))
        changes: dict[str, list[Any]] = {"email": [None, email]} if created else {}
        if before_members != after_members:
            changes["members"] = [before_members, after_members]
        record_audit(actor, queue, AuditAction.CREATE if created else AuditAction.UPDATE, changes)
    return queue


def token_used(*, token_id: int, at: datetime.datetime) -> None:
    """Note when a token was last used (not audited: it is not a change anyone made)."""
    ApiToken.objects.filter(pk=token_id).update(last_used_at=at)
