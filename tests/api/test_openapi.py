import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_document_lists_every_operation():
    schema = Client().get("/api/v1/openapi.json").json()
    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    for prefix in ("lead", "account", "contact", "opportunity", "contact_role", "task"):
        for verb in ("list", "get", "create", "update", "delete"):
            assert f"{prefix}_{verb}" in operations
    assert {"lead_convert", "task_complete", "user_list", "queue_list"} <= operations
    assert schema["components"]["schemas"]["LeadCreate"]["required"] == ["last_name", "company"]
    assert "is_converted" not in schema["components"]["schemas"]["LeadCreate"]["properties"]


def test_docs_page_works_without_internet():
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html
    script = Client().get("/static/ninja/swagger-ui-bundle.js")
    assert script.status_code == 200
