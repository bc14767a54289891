"""The back office's view of import jobs (read-only: jobs change through the services)."""

from __future__ import annotations

from django.contrib import admin

from dealflow.dataio.models import ExternalId, ImportJob, ImportMapping


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "target",
        "file_name",
        "status",
        "rows_read",
        "rows_created",
        "rows_updated",
        "rows_skipped",
        "rows_failed",
        "actor",
        "created_at",
    )
    list_filter = ("target", "status")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "target", "updated_at")


@admin.register(ExternalId)
class ExternalIdAdmin(admin.ModelAdmin):
    list_display = ("target", "external_id", "record_id", "job")
    search_fields = ("external_id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
