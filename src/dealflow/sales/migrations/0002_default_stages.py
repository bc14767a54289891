from django.db import migrations

# name, probability, forecast category, is_closed, is_won
DEFAULT_STAGES = [
    ("Prospecting", 10, "Pipeline", False, False),
    ("Qualification", 10, "Pipeline", False, False),
    ("Needs Analysis", 20, "Pipeline", False, False),
    ("Value Proposition", 50, "Pipeline", False, False),
    ("Id. Decision Makers", 60, "Pipeline", False, False),
    ("Perception Analysis", 70, "Pipeline", False, False),
    ("Proposal/Price Quote", 75, "Pipeline", False, False),
    ("Negotiation/Review", 90, "Pipeline", False, False),
    ("Closed Won", 100, "Closed", True, True),
    ("Closed Lost", 0, "Omitted", True, False),
]


def create_defaults(apps, schema_editor):
    OpportunityStage = apps.get_model("sales", "OpportunityStage")
    for position, (name, probability, category, is_closed, is_won) in enumerate(
        DEFAULT_STAGES, start=1
    ):
        OpportunityStage.objects.get_or_create(
            name=name,
            defaults={
                "sort_order": position,
                "probability": probability,
                "forecast_category": category,
                "is_closed": is_closed,
                "is_won": is_won,
            },
        )


def remove_defaults(apps, schema_editor):
    OpportunityStage = apps.get_model("sales", "OpportunityStage")
    OpportunityStage.objects.filter(name__in=[row[0] for row in DEFAULT_STAGES]).delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
