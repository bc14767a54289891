"""The Celery application; without CELERY_BROKER_URL / REDIS_URL tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")

app = Celery("dealflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
