"""The back office's read-only view of the review queue and the matching rules."""

from __future__ import annotations

from django.contrib import admin

from dealflow.duplicates.models import (
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateRuleSetting,
    Merge,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changed through the API and the review page (services), never here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberInline(admin.TabularInline):
    model = DuplicateGroupMember
    fields = ("record_id",)
    readonly_fields = ("record_id",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DuplicateGroup)
class DuplicateGroupAdmin(ReadOnlyAdmin):
    list_display = ("id", "object_type", "status", "rule", "score", "record_count", "last_found_at")
    list_filter = ("status", "object_type")
    inlines = [MemberInline]


@admin.register(DuplicateRuleSetting)
class DuplicateRuleSettingAdmin(ReadOnlyAdmin):
    list_display = ("id", "changed_by", "updated_at")


@admin.register(Merge)
class MergeAdmin(ReadOnlyAdmin):
    """Merges and their undo go through the API and the merge page (duplicates/merge.py)."""

    list_display = (
        "id",
        "object_type",
        "master_record_id",
        "merged_record_ids",
        "status",
        "merged_by",
        "created_at",
    )
    list_filter = ("status", "object_type")
    exclude = ("snapshot",)  # every row the merge touched: long, and read by undo only
