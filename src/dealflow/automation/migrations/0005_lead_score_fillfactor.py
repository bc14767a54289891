"""PostgreSQL: automation_leadscore leaves half of each page free (fillfactor 50).

Every nightly recompute rewrites each open lead's LeadScore row (score, parts,
computed_at; no indexed column). With full pages each new row version went to another
page with a new entry in the primary key's index, and the table doubled between
vacuums; with room on its page the update is HOT (heap-only: no index entry, the old
version pruned on the page) and the table keeps its size (docs/benchmarks.md, "Scoring:
the writes"). Existing rows move to half-full pages at their next update. SQLite has no
fillfactor: nothing to do there.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("automation", "LeadScore")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR:d})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("automation", "LeadScore")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("automation", "0004_decision_indexes")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
