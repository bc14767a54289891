"""Back office for users, teams, queues and API tokens."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.html import format_html

from dealflow.core.admin import (
    AccessRulesAdmin,
    PublicIdSearchMixin,
    ServiceAdmin,
    ServiceForm,
    public_id,
)
from dealflow.core.errors import DomainError
from dealflow.people.models import ApiToken, Queue, Role, Team, User
from dealflow.people.services import (
    USER_SETTINGS,
    queue_set,
    team_create,
    token_revoke,
    user_create,
    user_set_password,
    user_update,
)


class UserAddForm(AdminUserCreationForm):
    """Django's user creation form, writing through people.services.user_create.

    user_create derives the staff and superuser flags from the role and records the
    audit event.
    """

    actor = None
    wrote_through_service = False

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "role", "team")

    def _post_clean(self) -> None:
        super()._post_clean()  # validates the password against the new user
        if self._errors:
            return
        data = self.cleaned_data
        password = data.get("password1") if data.get("set_usable_password", True) else None
        try:
            user = user_create(
                actor=self.actor,
                username=data["username"],
                password=password,  # type: ignore[arg-type]  # None: an unusable password
                role=data.get("role") or Role.REP,
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                team=data.get("team"),
            )
        except DomainError as error:
            field = next((name for name in error.fields if name in self.fields), None)
            self.add_error(field, ValidationError(error.message, code=str(error.code)))
        else:
            self.instance = user
            self.wrote_through_service = True


class UserEditForm(ServiceForm):
    """Changes a user through user_update (admins only); the role decides staff and superuser."""

    class Meta:
        model = User
        fields = USER_SETTINGS

    def call_service(self, data: dict[str, Any]) -> User:
        return user_update(actor=self.actor, user=self.instance, data=data)


class UserPasswordForm(AdminPasswordChangeForm):
    """Django's password form, writing through user_set_password (the policy, the audit)."""

    actor: Any = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        usable = cleaned.get("set_usable_password", True)
        try:
            user_set_password(
                actor=self.actor,
                user=self.user,
                password=cleaned.get("password1") if usable else None,
            )
        except DomainError as error:
            field = "password2" if "password" in error.fields else None
            self.add_error(field, ValidationError(error.message, code=str(error.code)))
        return cleaned

    def save(self, commit: bool = True) -> User:
        return self.user  # user_set_password saved it in clean()


@admin.register(User)
class UserAdmin(PublicIdSearchMixin, ServiceAdmin, BaseUserAdmin):
    add_form = UserAddForm
    form = UserEditForm
    change_password_form = UserPasswordForm
    fieldsets = (
        (None, {"fields": ("public_id", "username", "password_link")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Sales", {"fields": ("role", "team", "is_active")}),
        (
            "Back office (follows the role)",
            {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (
            "Sales",
            {
                "classes": ("wide",),
                "fields": ("role", "team"),
                "description": "Admins and managers get the back office (staff); admins "
                "also every permission.",
            },
        ),
    )
    readonly_fields = (
        "public_id",
        "password_link",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
        "created_at",
        "updated_at",
        "last_login",
        "date_joined",
    )

    def get_readonly_fields(self, request, obj=None):
        # No rename service: once created, a username is who the audit trail names.
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else (*fields, "username")

    @admin.display(description="Password")
    def password_link(self, user: User) -> str:
        return format_html('<a href="{}">Set the password</a>', "../password/")

    def user_change_password(self, request, id, form_url=""):
        # The password form needs the acting user; a per-request copy of this admin
        # carries it without sharing state between requests.
        per_request = copy.copy(self)
        per_request.change_password_form = type(
            "UserPasswordForm", (UserPasswordForm,), {"actor": request.user}
        )
        return BaseUserAdmin.user_change_password(per_request, request, id, form_url)

    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "team",
        "is_staff",
        "is_active",
        public_id,
    )
    list_filter = ("role", "team", "is_staff", "is_superuser", "is_active")
    list_select_related = ("team",)
    search_fields = ("username", "first_name", "last_name", "email")


class TeamForm(ServiceForm):
    """Adds a team through team_create (admins only)."""

    class Meta:
        model = Team
        fields = ("name",)

    def call_service(self, data: dict[str, Any]) -> Team:
        return team_create(actor=self.actor, name=self.cleaned_data["name"])


@admin.register(Team)
class TeamAdmin(ServiceAdmin):
    """Teams are added through team_create; there is no rename service, so an existing
    team is shown read-only."""

    form = TeamForm
    list_display = ("name", "member_count", "created_at")
    search_fields = ("name",)
    ordering = ("name",)
    readonly_fields = ("created_at", "updated_at")

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return getattr(obj, "member_count", 0)


class QueueForm(ServiceForm):
    """Adds a queue or changes its email and members through queue_set (admins only)."""

    class Meta:
        model = Queue
        fields = ("name", "email", "members")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        # queue_set changes the queue of that name: adding one must not change another.
        if self.adding and Queue.objects.filter(name=name).exists():
            raise ValidationError("A queue with this name exists.", code="unique")
        return name

    def call_service(self, data: dict[str, Any]) -> Queue:
        cleaned = self.cleaned_data
        return queue_set(
            actor=self.actor,
            name=cleaned["name"] if self.adding else self.instance.name,
            email=cleaned.get("email", ""),
            members=list(cleaned.get("members", [])),
        )


@admin.register(Queue)
class QueueAdmin(PublicIdSearchMixin, ServiceAdmin):
    form = QueueForm
    list_display = ("name", "email", "member_count", public_id)
    search_fields = ("name", "email")
    ordering = ("name",)
    autocomplete_fields = ("members",)
    readonly_fields = ("public_id", "created_at", "updated_at")
    fields = ("public_id", "name", "email", "members", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # queue_set finds a queue by its name: there is no rename.
        return (*fields, "name") if obj is not None else fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Queue) -> int:
        return getattr(obj, "member_count", 0)


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(AccessRulesAdmin):
    """Tokens are created by `dealflow token create`; here they are listed and revoked.

    The stored digest is never shown.
    """

    list_display = (
        "name",
        "user",
        "shown_prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
        "active",
    )
    list_filter = (TokenStateFilter,)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    date_hierarchy = "created_at"
    fields = ("name", "user", "shown_prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_tokens",)

    @admin.display(description="prefix", ordering="prefix")
    def shown_prefix(self, obj: ApiToken) -> str:
        return f"{obj.prefix}..."

    @admin.display(description="active", boolean=True)
    def active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the record stays for the audit trail

    def has_revoke_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        revoked = 0
        for api_token in queryset.filter(revoked_at__isnull=True):
            token_revoke(actor=request.user, api_token=api_token)
            revoked += 1
        if revoked:
            self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
        else:
            self.message_user(request, "No active token was selected.", messages.WARNING)
