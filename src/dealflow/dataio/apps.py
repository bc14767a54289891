from django.apps import AppConfig


class DataIOConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dealflow.dataio"
    label = "dataio"
