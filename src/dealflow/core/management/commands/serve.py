"""`dealflow serve`: serve the web app with gunicorn."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve dealflow over HTTP (gunicorn; --reload when DEALFLOW_DEBUG is on)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, **options):
        address = f"{options['host']}:{options['port']}"
        self.stdout.write(f"dealflow serving on http://{address}/ (Ctrl-C stops)")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "dealflow.wsgi",
            "--bind",
            address,
            "--workers",
            str(options["workers"]),
            "--access-logfile",
            "-",
        ]
        if settings.DEBUG:
            command.append("--reload")
        sys.stdout.flush()
        os.execv(sys.executable, command)
