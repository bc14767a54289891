"""Every page's address (DESIGN.md: one urls module for the pages). Record addresses take
the record's public id: /leads/00Q000000000001AAA/."""

from django.contrib.auth import views as auth_views
from django.urls import path

from dealflow.web import (
    accounts,
    contacts,
    conversion,
    downloads,
    duplicates,
    home,
    imports,
    lead_list,
    leads,
    pipeline,
    qualification,
    reports,
    sales,
    search,
    settings,
    settings_automation,
    settings_people,
    settings_scoring_model,
    settings_web_to_lead,
    tasks,
    web_to_lead,
)

urlpatterns = [
    # Web-to-Lead: public and CSRF-exempt (see web/web_to_lead.py), not signed-in pages
    path("web-to-lead", web_to_lead.web_to_lead, name="web_to_lead"),
    path("servlet/servlet.WebToLead", web_to_lead.web_to_lead, name="web_to_lead_servlet"),
    # Shell
    path("", home.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", home.password_change, name="password_change"),
    path("search/", search.search, name="search"),
    path("lookup/", search.lookup, name="lookup"),
    # Leads
    path("leads/", lead_list.lead_list, name="lead_list"),
    path("leads/download/", downloads.lead_download, name="lead_download"),
    path("leads/new/", leads.lead_new, name="lead_new"),
    path("leads/bulk/", lead_list.lead_bulk, name="lead_bulk"),
    path("leads/<str:lead_id>/", leads.lead_detail, name="lead_detail"),
    path("leads/<str:lead_id>/edit/", leads.lead_edit, name="lead_edit"),
    path("leads/<str:lead_id>/delete/", leads.lead_delete, name="lead_delete"),
    path("leads/<str:lead_id>/convert/", conversion.lead_convert, name="lead_convert"),
    path(
        "leads/<str:lead_id>/qualification/",
        qualification.lead_qualification,
        name="lead_qualification",
    ),
    # Imports (docs/import.md)
    path("imports/", imports.import_list, name="import_list"),
    path("imports/<str:job_id>/", imports.import_detail, name="import_detail"),
    path("imports/<str:job_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<str:job_id>/errors.csv", imports.import_errors, name="import_errors"),
    path("imports/<str:job_id>/revert/", imports.import_revert_page, name="import_revert"),
    # Duplicates (docs/duplicates.md)
    path("duplicates/", duplicates.duplicate_queue, name="duplicate_queue"),
    path("duplicates/scan/", duplicates.duplicate_scan, name="duplicate_scan"),
    path(
        "duplicates/<int:group_id>/dismiss/",
        duplicates.duplicate_dismiss,
        name="duplicate_dismiss",
    ),
    path(
        "duplicates/<int:group_id>/restore/",
        duplicates.duplicate_restore,
        name="duplicate_restore",
    ),
    path("duplicates/merge/", duplicates.merge_records, name="merge_records"),
    path("duplicates/merges/", duplicates.merge_list, name="merge_list"),
    path("duplicates/merges/<int:merge_id>/", duplicates.merge_detail, name="merge_detail"),
    path(
        "duplicates/merges/<int:merge_id>/undo/",
        duplicates.merge_undo_page,
        name="merge_undo",
    ),
    # Reports
    path("reports/", reports.dashboard, name="reports"),
    path("reports/refresh/", reports.dashboard_refresh, name="reports_refresh"),
    path("reports/<str:name>.csv", reports.report_csv, name="report_csv"),
    # Opportunities and the board
    path("pipeline/", pipeline.pipeline, name="pipeline"),
    path("pipeline/column/<str:stage_id>/", pipeline.pipeline_column, name="pipeline_column"),
    path("opportunities/", sales.opportunity_list, name="opportunity_list"),
    path("opportunities/download/", downloads.opportunity_download, name="opportunity_download"),
    path("opportunities/new/", sales.opportunity_new, name="opportunity_new"),
    path(
        "opportunities/<str:opportunity_id>/", sales.opportunity_detail, name="opportunity_detail"
    ),
    path(
        "opportunities/<str:opportunity_id>/edit/", sales.opportunity_edit, name="opportunity_edit"
    ),
    path(
        "opportunities/<str:opportunity_id>/delete/",
        sales.opportunity_delete,
        name="opportunity_delete",
    ),
    path(
        "opportunities/<str:opportunity_id>/stage/",
        pipeline.opportunity_stage,
        name="opportunity_stage",
    ),
    path(
        "opportunities/<str:opportunity_id>/contact-roles/",
        sales.contact_role_add,
        name="contact_role_add",
    ),
    path(
        "contact-roles/<str:contact_role_id>/primary/",
        sales.contact_role_primary,
        name="contact_role_primary",
    ),
    path(
        "contact-roles/<str:contact_role_id>/delete/",
        sales.contact_role_delete,
        name="contact_role_delete",
    ),
    # Accounts and contacts
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/download/", downloads.account_download, name="account_download"),
    path("accounts/new/", accounts.account_new, name="account_new"),
    path("accounts/<str:account_id>/", accounts.account_detail, name="account_detail"),
    path("accounts/<str:account_id>/edit/", accounts.account_edit, name="account_edit"),
    path("accounts/<str:account_id>/delete/", accounts.account_delete, name="account_delete"),
    path("contacts/", contacts.contact_list, name="contact_list"),
    path("contacts/download/", downloads.contact_download, name="contact_download"),
    path("contacts/new/", contacts.contact_new, name="contact_new"),
    path("contacts/<str:contact_id>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<str:contact_id>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<str:contact_id>/delete/", contacts.contact_delete, name="contact_delete"),
    # Tasks (added from any record's page)
    path("tasks/", tasks.task_list, name="task_list"),
    path("tasks/new/", tasks.task_new, name="task_new"),
    path("tasks/<str:task_id>/complete/", tasks.task_complete, name="task_complete"),
    # Settings (admins)
    path("settings/", settings.settings_home, name="settings_home"),
    path("settings/lead-statuses/", settings.lead_statuses, name="settings_lead_statuses"),
    path("settings/stages/", settings.stages, name="settings_stages"),
    path("settings/picklists/", settings.picklists, name="settings_picklists"),
    path(
        "settings/qualification/",
        settings_automation.qualification,
        name="settings_qualification",
    ),
    path("settings/assignment/", settings_automation.assignment, name="settings_assignment"),
    path(
        "settings/service-levels/",
        settings_automation.service_level_settings,
        name="settings_service_levels",
    ),
    path(
        "settings/scoring-model/",
        settings_scoring_model.scoring_model,
        name="settings_scoring_model",
    ),
    path("settings/web-to-lead/", settings_web_to_lead.web_to_lead, name="settings_web_to_lead"),
    path("settings/users/", settings_people.users, name="settings_users"),
    path("settings/users/<str:user_id>/", settings_people.user_edit, name="settings_user_edit"),
    path("settings/teams/", settings_people.teams, name="settings_teams"),
    path("settings/queues/", settings_people.queues, name="settings_queues"),
    path("settings/sharing/", settings.sharing, name="settings_sharing"),
    path("settings/tokens/", settings_people.tokens, name="settings_tokens"),
]
