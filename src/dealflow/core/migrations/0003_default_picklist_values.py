from django.db import migrations

DEFAULT_VALUES = {
    "lead_source": [
        "Web",
        "Phone Inquiry",
        "Partner Referral",
        "Purchased List",
        "Trade Show",
        "Advertisement",
        "Other",
    ],
    "industry": [
        "Agriculture",
        "Apparel",
        "Banking",
        "Biotechnology",
        "Chemicals",
        "Communications",
        "Construction",
        "Consulting",
        "Education",
        "Electronics",
        "Energy",
        "Engineering",
        "Entertainment",
        "Environmental",
        "Finance",
        "Food & Beverage",
        "Government",
        "Healthcare",
        "Hospitality",
        "Insurance",
        "Machinery",
        "Manufacturing",
        "Media",
        "Not For Profit",
        "Recreation",
        "Retail",
        "Shipping",
        "Technology",
        "Telecommunications",
        "Transportation",
        "Utilities",
        "Other",
    ],
    "rating": ["Hot", "Warm", "Cold"],
    "account_type": ["Prospect", "Customer", "Partner", "Competitor", "Other"],
    "opportunity_type": [
        "New Customer",
        "Existing Customer - Upgrade",
        "Existing Customer - Replacement",
        "Existing Customer - Downgrade",
    ],
    "contact_role": [
        "Decision Maker",
        "Economic Buyer",
        "Evaluator",
        "Influencer",
        "Technical Buyer",
        "Other",
    ],
    "loss_reason": ["Price", "Competitor", "No Budget", "No Decision", "Timing", "Other"],
    "salutation": ["Mr.", "Ms.", "Mrs.", "Mx.", "Dr.", "Prof."],
}


def create_defaults(apps, schema_editor):
    PicklistValue = apps.get_model("core", "PicklistValue")
    PicklistValue.objects.bulk_create(
        [
            PicklistValue(picklist=picklist, value=value, sort_order=position)
            for picklist, values in DEFAULT_VALUES.items()
            for position, value in enumerate(values, start=1)
        ],
        ignore_conflicts=True,
    )


def remove_defaults(apps, schema_editor):
    PicklistValue = apps.get_model("core", "PicklistValue")
    for picklist, values in DEFAULT_VALUES.items():
        PicklistValue.objects.filter(picklist=picklist, value__in=values).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
