from django.db import migrations, models


def create_the_row(apps, schema_editor):
    apps.get_model("core", "ConfigurationVersion").objects.create(pk=1, version=1)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_sharing_defaults"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfigurationVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_the_row, migrations.RunPython.noop),
    ]
