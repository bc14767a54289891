"""Writes for users and API tokens."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dealflow.core.access import require_admin
from dealflow.core.audit import record_audit
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
