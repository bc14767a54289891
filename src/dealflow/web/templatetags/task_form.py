"""Template tags of the task form (web/components/_task_form.html), which any record's
page includes without its view having to pass the task vocabulary."""

from django import template
from django.utils import timezone

from dealflow.sales.models import TaskType

register = template.Library()


@register.simple_tag
def task_type_choices() -> list[tuple[str, str]]:
    """[(value, label)] of the Task Type picklist, in its declared order."""
    return list(TaskType.choices)


@register.simple_tag
def task_today() -> str:
    """Today's date in the site's time zone, ISO (the default Due Date of a new task)."""
    return timezone.localdate().isoformat()
