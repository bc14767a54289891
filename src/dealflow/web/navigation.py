"""What every page's frame shows: the navigation bar and the signed-in user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dealflow.core.access import is_admin

# (label, URL name, the first path segment that marks it as the current area)
SECTIONS = (
    ("Home", "home", ""),
    ("Leads", "lead_list", "leads"),
    ("Accounts", "account_list", "accounts"),
    ("Contacts", "contact_list", "contacts"),
    ("Opportunities", "opportunity_list", "opportunities"),
    ("Pipeline", "pipeline", "pipeline"),
    ("Tasks", "task_list", "tasks"),
    ("Reports", "reports", "reports"),
    ("Import", "import_list", "imports"),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context: `navigation` (label, URL name, current?) and `user_is_admin`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    area = request.path.strip("/").split("/", 1)[0]
    sections = [(label, name, area == segment) for label, name, segment in SECTIONS]
    admin = is_admin(user)
    if admin or user.role == "manager":  # the duplicate review queue (docs/duplicates.md)
        sections.append(("Duplicates", "duplicate_queue", area == "duplicates"))
    if admin:
        sections.append(("Settings", "settings_home", area == "settings"))
    elif user.role == "manager":  # a manager's one settings page (docs/scoring.md)
        sections.append(("Settings", "settings_scoring_model", area == "settings"))
    return {"navigation": sections, "user_is_admin": admin}
