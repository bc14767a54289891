import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_agree():
    output = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=output)
    assert output.getvalue().strip() == "No changes detected"
