"""The Celery application; without CELERY_BROKER_URL / REDIS_URL tasks run in-process."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")

app = Celery("dealflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# What `celery -A dealflow beat` (or a worker with --beat) starts on its own.
app.conf.beat_schedule = {
    "purge-idempotency-records": {
        "task": "dealflow.core.tasks.purge_idempotency_records",
        "schedule": crontab(minute=0),  # hourly: keys expire by the hour
    },
}
