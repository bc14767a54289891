import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_home_needs_a_login(client):
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/")


def test_login_page_has_csrf_and_signs_in(client):
    UserFactory(username="rep1").set_password("correct horse")
    user = UserFactory(username="rep2")
    user.set_password("correct horse battery")
    user.save()

    page = client.get("/login/")
    assert page.status_code == 200
    assert b"csrfmiddlewaretoken" in page.content

    response = client.post("/login/", {"username": "rep2", "password": "correct horse battery"})
    assert (response.status_code, response["Location"]) == (302, "/")
    home = client.get("/")
    assert b"My work" in home.content


def test_home_escapes_user_data(client):
    user = UserFactory(username="x", first_name="<script>alert(1)</script>", last_name="")
    client.force_login(user)
    content = client.get("/").content
    assert b"<script>alert(1)</script>" not in content
    assert b"&lt;script&gt;" in content
