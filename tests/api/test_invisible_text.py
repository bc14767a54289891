"""Invisible and look-alike text: refused where it names or reaches someone, kept in free text."""

import pytest

from dealflow.accounts.models import Account, Contact
from dealflow.leads.models import Lead

pytestmark = pytest.mark.django_db

NEW_LEAD = {"last_name": "Rosa", "company": "Fictive"}


def _error(response):
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    return error["code"], error["fields"], error["message"]


@pytest.mark.parametrize(
    "last_name", ["\u200b\ufeff", "\u200b", " \u2060 ", "\u202e", "\u0301", "\u3000"]
)
def test_required_text_needs_a_visible_character(api, last_name):
    code, fields, _message = _error(api.post("/leads", {**NEW_LEAD, "last_name": last_name}))
    assert (code, fields) == ("REQUIRED_FIELD_MISSING", ["last_name"])
    assert Lead.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("last_name", "Smith\u202egnp.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("last_name", "Ro\u200bsa", "U+200B ZERO WIDTH SPACE"),
        ("first_name", "\ufeffAna", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("company", "Acme\u2066 Inc", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("title", "CEO\u200f", "U+200F RIGHT-TO-LEFT MARK"),
        ("phone", "555\u200d0100", "U+200D ZERO WIDTH JOINER"),
        ("email", "rosa@fict\u200bive.example", "U+200B ZERO WIDTH SPACE"),
        ("email", "ro\u200csa@fictive.example", "U+200C ZERO WIDTH NON-JOINER"),
    ],
)
def test_zero_width_and_bidi_controls_are_refused_in_names_emails_and_phones(
    api, field, value, named
):
    code, fields, message = _error(api.post("/leads", {**NEW_LEAD, field: value}))
    assert (code, fields) == ("INVALID_TYPE", [field])
    assert named in message
    assert Lead.objects.count() == 0


def test_refused_on_update_too_and_nothing_changes(api):
    lead = api.post("/leads", NEW_LEAD).json()
    response = api.patch(f"/leads/{lead['id']}", {"last_name": "Smith\u202egnp.exe"})
    assert _error(response)[:2] == ("INVALID_TYPE", ["last_name"])
    assert Lead.objects.get().last_name == "Rosa"


def test_every_object_refuses_them(api):
    assert _error(api.post("/accounts", {"name": "Acme\u202e"}))[:2] == ("INVALID_TYPE", ["name"])
    assert _error(api.post("/contacts", {"last_name": "\u200bNg"}))[:2] == (
        "INVALID_TYPE",
        ["last_name"],
    )
    assert (Account.objects.count(), Contact.objects.count()) == (0, 0)


def test_free_text_and_real_spellings_keep_them(api):
    body = {
        **NEW_LEAD,
        # Persian spells with the zero-width non-joiner; emoji sequences use the joiner.
        "last_name": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # می‌خواهم
        "first_name": "👩\u200d💻",
        "description": "Quote: \u202eexe.txt\u202c and a\u200bb",
    }
    response = api.post("/leads", body)
    assert response.status_code == 201, response.content
    lead = Lead.objects.get()
    assert (lead.last_name, lead.first_name, lead.description) == (
        body["last_name"],
        body["first_name"],
        body["description"],
    )


@pytest.mark.parametrize(
    ("email", "scripts"),
    [
        ("rosa@fictiv\u0435.example", "Cyrillic and Latin"),  # a Cyrillic ie
        ("rosa@xn--fictiv-8of.example", "Cyrillic and Latin"),  # the same, as an A-label
        ("rosa@p\u0430ypal.example", "Cyrillic and Latin"),  # a Cyrillic a
        ("rosa@\u03b1lpha.example", "Greek and Latin"),  # a Greek alpha
    ],
)
def test_email_domains_mixing_scripts_are_refused(api, email, scripts):
    api.post("/leads", {**NEW_LEAD, "email": "rosa@fictive.example"})
    code, fields, message = _error(api.post("/leads", {**NEW_LEAD, "email": email}))
    assert (code, fields) == ("INVALID_EMAIL_ADDRESS", ["email"])
    assert f"mixes {scripts} letters" in message
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "email",
    [
        "taro@日本語かな.jp",  # Han with Hiragana: one writing system (UTS 39)
        "ana@münchen.example",
        "boris@пример.рф",
        "kim@한국.kr",
    ],
)
def test_single_script_and_cjk_domains_are_accepted(api, email):
    response = api.post("/leads", {**NEW_LEAD, "email": email})
    assert response.status_code == 201, response.content
    assert Lead.objects.get().email == email


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/leads", NEW_LEAD),
        ("/accounts", {"name": "Acme"}),
        ("/contacts", {"last_name": "Ng"}),
        ("/opportunities", {"name": "D", "close_date": "2026-12-31", "stage_name": "Prospecting"}),
    ],
)
def test_description_holds_32000_characters_as_salesforces_does(api, path, body):
    created = api.post(path, {**body, "description": "x" * 32_000})
    assert created.status_code == 201, created.content
    code, fields, message = _error(api.post(path, {**body, "description": "x" * 32_001}))
    assert (code, fields) == ("STRING_TOO_LONG", ["description"])
    assert message == "description: at most 32000 characters, got 32001"
    response = api.patch(f"{path}/{created.json()['id']}", {"description": "y" * 2_400_000})
    assert _error(response)[:2] == ("STRING_TOO_LONG", ["description"])
