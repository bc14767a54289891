"""Back office for accounts and contacts; writes go through accounts.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from dealflow.accounts.models import Account, Contact
from dealflow.accounts.services import (
    account_create,
    account_delete,
    account_update,
    contact_create,
    contact_delete,
    contact_update,
)
from dealflow.core.admin import SYSTEM_FIELDSET, OwnedRecordForm, RecordAdmin, public_id


class AccountForm(OwnedRecordForm):
    picklist_object = "Account"

    class Meta:
        model = Account
        fields = "__all__"

    def call_service(self, data: dict[str, Any]) -> Account:
        if self.adding:
            return account_create(actor=self.actor, data=data)
        return account_update(actor=self.actor, account=self.instance, data=data)


class ContactForm(OwnedRecordForm):
    picklist_object = "Contact"

    class Meta:
        model = Contact
        fields = "__all__"

    def call_service(self, data: dict[str, Any]) -> Contact:
        if self.adding:
            return contact_create(actor=self.actor, data=data)
        return contact_update(actor=self.actor, contact=self.instance, data=data)


@admin.register(Account)
class AccountAdmin(RecordAdmin):
    form = AccountForm
    list_display = (
        "name",
        "type",
        "industry",
        "billing_city",
        "billing_country",
        "owner",
        "created_at",
        public_id,
    )
    list_filter = ("type", "industry", "rating", "account_source")
    list_select_related = ("owner",)
    search_fields = ("name", "website", "phone")
    search_help_text = "Name, website, phone, or an account id (001...)."
    date_hierarchy = "created_at"
    autocomplete_fields = ("owner",)
    fieldsets = (
        (None, {"fields": ("public_id", "name", "type", "owner")}),
        (
            "Company",
            {
                "fields": (
                    "website",
                    "phone",
                    "industry",
                    "annual_revenue",
                    "number_of_employees",
                    "rating",
                    "account_source",
                    "description",
                )
            },
        ),
        (
            "Billing address",
            {
                "fields": (
                    "billing_street",
                    "billing_city",
                    "billing_state",
                    "billing_postal_code",
                    "billing_country",
                )
            },
        ),
        SYSTEM_FIELDSET,
    )

    def delete_record(self, actor: Any, obj: Account) -> None:
        account_delete(actor=actor, account=obj)


@admin.register(Contact)
class ContactAdmin(RecordAdmin):
    form = ContactForm
    list_display = ("__str__", "account", "title", "email", "phone", "owner", public_id)
    list_filter = ("lead_source", "do_not_call", "has_opted_out_of_email")
    list_select_related = ("account", "owner")
    search_fields = ("last_name", "first_name", "email", "phone", "phone_digits", "account__name")
    search_help_text = "Name, email, phone, account name, or a contact id (003...)."
    date_hierarchy = "created_at"
    autocomplete_fields = ("account", "owner")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_id",
                    ("salutation", "first_name", "last_name"),
                    "account",
                    "title",
                    "owner",
                )
            },
        ),
        ("Reach", {"fields": ("email", "phone", "mobile_phone", "lead_source", "description")}),
        (
            "Mailing address",
            {
                "fields": (
                    "mailing_street",
                    "mailing_city",
                    "mailing_state",
                    "mailing_postal_code",
                    "mailing_country",
                )
            },
        ),
        ("Preferences", {"fields": ("do_not_call", "has_opted_out_of_email")}),
        SYSTEM_FIELDSET,
    )

    def delete_record(self, actor: Any, obj: Contact) -> None:
        contact_delete(actor=actor, contact=obj)
