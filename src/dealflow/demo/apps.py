from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Installed for its management commands only: it has no models."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "dealflow.demo"
    label = "demo"
