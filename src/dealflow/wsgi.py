"""WSGI entry point (gunicorn dealflow.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")
application = get_wsgi_application()
