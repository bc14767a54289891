"""The Celery application; without CELERY_BROKER_URL / REDIS_URL tasks run in-process.

`dealflow worker` runs a worker and `dealflow beat` the scheduler (docs/operations.md,
"Production layout"); the schedule below is in the organisation's time zone
(DEALFLOW_TIME_ZONE, Celery's `timezone`).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")

app = Celery("dealflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# What `dealflow beat` sends, to be performed by `dealflow worker`. Every task is safe
# to run twice (a retry, or beat restarted mid-minute).
app.conf.beat_schedule = {
    "purge-idempotency-records": {
        "task": "dealflow.core.tasks.purge_idempotency_records",
        "schedule": crontab(minute=0),  # hourly: keys expire by the hour
    },
    "score-leads": {
        "task": "dealflow.automation.tasks.score_leads",
        "schedule": crontab(hour=1, minute=30),  # nightly: decay moves every score a little
    },
    "predict-leads": {
        "task": "dealflow.automation.tasks.predict_leads",
        "schedule": crontab(hour=2, minute=30),  # nightly, after the rule scores
    },
    "train-predictive-model": {
        "task": "dealflow.automation.tasks.train_predictive_model",
        "schedule": crontab(hour=3, minute=30, day_of_week="sun"),  # weekly
    },
    "check-service-levels": {
        # Hourly; the task skips hours without working time (the service-level setting's).
        "task": "dealflow.leads.tasks.check_service_levels",
        "schedule": crontab(minute=0),
    },
    "email-stalled-digests": {
        "task": "dealflow.sales.tasks.email_stalled_digests",
        "schedule": crontab(hour=7, minute=0, day_of_week="mon-fri"),  # each working morning
    },
    "take-pipeline-snapshot": {
        "task": "dealflow.reports.tasks.take_pipeline_snapshot",
        "schedule": crontab(hour=23, minute=45),  # daily, the day's pipeline as it ends
    },
    "scan-duplicates": {
        "task": "dealflow.duplicates.tasks.scan_duplicates",
        "schedule": crontab(hour=4, minute=30),  # nightly: the review queue (docs/duplicates.md)
    },
}
