"""Stall limits of the default stages (issue 7, Stalled deals): an open deal with no stage
change for more than this many days is stalled. Closed stages have none."""

from django.db import migrations

# name -> stall days; the other open default stages (later in the sales cycle) get 30.
EARLY_STAGES = {"Prospecting": 14, "Qualification": 14, "Needs Analysis": 21}
LATER_STAGES_DAYS = 30


def set_defaults(apps, schema_editor):
    OpportunityStage = apps.get_model("sales", "OpportunityStage")
    for stage in OpportunityStage.objects.filter(is_closed=False, stall_days__isnull=True):
        stage.stall_days = EARLY_STAGES.get(stage.name, LATER_STAGES_DAYS)
        stage.save(update_fields=["stall_days"])


def clear_defaults(apps, schema_editor):
    OpportunityStage = apps.get_model("sales", "OpportunityStage")
    OpportunityStage.objects.update(stall_days=None)


class Migration(migrations.Migration):
    dependencies = [("sales", "0006_stage_stall_days")]

    operations = [migrations.RunPython(set_defaults, clear_defaults)]
