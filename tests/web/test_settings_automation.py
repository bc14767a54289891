"""The Settings pages of issue 7 (web/settings_automation.py): the qualification
requirement and checklists, and the assignment rules. Admins only; every write through
the service the API uses; a refusal is a 400 page with the exact message and changes
nothing."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from dealflow.automation.models import AssignmentRuleEntry, AssignmentRuleSet
from dealflow.automation.selectors import assignment_rules_json
from dealflow.automation.services import assignment_rules_set
from dealflow.core.models import AuditEvent
from dealflow.leads.models import QualificationItem, QualificationSetting
from dealflow.leads.qualification import (
    qualification_configuration,
    qualification_item_set,
    qualification_settings_set,
)
from dealflow.people.models import Role
from tests.factories import QueueFactory, UserFactory
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db

QUALIFICATION = "/settings/qualification/"
ASSIGNMENT = "/settings/assignment/"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def admin():
    return UserFactory(username="root", first_name="Ada", last_name="Admin", role=Role.ADMIN)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def state() -> dict:
    """Everything these pages could change, to compare before and after a refusal."""
    return {
        "setting": list(
            QualificationSetting.objects.order_by("pk").values_list(
                "required_framework_id", "minimum_items"
            )
        ),
        "items": list(
            QualificationItem.objects.order_by("pk").values_list(
                "framework_id", "key", "label", "sort_order", "is_active"
            )
        ),
        "rule_sets": list(
            AssignmentRuleSet.objects.order_by("pk").values_list("pk", "is_active", "default_owner")
        ),
        "entries": list(
            AssignmentRuleEntry.objects.order_by("pk").values_list(
                "rule_set_id", "sort_order", "criteria", "kind", "user_ids", "capacity"
            )
        ),
        "audit": AuditEvent.objects.count(),
    }


def error_beside(response, input_id: str) -> str:
    """The refusal shown beside an input (its `<id>-error` element), or ''."""
    found = re.search(rf'id="{input_id}-error">([^<]*)<', text(response))
    return found.group(1) if found else ""


def rules(*entries, default_owner=None) -> dict:
    return {
        "default_owner_id": default_owner.public_id if default_owner else None,
        "entries": list(entries),
    }


def web_entry(user) -> dict:
    return {
        "criteria": [{"field": "lead_source", "operator": "equals", "value": "Web"}],
        "match": "all",
        "assign_to": {"kind": "user", "user_id": user.public_id},
    }


def posts() -> list[tuple[str, dict]]:
    return [
        (QUALIFICATION, {"part": "requirement", "required_framework": "BANT"}),
        (QUALIFICATION, {"part": "item", "framework": "BANT", "key": "fit", "label": "Fit"}),
        (ASSIGNMENT, {"rules": json.dumps(rules(default_owner=None))}),
    ]


# ---------------------------------------------------------------------------------------
# Who may


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_reps_and_managers_get_403_and_change_nothing(client, role):
    assignment_rules_set(actor=None, rules=rules(web_entry(UserFactory())))
    client.force_login(UserFactory(role=role))
    before = state()

    for url in (QUALIFICATION, ASSIGNMENT):
        assert client.get(url).status_code == 403
    for url, data in posts():
        assert client.post(url, data).status_code == 403

    assert state() == before


def test_the_settings_index_and_navigation_link_both_pages(admin_client):
    page = text(admin_client.get("/settings/"))

    assert '<a href="/settings/qualification/">Qualification</a>' in page
    assert '<a href="/settings/assignment/">Assignment rules</a>' in page
    assert '" href="/settings/assignment/">Assignment rules</a>' in page  # sub-navigation


# ---------------------------------------------------------------------------------------
# Qualification


def test_an_admin_requires_a_framework_and_a_minimum(admin_client, admin):
    response = admin_client.post(
        QUALIFICATION,
        {"part": "requirement", "required_framework": "BANT", "minimum_items": "3"},
        follow=True,
    )

    setting = QualificationSetting.objects.get()
    assert (setting.required_framework.name, setting.minimum_items) == ("BANT", 3)
    assert "Saved the qualification requirement." in text(response)
    assert '<option value="BANT" selected>BANT</option>' in text(response)
    assert AuditEvent.objects.filter(actor=admin).count() == 1


def test_an_admin_turns_the_requirement_off(admin_client):
    qualification_settings_set(actor=None, required_framework="BANT", minimum_items=2)

    response = admin_client.post(
        QUALIFICATION, {"part": "requirement", "required_framework": "", "minimum_items": ""}
    )

    assert response.status_code == 302
    setting = QualificationSetting.objects.get()
    assert (setting.required_framework_id, setting.minimum_items) == (None, None)


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {"required_framework": "BANT", "minimum_items": "9"},
            "requirement-minimum_items",
            "1 to 4, or null for all items",
        ),
        (
            {"required_framework": "BANT", "minimum_items": "0"},
            "requirement-minimum_items",
            "1 to 4, or null for all items",
        ),
        (
            {"required_framework": "NOPE", "minimum_items": ""},
            "requirement-required_framework",
            "Expected one of BANT, CHAMP, MEDDIC, got &#x27;NOPE&#x27;",
        ),
        (
            {"required_framework": "BANT", "minimum_items": "two"},
            "requirement-minimum_items",
            "A whole number from 0 to 2000000000",
        ),
    ],
)
def test_a_refused_requirement_is_400_beside_its_input_and_changes_nothing(
    admin_client, data, input_id, message
):
    before = state()

    response = admin_client.post(QUALIFICATION, {"part": "requirement", **data})

    assert response.status_code == 400
    assert error_beside(response, input_id) == message
    assert state() == before


def test_an_admin_edits_an_item(admin_client):
    budget = QualificationItem.objects.get(framework__name="BANT", key="budget")

    form = admin_client.get(f"{QUALIFICATION}?edit={budget.pk}")
    response = admin_client.post(
        QUALIFICATION,
        {"part": "item", "edit": str(budget.pk), "label": "Money", "sort_order": "7"},
        follow=True,
    )

    assert "Edit the item “Budget” of BANT" in text(form)
    budget.refresh_from_db()
    assert (budget.key, budget.label, budget.sort_order, budget.is_active) == (
        "budget",
        "Money",
        7,
        False,
    )
    assert "Saved the item “Money”." in text(response)


def test_an_admin_adds_an_item(admin_client):
    response = admin_client.post(
        QUALIFICATION,
        {
            "part": "item",
            "framework": "CHAMP",
            "key": "timing",
            "label": "Timing",
            "sort_order": "",
            "is_active": "on",
        },
        follow=True,
    )

    item = QualificationItem.objects.get(framework__name="CHAMP", key="timing")
    assert (item.label, item.is_active) == ("Timing", True)
    assert "Saved the item “Timing”." in text(response)
    assert "<td><code>timing</code></td>" in text(response)


@pytest.mark.parametrize(
    ("data", "input_id", "message"),
    [
        (
            {"framework": "BANT", "key": "Bad Key", "label": "Bad"},
            "item-key",
            "Lowercase letters, digits and underscores, a letter first, at most 40",
        ),
        (
            {"framework": "BANT", "key": "budget", "label": "Again"},
            "item-key",
            "The item &#x27;budget&#x27; exists; change it from the list",
        ),
        (
            {"framework": "BANT", "key": "fit", "label": ""},
            "item-label",
            "1 to 80 characters",
        ),
        (
            {"framework": "", "key": "fit", "label": "Fit"},
            "item-framework",
            "Expected one of BANT, CHAMP, MEDDIC, got &#x27;&#x27;",
        ),
        (
            {"framework": "BANT", "key": "fit", "label": "Fit", "sort_order": "-1"},
            "item-sort_order",
            "A whole number from 0 to 100000",
        ),
    ],
)
def test_a_refused_item_is_400_beside_its_input_and_changes_nothing(
    admin_client, data, input_id, message
):
    before = state()

    response = admin_client.post(QUALIFICATION, {"part": "item", **data})

    assert response.status_code == 400
    assert error_beside(response, input_id) == message
    assert state() == before


def test_an_edit_emptying_the_label_is_refused(admin_client):
    budget = QualificationItem.objects.get(framework__name="BANT", key="budget")
    before = state()

    response = admin_client.post(
        QUALIFICATION, {"part": "item", "edit": str(budget.pk), "label": " "}
    )

    assert response.status_code == 400
    assert error_beside(response, "item-label") == "1 to 80 characters"
    assert state() == before


def test_an_unknown_item_or_form_is_404(admin_client):
    assert admin_client.get(f"{QUALIFICATION}?edit=999999").status_code == 404
    assert admin_client.get(f"{QUALIFICATION}?edit=x").status_code == 404
    assert admin_client.post(QUALIFICATION, {"part": "other"}).status_code == 404


def test_an_item_label_with_a_script_renders_as_text(admin_client):
    qualification_item_set(actor=None, framework="BANT", key="budget", label=XSS)
    budget = QualificationItem.objects.get(framework__name="BANT", key="budget")

    page = text(admin_client.get(f"{QUALIFICATION}?edit={budget.pk}"))

    assert XSS not in page
    assert f"<td>{ESCAPED}</td>" in page
    assert f'value="{ESCAPED}"' in page


# ---------------------------------------------------------------------------------------
# Assignment rules


def test_the_rules_are_shown_in_words_and_as_the_apis_json(admin_client):
    owner = UserFactory(first_name="Dee", last_name="Fault")
    solo = UserFactory(first_name="Sol", last_name="Seller")
    pool = [
        UserFactory(first_name="Pat", last_name="One"),
        UserFactory(first_name="Pam", last_name="Two"),
    ]
    queue = QueueFactory(name="Web leads")
    assignment_rules_set(
        actor=None,
        rules=rules(
            web_entry(solo),
            {
                "criteria": [
                    {"field": "industry", "operator": "in", "value": ["Banking", "Retail"]},
                    {"field": "company", "operator": "blank", "value": True},
                ],
                "match": "any",
                "assign_to": {"kind": "queue", "queue_id": queue.public_id},
            },
            {
                "criteria": [],
                "assign_to": {
                    "kind": "round_robin",
                    "user_ids": [user.public_id for user in pool],
                    "capacity": 3,
                },
            },
            default_owner=owner,
        ),
    )

    page = text(admin_client.get(ASSIGNMENT))

    rows = re.findall(r"<tr>\s*(.*?)\s*</tr>", page, re.DOTALL)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    assert [cell for cell in cells if cell] == [
        ["1", "lead_source equals &#x27;Web&#x27;", "User", "Sol Seller", ""],
        [
            "2",
            "industry is one of &#x27;Banking&#x27;, &#x27;Retail&#x27; or company is blank",
            "Queue",
            "Web leads",
            "",
        ],
        ["3", "no criteria (every lead)", "Round-robin", "Pat One, Pam Two", "3"],
    ]
    assert "Dee Fault</p>" in page or "Dee Fault." in page
    textarea = re.search(r'<textarea[^>]*id="rules-rules"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    shown = textarea.group(1).replace("&quot;", '"')
    assert json.loads(shown) == assignment_rules_json()
    assert '\n  "default_owner_id"' in shown  # pretty: indented
    assert '<button class="btn btn-primary" type="submit">Save the rules</button>' in page


def test_without_rules_the_page_says_so(admin_client):
    page = text(admin_client.get(ASSIGNMENT))

    assert "No assignment rules are active" in page
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.DOTALL).group(1)
    assert json.loads(shown.replace("&quot;", '"')) == {"default_owner_id": None, "entries": []}


def test_an_admin_saves_the_rules(admin_client):
    seller = UserFactory(first_name="Sam", last_name="Seller")
    posted = rules(web_entry(seller), default_owner=seller)

    response = admin_client.post(ASSIGNMENT, {"rules": json.dumps(posted, indent=2)}, follow=True)

    assert "Saved the assignment rules." in text(response)
    assert assignment_rules_json() == posted
    entry = AssignmentRuleEntry.objects.get(rule_set__is_active=True)
    assert (entry.kind, entry.user) == ("user", seller)


def test_no_entries_and_no_default_turn_the_rules_off(admin_client):
    assignment_rules_set(actor=None, rules=rules(web_entry(UserFactory())))

    response = admin_client.post(ASSIGNMENT, {"rules": json.dumps(rules())}, follow=True)

    assert "the assignment rules are off" in text(response)
    assert not AssignmentRuleSet.objects.filter(is_active=True).exists()


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        (
            json.dumps(
                rules(
                    {
                        "criteria": [{"field": "lead_source", "operator": "near", "value": "W"}],
                        "assign_to": {"kind": "user", "user_id": "x"},
                    }
                )
            ),
            "entries[0].criteria[0].operator: &#x27;near&#x27; is not one of equals, in, "
            "contains, starts_with, greater_than, less_than, blank",
        ),
        (
            json.dumps(rules({"criteria": [], "assign_to": {"kind": "round_robin"}})),
            "entries[0].assign_to.user_ids: a pool takes a non-empty list of user ids",
        ),
        (
            json.dumps({"entries": [], "owner": None}),
            "owner: not a key of the rules (default_owner_id, entries)",
        ),
        ("[1, 2]", "rules must be a JSON object"),
        (
            "{entries",
            "rules is not JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
    ],
)
def test_refused_rules_are_400_above_the_textarea_and_change_nothing(admin_client, posted, message):
    assignment_rules_set(actor=None, rules=rules(web_entry(UserFactory())))
    before = state()

    response = admin_client.post(ASSIGNMENT, {"rules": posted})

    assert response.status_code == 400
    page = text(response)
    assert error_beside(response, "rules-rules") == message
    assert page.index('id="rules-rules-error"') < page.index("<textarea")
    assert state() == before


def test_criteria_with_a_script_render_as_text(admin_client):
    entry = web_entry(UserFactory(first_name=XSS))
    entry["criteria"][0]["value"] = XSS
    assignment_rules_set(actor=None, rules=rules(entry))

    page = text(admin_client.get(ASSIGNMENT))

    assert XSS not in page
    assert f"lead_source equals &#x27;{ESCAPED}&#x27;" in page


# ---------------------------------------------------------------------------------------
# Both pages


@pytest.mark.parametrize("url", [QUALIFICATION, ASSIGNMENT])
def test_every_input_is_labelled_and_every_form_has_a_csrf_token(admin_client, url):
    budget = QualificationItem.objects.get(framework__name="BANT", key="budget")
    for address in (url, f"{url}?edit={budget.pk}"):
        page = text(admin_client.get(address))
        controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
        ids = [
            re.search(r'id="([^"]+)"', control).group(1)
            for control in controls
            if 'type="hidden"' not in control and 'type="search"' not in control
        ]
        assert ids
        for input_id in ids:
            assert f'for="{input_id}"' in page, input_id
        assert page.count('<form method="post"') == page.count("csrfmiddlewaretoken")


@pytest.mark.parametrize(("url", "data"), posts())
def test_a_post_without_the_csrf_token_is_refused(admin, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    before = state()

    assert client.post(url, data).status_code == 403
    assert state() == before


def test_the_qualification_page_costs_the_same_for_5_and_50_items(admin_client):
    def add(start, count):
        for number in range(start, start + count):
            qualification_item_set(
                actor=None, framework="MEDDIC", key=f"extra_{number}", label=f"Extra {number}"
            )

    add(0, 5)
    with_5 = queries_of(admin_client, QUALIFICATION)
    add(5, 45)
    assert len(qualification_configuration.get().framework("MEDDIC").items) >= 50
    assert queries_of(admin_client, QUALIFICATION) == with_5


def test_the_assignment_page_costs_the_same_for_5_and_50_entries(admin_client):
    users = [UserFactory() for _ in range(3)]
    queue = QueueFactory()
    kinds = [
        {"kind": "user", "user_id": users[0].public_id},
        {"kind": "queue", "queue_id": queue.public_id},
        {"kind": "round_robin", "user_ids": [user.public_id for user in users], "capacity": 2},
        {"kind": "least_loaded", "user_ids": [users[1].public_id], "capacity": None},
    ]

    def save(count):
        entries = [
            {"criteria": [], "assign_to": kinds[number % len(kinds)]} for number in range(count)
        ]
        assignment_rules_set(actor=None, rules=rules(*entries, default_owner=users[2]))

    save(5)
    with_5 = queries_of(admin_client, ASSIGNMENT)
    save(50)
    assert queries_of(admin_client, ASSIGNMENT) == with_5
