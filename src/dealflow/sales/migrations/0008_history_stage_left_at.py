"""OpportunityHistory.stage_left_at: when each stay in a stage ended (issue 9's
stage_duration reads it instead of walking the history), back-filled for the history
already stored: each stage change's end is the deal's next stage change."""

from django.db import migrations, models

# The statement of services.STAGE_STAYS_SQL for every deal (copied: a migration keeps
# the SQL of its day). Rows are all null here, so only ends that exist are written.
BACKFILL = """
UPDATE sales_opportunityhistory SET stage_left_at = stays.left_at
FROM (
    SELECT id, LEAD(created_at) OVER (
        PARTITION BY opportunity_id ORDER BY created_at, id
    ) AS left_at
    FROM sales_opportunityhistory
    WHERE stage_name <> previous_stage_name
) AS stays
WHERE sales_opportunityhistory.id = stays.id AND stays.left_at IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0007_default_stall_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunityhistory",
            name="stage_left_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
    ]
