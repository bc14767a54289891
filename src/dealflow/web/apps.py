from django.apps import AppConfig


class WebConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dealflow.web"
    label = "web"

    def ready(self) -> None:
        from dealflow.web import throttling

        throttling.connect()
