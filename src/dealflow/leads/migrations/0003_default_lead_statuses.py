from django.db import migrations

# name, is_default, is_converted, is_closed
DEFAULT_STATUSES = [
    ("Open - Not Contacted", True, False, False),
    ("Working - Contacted", False, False, False),
    ("Qualified", False, False, False),
    ("Closed - Converted", False, True, True),
    ("Closed - Not Converted", False, False, True),
]


def create_defaults(apps, schema_editor):
    LeadStatus = apps.get_model("leads", "LeadStatus")
    for position, (name, is_default, is_converted, is_closed) in enumerate(DEFAULT_STATUSES, 1):
        LeadStatus.objects.get_or_create(
            name=name,
            defaults={
                "sort_order": position,
                "is_default": is_default,
                "is_converted": is_converted,
                "is_closed": is_closed,
            },
        )


def remove_defaults(apps, schema_editor):
    LeadStatus = apps.get_model("leads", "LeadStatus")
    LeadStatus.objects.filter(name__in=[row[0] for row in DEFAULT_STATUSES]).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0002_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
