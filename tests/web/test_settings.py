"""The Settings pages (web/settings.py, web/settings_people.py): admins only; every write
through a service; a refusal is a 400 page with the message beside its input and changes
nothing."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dealflow.core.access import sharing_default
from dealflow.core.models import AuditEvent, PicklistValue, SharingDefault
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import LeadStatus
from dealflow.people.models import ApiToken, Queue, Role, Team, User
from dealflow.people.services import token_create, token_digest
from dealflow.sales.models import OpportunityStage
from tests.factories import QueueFactory, TeamFactory, UserFactory
from tests.web.helpers import XSS

pytestmark = pytest.mark.django_db

PASSWORD = "plum-harbour-vector-91"
ESCAPED = b"&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def admin():
    return UserFactory(username="root", role=Role.ADMIN)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def settings_state() -> dict:
    """Everything a settings page could change, to compare before and after a refusal."""
    return {
        "statuses": list(LeadStatus.objects.order_by("pk").values_list(*LeadStatus.SETTINGS)),
        "stages": list(
            OpportunityStage.objects.order_by("pk").values_list(*OpportunityStage.SETTINGS)
        ),
        "picklists": list(
            PicklistValue.objects.order_by("pk").values_list(*PicklistValue.SETTINGS)
        ),
        "users": list(
            User.objects.order_by("pk").values_list(
                "username",
                "first_name",
                "last_name",
                "email",
                "role",
                "team_id",
                "is_active",
                "password",
            )
        ),
        "teams": list(Team.objects.order_by("pk").values_list("name", flat=True)),
        "queues": [
            (queue.name, queue.email, sorted(queue.members.values_list("pk", flat=True)))
            for queue in Queue.objects.order_by("pk")
        ],
        "sharing": list(SharingDefault.objects.order_by("pk").values_list("object_name", "access")),
        "tokens": list(ApiToken.objects.order_by("pk").values_list("name", "revoked_at")),
        "audit": AuditEvent.objects.count(),
    }


def error_beside(content: bytes, input_id: str) -> str:
    """The refusal shown beside an input (its `<id>-error` element), or ''."""
    found = re.search(rf'id="{input_id}-error">([^<]*)<', content.decode())
    return found.group(1) if found else ""


def every_settings_request(target: User, queue: Queue, token: ApiToken) -> list[tuple[str, dict]]:
    """(URL, a POST that would change something) for every settings page and form."""
    return [
        ("/settings/", {}),
        ("/settings/lead-statuses/", {"name": "Nurture", "is_active": "on"}),
        (
            "/settings/stages/",
            {"name": "Demo", "probability": "30", "forecast_category": "Pipeline"},
        ),
        ("/settings/picklists/", {"picklist": "industry", "value": "Mining", "is_active": "on"}),
        (
            "/settings/users/",
            {
                "username": "mallory",
                "role": "admin",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        ),
        (
            f"/settings/users/{target.public_id}/",
            {"action": "details", "role": "admin", "is_active": "on"},
        ),
        (
            f"/settings/users/{target.public_id}/",
            {"action": "password", "password": PASSWORD, "password_again": PASSWORD},
        ),
        (f"/settings/users/{target.public_id}/", {"action": "deactivate"}),
        ("/settings/teams/", {"name": "Raiders"}),
        ("/settings/queues/", {"name": "Takeover", "members": [target.public_id]}),
        ("/settings/queues/", {"edit": queue.public_id, "members": [target.public_id]}),
        (
            "/settings/sharing/",
            {"Lead": "private", "Account": "private", "Contact": "read", "Opportunity": "private"},
        ),
        ("/settings/tokens/", {"action": "create", "user": target.public_id, "name": "mine"}),
        ("/settings/tokens/", {"action": "revoke", "token": str(token.pk)}),
    ]


# ---------------------------------------------------------------------------------------
# Who may open Settings


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_only_admins_open_settings_and_nothing_changes_for_others(client, role):
    person = UserFactory(username="seller", role=role)
    queue = QueueFactory(name="Inbound")
    token, _secret = token_create(actor=None, user=person, name="existing")
    client.force_login(person)
    before = settings_state()

    for url, data in every_settings_request(person, queue, token):
        if url == "/settings/" and role == Role.MANAGER:
            # A manager's one settings page is the scoring model's (test_pages.py).
            for response in (client.get(url), client.post(url, data)):
                assert (response.status_code, response["Location"]) == (
                    302,
                    "/settings/scoring-model/",
                )
            continue
        assert client.get(url).status_code == 403, url
        assert client.post(url, data).status_code == 403, url

    assert settings_state() == before


def test_settings_need_a_login(client):
    response = client.get("/settings/users/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/settings/users/")


def test_settings_link_is_shown_to_admins_only(client, admin):
    rep = UserFactory(username="seller")
    client.force_login(rep)
    assert b'href="/settings/"' not in client.get("/").content
    client.force_login(admin)
    assert b'href="/settings/"' in client.get("/").content


def test_index_links_every_settings_page(admin_client):
    content = admin_client.get("/settings/").content.decode()
    for url in (
        "/settings/lead-statuses/",
        "/settings/stages/",
        "/settings/picklists/",
        "/settings/users/",
        "/settings/teams/",
        "/settings/queues/",
        "/settings/sharing/",
        "/settings/tokens/",
    ):
        assert f'href="{url}"' in content


def test_every_input_has_a_label(admin_client, admin):
    queue = QueueFactory(name="Inbound")
    status = LeadStatus.objects.first()
    pages = [
        "/settings/lead-statuses/",
        f"/settings/lead-statuses/?edit={status.pk}",
        "/settings/stages/",
        "/settings/picklists/?picklist=rating",
        "/settings/users/",
        f"/settings/users/{admin.public_id}/",
        "/settings/teams/",
        f"/settings/queues/?edit={queue.public_id}",
        "/settings/sharing/",
        "/settings/tokens/",
    ]
    for url in pages:
        content = admin_client.get(url).content.decode()
        inputs = re.findall(r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*>', content)
        ids = [re.search(r'\bid="([^"]+)"', tag) for tag in inputs]
        assert all(ids), url
        for found in ids:
            assert f'for="{found.group(1)}"' in content, (url, found.group(1))


# ---------------------------------------------------------------------------------------
# Lead statuses


def test_admin_adds_and_changes_a_lead_status(admin_client):
    response = admin_client.post(
        "/settings/lead-statuses/", {"name": "Nurture", "sort_order": "7", "is_active": "on"}
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/lead-statuses/")
    status = LeadStatus.objects.get(name="Nurture")
    assert (status.sort_order, status.is_active, status.is_default) == (7, True, False)

    page = admin_client.get("/settings/lead-statuses/")
    assert "Saved the lead status “Nurture”." in page.content.decode()
    assert b"<td>Nurture</td>" in page.content

    edit = admin_client.get(f"/settings/lead-statuses/?edit={status.pk}")
    assert b'value="Nurture"' in edit.content
    response = admin_client.post(
        "/settings/lead-statuses/",
        {
            "edit": str(status.pk),
            "name": "Nurturing",
            "sort_order": "7",
            "is_default": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    status.refresh_from_db()
    assert (status.name, status.is_default) == ("Nurturing", True)
    assert list(LeadStatus.objects.filter(is_default=True)) == [status]


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        ({"name": ""}, "status-name", "1 to 80 characters"),
        (
            {"name": "Qualified"},
            "status-name",
            "A status 'Qualified' exists; change it from the list",
        ),
        (
            {"name": "Later", "sort_order": "-1"},
            "status-sort_order",
            "A whole number from 0 to 100000",
        ),
        (
            {"name": "Later", "sort_order": "two"},
            "status-sort_order",
            "A whole number from 0 to 100000",
        ),
        (
            {"name": "Later", "is_default": "on", "is_converted": "on", "is_active": "on"},
            "status-is_default",
            "The default status must be active and not converted",
        ),
    ],
)
def test_a_refused_lead_status_is_a_400_with_the_reason_and_changes_nothing(
    admin_client, data, input_id, message
):
    before = settings_state()
    response = admin_client.post("/settings/lead-statuses/", data)
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message.replace("'", "&#x27;")
    assert settings_state() == before


def test_an_unknown_status_row_is_404(admin_client):
    assert admin_client.get("/settings/lead-statuses/?edit=999999").status_code == 404
    assert admin_client.get("/settings/lead-statuses/?edit=x").status_code == 404


# ---------------------------------------------------------------------------------------
# Stages


def test_admin_adds_and_changes_a_stage(admin_client):
    response = admin_client.post(
        "/settings/stages/",
        {"name": "Demo", "probability": "35", "forecast_category": "Best Case", "is_active": "on"},
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/stages/")
    stage = OpportunityStage.objects.get(name="Demo")
    assert (stage.probability, stage.forecast_category, stage.is_closed) == (35, "Best Case", False)
    page = admin_client.get("/settings/stages/").content.decode()
    assert "<td>Demo</td>" in page and "<td>35</td>" in page

    response = admin_client.post(
        "/settings/stages/",
        {
            "edit": str(stage.pk),
            "name": "Demo",
            "sort_order": "3",
            "probability": "40",
            "forecast_category": "Commit",
        },
    )
    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.sort_order, stage.probability, stage.forecast_category, stage.is_active) == (
        3,
        40,
        "Commit",
        False,
    )


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {"name": "Demo", "forecast_category": "Pipeline"},
            "stage-probability",
            "A new stage needs a probability (0 to 100) and a forecast category",
        ),
        (
            {"name": "Demo", "probability": "120", "forecast_category": "Pipeline"},
            "stage-probability",
            "0 to 100",
        ),
        (
            {"name": "Demo", "probability": "ten", "forecast_category": "Pipeline"},
            "stage-probability",
            "A whole number from -2000000000 to 2000000000",
        ),
        (
            {"name": "Demo", "probability": "100", "forecast_category": "Closed", "is_won": "on"},
            "stage-is_won",
            "A won stage is also closed",
        ),
        (
            {"name": "Demo", "probability": "30", "forecast_category": "Closed"},
            "stage-forecast_category",
            "An open stage forecasts Pipeline, Best Case or Commit",
        ),
    ],
)
def test_a_refused_stage_is_a_400_with_the_reason_and_changes_nothing(
    admin_client, data, input_id, message
):
    before = settings_state()
    response = admin_client.post("/settings/stages/", data)
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message
    assert settings_state() == before


def test_a_refused_stage_edit_keeps_the_stage(admin_client):
    stage = OpportunityStage.objects.get(name="Prospecting")
    before = settings_state()
    response = admin_client.post(
        "/settings/stages/",
        {
            "edit": str(stage.pk),
            "name": "Closed Won",
            "probability": "10",
            "forecast_category": "Pipeline",
            "is_active": "on",
        },
    )
    assert response.status_code == 400
    assert error_beside(response.content, "stage-name") == "&#x27;Closed Won&#x27; is taken"
    assert b'value="Closed Won"' in response.content  # the text as typed, to correct it
    assert settings_state() == before


# ---------------------------------------------------------------------------------------
# Picklists


def test_admin_adds_and_changes_a_picklist_value(admin_client):
    response = admin_client.post(
        "/settings/picklists/",
        {"picklist": "industry", "value": "Space", "sort_order": "90", "is_active": "on"},
    )
    assert (response.status_code, response["Location"]) == (
        302,
        "/settings/picklists/?picklist=industry",
    )
    value = PicklistValue.objects.get(picklist="industry", value="Space")
    assert (value.sort_order, value.is_active) == (90, True)
    assert (
        b'<td class="text-break">Space</td>'
        in admin_client.get("/settings/picklists/?picklist=industry").content
    )
    # Only the chosen picklist's values are listed.
    assert b">Space<" not in admin_client.get("/settings/picklists/?picklist=rating").content

    response = admin_client.post(
        "/settings/picklists/",
        {"picklist": "industry", "edit": str(value.pk), "value": "ignored", "sort_order": "2"},
    )
    assert response.status_code == 302
    value.refresh_from_db()
    assert (value.value, value.sort_order, value.is_active) == ("Space", 2, False)


def test_a_picklist_value_is_escaped(admin_client):
    response = admin_client.post(
        "/settings/picklists/", {"picklist": "lead_source", "value": XSS, "is_active": "on"}
    )
    assert response.status_code == 302
    content = admin_client.get("/settings/picklists/?picklist=lead_source").content
    assert XSS.encode() not in content
    assert ESCAPED in content


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        ({"value": ""}, "picklist-value", "1 to 255 characters"),
        ({"value": "x" * 256}, "picklist-value", "At most 255 characters"),
        (
            {"value": "bad\x00text"},
            "picklist-value",
            "Text cannot contain NUL (\\u0000) characters",
        ),
        (
            {"value": "Web"},
            "picklist-value",
            "The value 'Web' exists; change it from the list",
        ),
        (
            {"value": "New", "sort_order": "100001"},
            "picklist-sort_order",
            "A whole number from 0 to 100000",
        ),
    ],
)
def test_a_refused_picklist_value_is_a_400_with_the_reason_and_changes_nothing(
    admin_client, data, input_id, message
):
    PicklistValue.objects.get_or_create(picklist="lead_source", value="Web")
    before = settings_state()
    response = admin_client.post("/settings/picklists/", {"picklist": "lead_source", **data})
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message.replace("'", "&#x27;")
    assert settings_state() == before


def test_an_unknown_picklist_is_404(admin_client):
    assert admin_client.get("/settings/picklists/?picklist=nope").status_code == 404
    before = settings_state()
    response = admin_client.post("/settings/picklists/", {"picklist": "nope", "value": "x"})
    assert response.status_code == 404
    assert settings_state() == before


# ---------------------------------------------------------------------------------------
# Users


def test_admin_adds_a_user_who_can_sign_in(admin_client):
    team = TeamFactory(name="East")
    response = admin_client.post(
        "/settings/users/",
        {
            "username": "dana",
            "first_name": "Dana",
            "last_name": "Scully",
            "email": "dana@x.test",
            "role": "manager",
            "team": "East",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    user = User.objects.get(username="dana")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/settings/users/{user.public_id}/",
    )
    assert (user.role, user.team, user.is_staff, user.email) == (
        "manager",
        team,
        True,
        "dana@x.test",
    )
    assert user.check_password(PASSWORD)
    listing = admin_client.get("/settings/users/").content.decode()
    assert "dana@x.test" in listing and "Manager" in listing and "<td>East</td>" in listing


def test_a_user_without_a_password_works_with_tokens_only(admin_client):
    response = admin_client.post("/settings/users/", {"username": "robot", "role": "rep"})
    assert response.status_code == 302
    assert not User.objects.get(username="robot").has_usable_password()


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {"username": "eve", "password": "short", "password_again": "short"},
            "user-password",
            "This password is too short. It must contain at least 12 characters.",
        ),
        (
            {"username": "eve", "password": PASSWORD, "password_again": PASSWORD + "x"},
            "user-password_again",
            "The two passwords differ",
        ),
        ({"username": "root"}, "user-username", "&#x27;root&#x27; is taken"),
        ({"username": ""}, "user-username", "Username is required."),
        (
            {"username": "eve", "role": "boss"},
            "user-role",
            "Expected one of admin, manager, rep, got &#x27;boss&#x27;",
        ),
        (
            {"username": "eve", "team": "Nowhere"},
            "user-team",
            "No team named &#x27;Nowhere&#x27;",
        ),
        (
            {"username": "eve", "email": "e" * 250 + "@x.test"},
            "user-email",
            "At most 254 characters",
        ),
    ],
)
def test_a_refused_user_is_a_400_with_the_reason_and_changes_nothing(
    admin_client, data, input_id, message
):
    before = settings_state()
    response = admin_client.post("/settings/users/", {"role": "rep", **data})
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message
    assert b"plum-harbour" not in response.content  # a password is never shown again
    assert settings_state() == before


def test_admin_changes_role_team_and_deactivates_a_user(admin_client):
    TeamFactory(name="West")
    rep = UserFactory(username="sam", role=Role.REP)
    url = f"/settings/users/{rep.public_id}/"
    response = admin_client.post(
        url,
        {
            "action": "details",
            "first_name": "Sam",
            "last_name": "Spade",
            "email": "sam@x.test",
            "role": "admin",
            "team": "West",
            "is_active": "on",
        },
    )
    assert (response.status_code, response["Location"]) == (302, url)
    rep.refresh_from_db()
    assert (rep.role, rep.team.name, rep.is_superuser, rep.last_name) == (
        "admin",
        "West",
        True,
        "Spade",
    )

    assert admin_client.post(url, {"action": "deactivate"}).status_code == 302
    rep.refresh_from_db()
    assert rep.is_active is False
    # A deactivated user stays listed, and can be reactivated.
    assert b"Deactivated" in admin_client.get("/settings/users/").content
    assert b"Reactivate the user" in admin_client.get(url).content
    assert admin_client.post(url, {"action": "reactivate"}).status_code == 302
    rep.refresh_from_db()
    assert rep.is_active is True


def test_admin_sets_a_users_password(admin_client):
    rep = UserFactory(username="sam")
    url = f"/settings/users/{rep.public_id}/"
    response = admin_client.post(
        url, {"action": "password", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {
                "action": "password",
                "password": "12345678901234",
                "password_again": "12345678901234",
            },
            "password-password",
            "This password is entirely numeric.",
        ),
        ({"action": "password"}, "password-password", "Password is required."),
        (
            {"action": "details", "role": "admin"},
            "details-is_active",
            "You may not deactivate yourself or give up your own admin role",
        ),
        (
            {"action": "details", "role": "rep", "is_active": "on"},
            "details-role",
            "You may not deactivate yourself or give up your own admin role",
        ),
    ],
)
def test_a_refused_user_change_is_a_400_with_the_reason_and_changes_nothing(
    admin_client, admin, data, input_id, message
):
    before = settings_state()
    response = admin_client.post(f"/settings/users/{admin.public_id}/", data)
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message
    assert settings_state() == before


def test_an_admin_cannot_deactivate_themself(admin_client, admin):
    before = settings_state()
    response = admin_client.post(f"/settings/users/{admin.public_id}/", {"action": "deactivate"})
    assert response.status_code == 400
    assert b"You may not deactivate yourself" in response.content
    assert settings_state() == before


def test_an_unknown_user_is_404(admin_client):
    assert admin_client.get("/settings/users/005000000000999AAA/").status_code == 404
    assert admin_client.get("/settings/users/nonsense/").status_code == 404


def test_user_names_are_escaped(admin_client):
    UserFactory(username="odd", first_name=XSS, last_name="")
    content = admin_client.get("/settings/users/").content
    assert XSS.encode() not in content and ESCAPED in content


# ---------------------------------------------------------------------------------------
# Teams and queues


def test_admin_adds_a_team(admin_client):
    team = TeamFactory(name="East")
    UserFactory(team=team)
    response = admin_client.post("/settings/teams/", {"name": "West"})
    assert (response.status_code, response["Location"]) == (302, "/settings/teams/")
    assert Team.objects.filter(name="West").exists()
    content = admin_client.get("/settings/teams/").content.decode()
    assert "<tr><td>East</td><td>1</td></tr>" in content
    assert "<tr><td>West</td><td>0</td></tr>" in content


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("east", "A team &#x27;east&#x27; exists"),
        ("", "1 to 80 characters"),
        ("a\x00b", "Text cannot contain NUL (\\u0000) characters"),
    ],
)
def test_a_refused_team_is_a_400_and_changes_nothing(admin_client, name, message):
    TeamFactory(name="East")
    before = settings_state()
    response = admin_client.post("/settings/teams/", {"name": name})
    assert response.status_code == 400
    assert error_beside(response.content, "team-name") == message
    assert settings_state() == before


def test_admin_adds_a_queue_and_changes_its_members(admin_client):
    ann, bob = (
        UserFactory(first_name="Ann", last_name="A"),
        UserFactory(first_name="Bob", last_name="B"),
    )
    response = admin_client.post(
        "/settings/queues/",
        {"name": "Inbound", "email": "in@x.test", "members": [ann.public_id, bob.public_id]},
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/queues/")
    queue = Queue.objects.get(name="Inbound")
    assert set(queue.members.all()) == {ann, bob}
    assert "Ann A, Bob B" in admin_client.get("/settings/queues/").content.decode()

    edit = admin_client.get(f"/settings/queues/?edit={queue.public_id}").content.decode()
    assert f'value="{ann.public_id}" checked' in edit
    response = admin_client.post(
        "/settings/queues/",
        {"edit": queue.public_id, "name": "Renamed?", "email": "", "members": [bob.public_id]},
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.name, queue.email, list(queue.members.all())) == ("Inbound", "", [bob])


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {"name": "Inbound"},
            "queue-name",
            "A queue &#x27;Inbound&#x27; exists; change it from the list",
        ),
        ({"name": ""}, "queue-name", "1 to 80 characters"),
        (
            {"name": "New", "members": ["00Q000000000001AAA"]},
            "queue-members",
            "Choose users from the list",
        ),
        (
            {"name": "New", "members": ["005000000000999AAA"]},
            "queue-members",
            "Choose users from the list",
        ),
    ],
)
def test_a_refused_queue_is_a_400_and_changes_nothing(admin_client, data, input_id, message):
    QueueFactory(name="Inbound")
    before = settings_state()
    response = admin_client.post("/settings/queues/", data)
    assert response.status_code == 400
    assert error_beside(response.content, input_id) == message
    assert settings_state() == before


# ---------------------------------------------------------------------------------------
# Sharing defaults


def test_admin_changes_sharing_defaults(admin_client):
    content = admin_client.get("/settings/sharing/").content.decode()
    assert '<option value="read_write" selected>Public read/write</option>' in content
    response = admin_client.post(
        "/settings/sharing/",
        {
            "Lead": "private",
            "Account": "read",
            "Contact": "read_write",
            "Opportunity": "read_write",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/sharing/")
    assert dict(SharingDefault.objects.values_list("object_name", "access")) == {
        "Lead": "private",
        "Account": "read",
    }
    page = admin_client.get("/settings/sharing/").content.decode()
    assert "Saved the sharing defaults of Lead, Account." in page
    assert '<option value="private" selected>Private</option>' in page


def test_a_refused_sharing_default_changes_none_of_them(admin_client):
    sharing_default_set(actor=None, object_name="Contact", access="read")
    before = settings_state()
    response = admin_client.post(
        "/settings/sharing/",
        {"Lead": "private", "Account": "everyone", "Contact": "read", "Opportunity": "read"},
    )
    assert response.status_code == 400
    assert error_beside(response.content, "sharing-Account") == (
        "Expected one of private, read, read_write, got &#x27;everyone&#x27;"
    )
    assert settings_state() == before
    assert sharing_default("Lead") == "read_write"


# ---------------------------------------------------------------------------------------
# API tokens


def token_form_key(client):
    """The one-use key of the token form as the page renders it."""
    content = client.get("/settings/tokens/").content.decode()
    return re.search(r'name="form_key" value="([^"]+)"', content).group(1)


def test_a_new_tokens_secret_is_shown_once(admin_client):
    rep = UserFactory(username="sam")
    response = admin_client.post(
        "/settings/tokens/",
        {
            "action": "create",
            "user": rep.public_id,
            "name": "Zapier",
            "form_key": token_form_key(admin_client),
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token" value="(dft_[^"]+)"', response.content.decode()).group(1)
    api_token = ApiToken.objects.get()
    assert (api_token.user, api_token.name, api_token.digest) == (
        rep,
        "Zapier",
        token_digest(secret),
    )
    assert secret not in str(AuditEvent.objects.values_list("changes", flat=True)[0])

    again = admin_client.get("/settings/tokens/")
    assert secret.encode() not in again.content
    assert b"<td>Zapier</td>" in again.content


def test_sending_the_token_form_again_makes_no_second_token(admin_client):
    rep = UserFactory(username="sam")
    form = {
        "action": "create",
        "user": rep.public_id,
        "name": "Zapier",
        "form_key": token_form_key(admin_client),
    }
    assert admin_client.post("/settings/tokens/", form).status_code == 200

    again = admin_client.post("/settings/tokens/", form)  # the browser's reload

    assert again.status_code == 400
    assert "This form was sent already" in again.content.decode()
    assert b"new-token" not in again.content
    assert ApiToken.objects.count() == 1


def test_admin_revokes_a_token(admin_client):
    rep = UserFactory(username="sam")
    api_token, _secret = token_create(actor=None, user=rep, name="Zapier")
    response = admin_client.post(
        "/settings/tokens/", {"action": "revoke", "token": str(api_token.pk)}
    )
    assert (response.status_code, response["Location"]) == (302, "/settings/tokens/")
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    page = admin_client.get("/settings/tokens/").content.decode()
    assert "Revoked the token “Zapier” of sam." in page
    assert 'aria-label="Revoke the token Zapier of sam"' not in page


def test_revoking_an_unknown_token_is_404(admin_client):
    before = settings_state()
    assert (
        admin_client.post("/settings/tokens/", {"action": "revoke", "token": "999"}).status_code
        == 404
    )
    assert settings_state() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"user": ""}, "User is required."),
        ({"user": "005000000000999AAA"}, "Choose an active user"),
        ({"user": "nonsense"}, "Choose an active user"),
    ],
)
def test_a_refused_token_is_a_400_and_changes_nothing(admin_client, data, message):
    form = {"action": "create", "name": "x", "form_key": token_form_key(admin_client), **data}
    before = settings_state()
    response = admin_client.post("/settings/tokens/", form)
    assert response.status_code == 400
    assert error_beside(response.content, "token-user") == message
    assert b"new-token" not in response.content
    assert settings_state() == before


def test_a_token_name_is_escaped(admin_client, admin):
    token_create(actor=None, user=admin, name=XSS)
    content = admin_client.get("/settings/tokens/").content
    assert XSS.encode() not in content and ESCAPED in content


# ---------------------------------------------------------------------------------------
# CSRF


def test_every_settings_form_needs_its_csrf_token(admin):
    target = UserFactory(username="sam")
    queue = QueueFactory(name="Inbound")
    token, _secret = token_create(actor=None, user=target, name="existing")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = settings_state()
    for url, data in every_settings_request(target, queue, token):
        page = client.get(url.split("?")[0])
        forms = page.content.decode().count('method="post"')
        # Every form of the page (the sign-out form of the frame included) carries a token.
        assert page.content.decode().count('name="csrfmiddlewaretoken"') == forms, url
        assert client.post(url, data).status_code == 403, url
    assert settings_state() == before


# ---------------------------------------------------------------------------------------
# Query counts do not grow with rows


def add_statuses(count: int, start: int) -> None:
    for number in range(start, start + count):
        LeadStatus.objects.create(name=f"Status {number}", sort_order=100 + number)


def add_stages(count: int, start: int) -> None:
    for number in range(start, start + count):
        OpportunityStage.objects.create(
            name=f"Stage {number}",
            sort_order=100 + number,
            probability=10,
            forecast_category="Pipeline",
        )


def add_values(count: int, start: int) -> None:
    for number in range(start, start + count):
        PicklistValue.objects.create(picklist="industry", value=f"Industry {number}")


def add_users(count: int, start: int) -> None:
    team = TeamFactory()
    for number in range(start, start + count):
        UserFactory(username=f"person{number}", team=team, is_active=number % 3 != 0)


def add_teams(count: int, start: int) -> None:
    for number in range(start, start + count):
        UserFactory(team=TeamFactory(name=f"Team {number}"))


def add_queues(count: int, start: int) -> None:
    for number in range(start, start + count):
        queue = QueueFactory(name=f"Queue {number}")
        queue.members.set([UserFactory(), UserFactory()])


def add_tokens(count: int, start: int) -> None:
    user = UserFactory()
    for number in range(start, start + count):
        token_create(actor=None, user=user, name=f"Token {number}")


@pytest.mark.parametrize(
    ("url", "add"),
    [
        ("/settings/lead-statuses/", add_statuses),
        ("/settings/stages/", add_stages),
        ("/settings/picklists/?picklist=industry", add_values),
        ("/settings/users/", add_users),
        ("/settings/teams/", add_teams),
        ("/settings/queues/", add_queues),
        ("/settings/queues/?edit={first_queue}", add_queues),
        ("/settings/tokens/", add_tokens),
    ],
)
def test_a_settings_page_runs_the_same_queries_for_5_and_50_rows(admin_client, url, add):
    add(5, 0)
    first_queue = Queue.objects.order_by("pk").first()
    url = url.format(first_queue=first_queue.public_id if first_queue else "")
    admin_client.get(url)  # warm the per-process caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    with_5 = queries()
    add(45, 5)
    assert queries() == with_5


def test_a_users_page_runs_few_queries(admin_client, admin, django_assert_max_num_queries):
    add_users(50, 0)
    with django_assert_max_num_queries(6):
        admin_client.get("/settings/users/")
    with django_assert_max_num_queries(6):
        admin_client.get(f"/settings/users/{admin.public_id}/")
    with django_assert_max_num_queries(8):
        admin_client.get("/settings/sharing/")
