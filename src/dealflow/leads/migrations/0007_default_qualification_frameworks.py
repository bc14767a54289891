from django.db import migrations

# The frameworks as their authors name their items (DOMAIN.md section 6): key, label.
DEFAULT_FRAMEWORKS = {
    "BANT": [
        ("budget", "Budget"),
        ("authority", "Authority"),
        ("need", "Need"),
        ("timeline", "Timeline"),
    ],
    "CHAMP": [
        ("challenges", "Challenges"),
        ("authority", "Authority"),
        ("money", "Money"),
        ("prioritization", "Prioritization"),
    ],
    "MEDDIC": [
        ("metrics", "Metrics"),
        ("economic_buyer", "Economic buyer"),
        ("decision_criteria", "Decision criteria"),
        ("decision_process", "Decision process"),
        ("identify_pain", "Identify pain"),
        ("champion", "Champion"),
    ],
}


def create_defaults(apps, schema_editor):
    Framework = apps.get_model("leads", "QualificationFramework")
    Item = apps.get_model("leads", "QualificationItem")
    Setting = apps.get_model("leads", "QualificationSetting")
    for position, (name, items) in enumerate(DEFAULT_FRAMEWORKS.items(), 1):
        framework, _created = Framework.objects.get_or_create(
            name=name, defaults={"sort_order": position}
        )
        for order, (key, label) in enumerate(items, 1):
            Item.objects.get_or_create(
                framework=framework, key=key, defaults={"label": label, "sort_order": order}
            )
    if not Setting.objects.exists():
        Setting.objects.create()  # no framework required until an admin chooses one


def remove_defaults(apps, schema_editor):
    apps.get_model("leads", "QualificationSetting").objects.all().delete()
    apps.get_model("leads", "QualificationFramework").objects.filter(
        name__in=list(DEFAULT_FRAMEWORKS)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0006_qualification")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
