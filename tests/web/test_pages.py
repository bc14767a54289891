import pytest

from dealflow.people.models import Role
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


def test_changing_the_password_keeps_the_session_and_says_so(client):
    user = UserFactory(username="rep3")
    user.set_password("an old passphrase 1")
    user.save()
    client.force_login(user)

    refused = client.post(
        "/password/",
        {"old_password": "wrong", "new_password1": "x", "new_password2": "x"},
    )
    assert refused.status_code == 200
    assert "Your old password was entered incorrectly" in refused.content.decode()

    response = client.post(
        "/password/",
        {
            "old_password": "an old passphrase 1",
            "new_password1": "a brand new passphrase 2",
            "new_password2": "a brand new passphrase 2",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/", 302)]
    assert "Your password was changed." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase 2")


def test_a_refusal_is_a_403_page_logged_without_a_traceback(client, caplog):
    client.force_login(UserFactory(username="rep4"))
    with caplog.at_level("WARNING", logger="django.request"):
        response = client.get("/settings/")
    assert response.status_code == 403
    assert "Settings are for admins" in response.content.decode()
    assert [(record.getMessage(), record.exc_info) for record in caplog.records] == [
        ("Forbidden: /settings/", None)
    ]


def _navigation_links(response) -> list[tuple[str, str]]:
    """The main navigation's links as (label, href), in order."""
    import re

    html = response.content.decode()
    navigation = html[html.index('<nav class="collapse navbar-collapse"') : html.index("</nav>")]
    return re.findall(r'<a class="nav-link[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>', navigation)


def test_settings_in_the_navigation_lead_only_where_the_user_may_go(client):
    """A fresh manager typed /settings/ and got "Not allowed — Settings are for admins":
    their Settings entry is the scoring model's page (the one settings page a manager may
    open), and /settings/ now takes them there; a rep has no Settings entry, an admin's
    is the settings' index."""
    rep = UserFactory(username="rep9")
    manager = UserFactory(username="manager9", role=Role.MANAGER)
    admin = UserFactory(username="admin9", role=Role.ADMIN)

    client.force_login(rep)
    links = _navigation_links(client.get("/"))
    assert [label for _href, label in links] == [
        "Home", "Leads", "Accounts", "Contacts", "Opportunities", "Pipeline", "Tasks",
        "Reports", "Import",
    ]  # fmt: skip
    assert client.get("/settings/").status_code == 403
    assert client.get("/settings/scoring-model/").status_code == 403

    client.force_login(manager)
    links = _navigation_links(client.get("/"))
    assert links[-2:] == [("/duplicates/", "Duplicates"), ("/settings/scoring-model/", "Settings")]
    for href, _label in links:
        assert client.get(href).status_code == 200, href
    response = client.get("/settings/")
    assert (response.status_code, response["Location"]) == (302, "/settings/scoring-model/")
    assert client.get("/settings/lead-statuses/").status_code == 403

    client.force_login(admin)
    links = _navigation_links(client.get("/"))
    assert links[-2:] == [("/duplicates/", "Duplicates"), ("/settings/", "Settings")]
    assert client.get("/settings/").status_code == 200
