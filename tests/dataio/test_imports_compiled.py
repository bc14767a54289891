"""The import's fast path (dataio/imports/compiled.py) and the checks made faster for it.

The compiled per-column checks must accept exactly the rows the general path accepts,
with the same values, and leave every refused row to the general path (its error lines).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from dealflow.core import matching, validation
from dealflow.dataio.imports import compiled
from dealflow.dataio.models import ImportRowError
from dealflow.leads.models import Lead
from tests.dataio.test_imports import admin, counts, run, write_csv  # noqa: F401

pytestmark = pytest.mark.django_db

HEADER = [
    "FirstName",
    "LastName",
    "Company",
    "Email",
    "Phone",
    "Status",
    "LeadSource",
    "Rating",
    "DoNotCall",
    "AnnualRevenue",
    "NumberOfEmployees",
    "OwnerId",
    "Title",
]
ROWS = [
    # accepted
    ["Ann", "Lee", "Acme", "ann@acme.test", "+1 (555) 010-2000", "", "Web", "", "", "", "", "", ""],
    [
        "Chloé",
        "Müller",
        "Straße AG",
        "Chloe@München.example",
        "٠١٢٣",
        "Working - Contacted",
        "",
        "Hot",
        "yes",
        "1234.565",
        "12",
        "boss",
        "  CEO  ",
    ],
    [
        "",
        "Tanaka",
        "\uff21\uff23\uff2d\uff25",
        "bob@XN--MNCHEN-3YA.example",
        "",
        "",
        "Web",
        "Cold",
        "0",
        "7",
        "",
        "",
        "Ingénieur",
    ],
    # Django's email validator refuses a space even quoted: refused
    [
        "Zoë",
        "O'Brien",
        "L'Oréal S.A.",
        '"a b"@quoted.test',
        "555",
        "",
        "",
        "",
        "no",
        "",
        "0",
        "",
        "",
    ],
    ["Ann", "Lee2", "Acme", "ANN2@ACME.TEST", "", "", "Web", "", "", "", "", "", ""],
    ["   ", "Rossi", "Acme", "", "", "", "", "", "", "", "", "", ""],
    # refused, each for one reason (or two), but rows 4 and 12
    ["Eve", "Look", "Alike", "eve@fict\u0456ve.example", "", "", "", "", "", "", "", "", ""],
    ["Eve", "Look", "Alike", "eve@xn--fictve-6nf.example", "", "", "", "", "", "", "", "", ""],
    ["Bad", "Mail", "Acme", "not-an-email", "", "", "", "", "", "", "", "", ""],
    ["Bad", "Mail", "Acme", "a@b@c", "", "", "", "", "", "", "", "", ""],
    ["Hid", "Den\u200b", "Acme", "", "", "", "", "", "", "", "", "", ""],
    # a control character is not a hidden (format) one: accepted, as the services do
    ["Ctl", "Char\x01s", "Acme", "", "", "", "", "", "", "", "", "", ""],
    ["No", "Company", "   ", "", "", "", "", "", "", "", "", "", ""],
    ["Bad", "Status", "Acme", "", "", "Nope", "", "", "", "", "", "", ""],
    ["Conv", "Status", "Acme", "", "", "Closed - Converted", "", "", "", "", "", "", ""],
    ["Bad", "Pick", "Acme", "", "", "", "Carrier pigeon", "Lukewarm", "", "", "", "", ""],
    ["Bad", "Bool", "Acme", "", "", "", "", "", "maybe", "", "", "", ""],
    ["Bad", "Money", "Acme", "", "", "", "", "", "", "abc", "-1", "", ""],
    ["Bad", "Owner", "Acme", "", "", "", "", "", "", "", "", "nobody", ""],
    ["x" * 41, "Long", "Acme", "", "", "", "", "", "", "", "", "", ""],
    ["Ragged", "Row"],
]
ACCEPTED = 6


def _snapshot():
    skip = {"id", "created_at", "updated_at"}
    names = [field.attname for field in Lead._meta.concrete_fields if field.attname not in skip]
    leads = [tuple(getattr(lead, name) for name in names) for lead in Lead.objects.order_by("pk")]
    errors = list(
        ImportRowError.objects.order_by("row_number", "id").values_list(
            "row_number", "field", "value", "code", "message"
        )
    )
    return leads, errors


def test_the_compiled_path_and_the_general_path_import_a_file_alike(admin, tmp_path, monkeypatch):  # noqa: F811
    path = write_csv(tmp_path, [HEADER, *ROWS])
    taken: list[int] = []
    real = compiled.CompiledRows.record

    def spied(self, row, pure=None):
        result = real(self, row, pure)
        if result is not None:
            taken.append(row.number)
        return result

    monkeypatch.setattr(compiled.CompiledRows, "record", lambda self, row, pure=None: None)
    general = run(admin, "leads", path)
    assert counts(general) == (len(ROWS), ACCEPTED, 0, 0, len(ROWS) - ACCEPTED)
    general_leads, general_errors = _snapshot()
    Lead.objects.all().delete()
    ImportRowError.objects.all().delete()

    monkeypatch.setattr(compiled.CompiledRows, "record", spied)
    fast = run(admin, "leads", path)

    assert counts(fast) == counts(general)
    assert taken == [1, 2, 3, 5, 6, 12]  # every accepted row, and no other
    fast_leads, fast_errors = _snapshot()
    assert fast_leads == general_leads
    assert fast_errors == general_errors
    second = Lead.objects.get(last_name="Müller")
    assert (second.email, second.email_key, second.phone_digits) == (
        "Chloe@München.example",
        "chloe@münchen.example",
        "0123",
    )
    assert (second.status.name, second.do_not_call, str(second.annual_revenue)) == (
        "Working - Contacted",
        True,
        "1234.57",
    )
    assert (second.title, second.number_of_employees) == ("CEO", 12)
    third = Lead.objects.get(last_name="Tanaka")
    assert third.email_key == "bob@münchen.example"
    rows = [4, 7, 8, 9, 10, 11, 13, 14, 15, 16, 16, 17, 18, 18, 19, 20, 21]
    assert [row for row, *_ in fast_errors] == rows


EMAILS = [
    "ann@acme.test",
    "Ann.Lee+tag@Acme.Test",
    "a..b@acme.test",
    ".a@acme.test",
    '"a b"@acme.test',
    '"a\\"b"@acme.test',
    "a@localhost",
    "a@[127.0.0.1]",
    "a@[::1]",
    "a@[999.1.1.1]",
    "a@acme",
    "a@-acme.test",
    "a@acme.t",
    "a@acme.test.",
    "a@münchen.example",
    "a@xn--mnchen-3ya.example",
    "@acme.test",
    "a@",
    "no at sign",
    "",
    "a" * 310 + "@acme.test",
    "a" * 65 + "@acme.test",
    "a b@acme.test",
    "ä@acme.test",
]


@pytest.mark.parametrize("value", EMAILS)
def test_is_email_agrees_with_djangos_validate_email(value):
    try:
        validate_email(value)
        expected = True
    except ValidationError:
        expected = False

    assert validation.is_email(value) is expected


TEXTS = ["  Ann Lee ", "", "   ", "\t", "O'Brien", "x\x01y", "Ann\u200bLee", "Zoë", "\u200b"]


@pytest.mark.parametrize("value", TEXTS)
@pytest.mark.parametrize("kind", ["string", "email", "phone", "textarea"])
def test_the_ascii_shortcut_of_text_cleaning_changes_no_result(value, kind):
    from dealflow.core.metadata import get_object

    field_def = (
        next(
            each for each in get_object("Lead").fields if each.type == kind and each.name != "email"
        )
        if kind != "email"
        else get_object("Lead").field("email")
    )

    def general(text):  # the checks the shortcut skips, made in full
        text = validation.check_storable_text(field_def.public_name, text).strip()
        if not any(validation._is_visible(character) for character in text):
            return ""
        if field_def.type != "textarea":  # free text keeps them
            validation._check_hidden_characters(field_def, text)
        return text

    try:
        expected = ("ok", general(value))
    except validation.DomainError as error:
        expected = ("refused", error.message)
    if kind == "email" and expected[0] == "ok" and expected[1]:
        expected = ("refused", f"email: {expected[1]!r} is not an email address")
    try:
        got = ("ok", validation._clean_string(field_def, value))
    except validation.DomainError as error:
        got = ("refused", error.message)

    assert got == expected


@pytest.mark.parametrize(
    ("domain", "label"),
    [
        ("acme.test", None),
        ("ACME.test", None),
        ("xn--mnchen-3ya.example", None),
        ("XN--FICTVE-SVF.example", "fict\u0456ve"),
        ("fict\u0456ve.example", "fict\u0456ve"),
        ("日本.jp", None),
        ("xn--bad.com", None),
    ],
)
def test_mixed_script_label_with_its_ascii_shortcut_and_memory(domain, label):
    matching.mixed_script_label.cache_clear()
    assert matching.mixed_script_label(domain) == label
    assert matching.mixed_script_label(domain) == label  # remembered, the same


@pytest.mark.parametrize(
    ("text", "key"),
    [("  ANN Lee ", "ann lee"), ("Straße", "strasse"), ("ΣΊΣΥΦΟΣ", "σίσυφοσ"), ("", "")],
)
def test_fold_with_its_ascii_shortcut(text, key):
    assert matching.fold(text) == key


@pytest.mark.parametrize(
    ("value", "digits"),
    [("+1 (555) 010-2000", "15550102000"), ("٠١٢ x 3", "0123"), ("abc", ""), ("", "")],
)
def test_phone_digits_with_its_ascii_shortcut(value, digits):
    assert matching.phone_digits(value) == digits


def _filed():
    from dealflow.duplicates.models import DuplicateKey

    return sorted(
        DuplicateKey.objects.filter(object_type="Lead").values_list("record_id", "kind", "value")
    )


def _expected():
    from dealflow.duplicates.keys import keys_of_records

    return sorted(keys_of_records("Lead", Lead.objects.order_by("pk")))


def test_imported_leads_are_filed_under_their_duplicate_keys_and_revert_unfiles_them(
    admin,  # noqa: F811
    tmp_path,
):
    from dealflow.dataio.services import import_revert
    from dealflow.duplicates.services import duplicate_keys_write
    from tests.dataio.test_imports import duplicates_file
    from tests.factories import LeadFactory

    existing = LeadFactory(
        email="ann@acme.test", first_name="Annie", last_name="Lee", company="Acme", phone=""
    )
    duplicate_keys_write(object_name="Lead", record=existing, created=True)
    before = _filed()
    assert ("name", "lee|a") in {(kind, value) for _id, kind, value in before}

    job = run(admin, "leads", duplicates_file(tmp_path), on_duplicate="update")

    assert counts(job) == (3, 1, 2, 0, 0)
    bo = Lead.objects.get(last_name="Ray")
    assert _filed() == _expected()
    assert (bo.pk, "company_person", "beta|b") in _filed()
    assert (bo.pk, "email", "bo@beta.test") in _filed()

    import_revert(actor=admin, job_id=job.pk)

    assert not Lead.objects.filter(pk=bo.pk).exists()
    assert _filed() == before  # the created lead unfiled, the updated one refiled


def _dupkeys_by_row():
    from dealflow.duplicates.models import DuplicateKey

    numbers = {lead.pk: lead.last_name for lead in Lead.objects.all()}
    return sorted(
        (numbers[record_id], kind, value)
        for record_id, kind, value in DuplicateKey.objects.filter(object_type="Lead").values_list(
            "record_id", "kind", "value"
        )
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("on_duplicate", ["skip", "update"])
def test_the_second_process_changes_nothing_in_what_an_import_writes(
    tmp_path, monkeypatch, on_duplicate
):
    from dealflow.dataio.imports import precheck
    from dealflow.people.models import Role
    from tests.factories import UserFactory

    boss = UserFactory(username="boss", role=Role.ADMIN)
    again = [
        # the same emails as rows 1 and 2 (another case): in the same batch as row 1,
        # and in a later batch than row 2
        [
            "Annie",
            "Lee3",
            "Acme",
            "ANN@acme.test",
            "+1 555 010 2001",
            "",
            "Web",
            "",
            "",
            "",
            "",
            "",
            "CFO",
        ],
        *ROWS[6:],
        [
            "Chlo",
            "Müller2",
            "Straße AG",
            "chloe@MÜNCHEN.example",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    path = write_csv(tmp_path, [HEADER, *ROWS[:6], *again])
    monkeypatch.setattr(precheck, "MIN_BYTES", 0)
    used: list[int] = []
    real = precheck.Prechecker.results

    def spied(self, batch):
        result = real(self, batch)
        used.append(result is not None)
        return result

    monkeypatch.setattr(precheck.Prechecker, "results", spied)
    ahead = run(boss, "leads", path, batch_size=7, on_duplicate=on_duplicate)
    assert used == [True, True, True, True]  # 24 rows in batches of 7: each checked ahead
    with_second = (counts(ahead), _snapshot(), _dupkeys_by_row())
    from dealflow.duplicates.models import DuplicateKey

    Lead.objects.all().delete()
    DuplicateKey.objects.all().delete()
    ImportRowError.objects.all().delete()
    monkeypatch.setattr(precheck, "ENABLED", False)
    alone = run(boss, "leads", path, batch_size=7, on_duplicate=on_duplicate)

    assert used == [True, True, True, True]  # not used again
    assert (counts(alone), _snapshot(), _dupkeys_by_row()) == with_second
    created, updated = (6, 0) if on_duplicate == "skip" else (6, 2)
    assert counts(alone)[1:3] == (created, updated)
