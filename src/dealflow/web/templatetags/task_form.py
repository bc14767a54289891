"""Template tags of the task form (web/components/_task_form.html), which any record's
page includes without its view having to pass the task vocabulary."""

from django import template

from dealflow.sales.models import TaskType

register = template.Library()


@register.simple_tag
def task_type_choices() -> list[tuple[str, str]]:
    """[(value, label)] of the Task Type picklist, in its declared order."""
    return list(TaskType.choices)
