"""Accounts (companies) and Contacts (people at them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dealflow.core.fields import MatchKeyField
from dealflow.core.models import PublicIdMixin, TimeStampedModel


class Account(PublicIdMixin, TimeStampedModel):
    """A company dealflow sells to (or partners or competes with)."""

    object_name = "Account"

    name = models.CharField(max_length=255)
    website = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    industry = models.CharField(max_length=255, blank=True)
    annual_revenue = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    number_of_employees = models.PositiveIntegerField(null=True, blank=True)
    rating = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=255, blank=True)
    account_source = models.CharField(max_length=255, blank=True)
    billing_street = models.CharField(max_length=255, blank=True)
    billing_city = models.CharField(max_length=40, blank=True)
    billing_state = models.CharField(max_length=80, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_accounts"
    )
    # Matching keys (core/matching.py): search, sort and conversion's account suggestions.
    name_key = MatchKeyField(sources=("name",))
    website_key = MatchKeyField(sources=("website",))

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name_key", "id"], name="account_name_key_idx"),
            models.Index(fields=["website_key", "id"], name="account_website_key_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(PublicIdMixin, TimeStampedModel):
    """A person, usually at an account."""

    object_name = "Contact"

    salutation = models.CharField(max_length=40, blank=True)
    first_name = models.CharField(max_length=40, blank=True)
    last_name = models.CharField(max_length=80)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    title = models.CharField(max_length=128, blank=True)
    email = models.CharField(max_length=80, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    mobile_phone = models.CharField(max_length=40, blank=True)
    phone_digits = MatchKeyField(
        max_length=40, sources=("phone", "mobile_phone"), normaliser="digits"
    )
    mailing_street = models.CharField(max_length=255, blank=True)
    mailing_city = models.CharField(max_length=40, blank=True)
    mailing_state = models.CharField(max_length=80, blank=True)
    mailing_postal_code = models.CharField(max_length=20, blank=True)
    mailing_country = models.CharField(max_length=80, blank=True)
    lead_source = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    do_not_call = models.BooleanField(default=False)
    has_opted_out_of_email = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_contacts"
    )
    # Matching keys (core/matching.py): search, sort and duplicate checks.
    first_name_key = MatchKeyField(max_length=120, sources=("first_name",))
    last_name_key = MatchKeyField(sources=("last_name",))
    email_key = MatchKeyField(sources=("email",), normaliser="email")

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            *(
                models.Index(fields=[key, "id"], name=f"contact_{key}_idx")
                for key in ("first_name_key", "last_name_key", "email_key")
            ),
            models.Index(
                fields=["phone_digits"],
                condition=~Q(phone_digits=""),
                name="contact_phone_digits_idx",
            ),
        ]

    def __str__(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)
