"""Settings of the benchmark's server: the product's settings plus the baseline URLs.

Used only by bench/api.py, which starts gunicorn with `--pythonpath bench/baseline` and
DJANGO_SETTINGS_MODULE=bench_settings. Lives in a subfolder so `make bench`, which runs
every bench/*.py, does not run it as a benchmark.
"""

from dealflow.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
