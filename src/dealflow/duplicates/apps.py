from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dealflow.duplicates"
    label = "duplicates"
