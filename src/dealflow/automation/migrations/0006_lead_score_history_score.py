"""LeadScore.history_score: the score of the lead's newest history row, so that a
recompute appends history only for a Rating change or a move of HISTORY_STEP points
(automation/scoring.py). Null on existing rows, whose newest history row has their
score: a recompute then compares with the score itself. Adding a nullable column with
no default rewrites nothing on PostgreSQL or SQLite."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("automation", "0005_lead_score_fillfactor")]

    operations = [
        migrations.AddField(
            model_name="leadscore",
            name="history_score",
            field=models.FloatField(blank=True, null=True),
        ),
    ]
