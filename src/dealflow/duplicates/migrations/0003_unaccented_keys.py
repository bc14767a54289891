"""Blocking keys without accents: refile the records whose keys had them.

From here on, names, companies and cities are keyed without their accents
(duplicates/keys.py: "Díaz" and "Diaz" are both "diaz"). Keys are derived data, so
this migration recomputes them with the current code (duplicates.services), for the
records that had a key outside ASCII only: every other key is unchanged.
"""

from django.db import migrations

ACCENTED_KINDS = ("name", "company_person", "company", "company_city")


def refile_accented_keys(apps, schema_editor):
    from dealflow.duplicates.services import duplicate_keys_refresh

    DuplicateKey = apps.get_model("duplicates", "DuplicateKey")
    found: dict[str, set[int]] = {}
    rows = (
        DuplicateKey.objects.using(schema_editor.connection.alias)
        .filter(kind__in=ACCENTED_KINDS)
        .values_list("object_type", "record_id", "value")
        .iterator(chunk_size=10_000)
    )
    for object_type, record_id, value in rows:
        if not value.isascii():
            found.setdefault(object_type, set()).add(record_id)
    for object_type, record_ids in sorted(found.items()):
        duplicate_keys_refresh(object_name=object_type, record_ids=record_ids)


class Migration(migrations.Migration):
    dependencies = [("duplicates", "0002_merge")]

    operations = [migrations.RunPython(refile_accented_keys, migrations.RunPython.noop)]
