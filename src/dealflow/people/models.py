"""Users, teams, queues and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from dealflow.core.models import PublicIdMixin, TimeStampedModel


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    REP = "rep", "Sales rep"


class Team(TimeStampedModel):
    """A sales team; its manager sees the team's records."""

    object_name = "Team"

    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(PublicIdMixin, AbstractUser):
    """A person who signs in; owns records; acts in every audit event."""

    object_name = "User"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Queue(PublicIdMixin, TimeStampedModel):
    """A group of users working leads from a shared owner."""

    object_name = "Queue"

    name = models.CharField(max_length=80, unique=True)
    email = models.EmailField(blank=True)
    members = models.ManyToManyField(User, blank=True, related_name="queues")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiToken(TimeStampedModel):
    """A bearer token; only its SHA-256 digest is stored, the token itself is shown once."""

    object_name = "ApiToken"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
