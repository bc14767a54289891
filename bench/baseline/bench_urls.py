"""The product's URLs plus two bench-only baselines, served by the same gunicorn.

- GET /bench/ping: a trivial JSON response (the read ceiling: Django's request path,
  middleware and JSON, no database).
- POST /bench/insert: one parameterised INSERT into bench_ceiling, a table with a unique
  index that bench/api.py creates with raw SQL (the write ceiling: one autocommitted
  row through the same stack and connection settings).

Never part of dealflow.urls: only the benchmark's settings (bench_settings) use it.
"""

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dealflow.urls import urlpatterns as product_urlpatterns


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@csrf_exempt
@require_POST
def insert(request: HttpRequest) -> JsonResponse:
    key = json.loads(request.body)["key"]
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_ceiling (key) VALUES (%s) RETURNING id", [key])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [
    *product_urlpatterns,
    path("bench/ping", ping),
    path("bench/insert", insert),
]
