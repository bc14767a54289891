"""Numbers are exact on SQLite and PostgreSQL: stored, read, listed, summed and refused alike."""

from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealflow.accounts.models import Account
from dealflow.core.fields import ExactSum
from dealflow.leads.models import Lead
from dealflow.sales.models import Opportunity, expected_revenue
from dealflow.sales.services import opportunity_create
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

LARGEST = "9999999999999999.99"  # 18 digits, 2 after the point
# (path, body without the number, field): every decimal, currency, percent and int field.
NUMERIC_FIELDS = [
    ("/leads", {"last_name": "Ng", "company": "Acme"}, "annual_revenue"),
    ("/accounts", {"name": "Acme"}, "annual_revenue"),
    (
        "/opportunities",
        {"name": "Deal", "close_date": "2026-12-31", "stage_name": "Prospecting"},
        "amount",
    ),
]
MODELS = {"/leads": Lead, "/accounts": Account, "/opportunities": Opportunity}


def _created(api, path, body):
    response = api.post(path, body)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(("path", "body", "field"), NUMERIC_FIELDS)
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (LARGEST, LARGEST),
        ("-" + LARGEST, "-" + LARGEST),
        ("12345678901234.56", "12345678901234.56"),
        ("0.125", "0.13"),  # half up, as Salesforce rounds (half-even would give 0.12)
        ("0.135", "0.14"),
        ("-0.125", "-0.13"),
        (0.125, "0.13"),  # a JSON number is taken as written, not as its binary float
        ("-0.001", "0.00"),  # never -0.00
        ("9999999999999999.994", LARGEST),  # rounds into range
        ("1E+3", "1000.00"),
    ],
)
def test_currency_fields_store_exactly_and_round_half_up(api, path, body, field, sent, stored):
    created = _created(api, path, {**body, field: sent})
    assert created[field] == stored
    record_id = created["id"]
    assert api.get(f"{path}/{record_id}").json()[field] == stored
    listed = api.get(path).json()["records"]
    assert [record[field] for record in listed if record["id"] == record_id] == [stored]
    model = MODELS[path]
    assert getattr(model.objects.get(), field) == Decimal(stored)
    patched = api.patch(f"{path}/{record_id}", {field: sent})
    assert patched.status_code == 200, patched.content
    assert api.delete(f"{path}/{record_id}").status_code == 204


@pytest.mark.parametrize(("path", "body", "field"), NUMERIC_FIELDS)
@pytest.mark.parametrize(
    "sent", ["10000000000000000", "9999999999999999.995", "-10000000000000000.00", "1e400"]
)
def test_currency_beyond_the_range_is_refused_naming_the_limits(api, path, body, field, sent):
    response = api.post(path, {**body, field: sent})
    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["fields"]) == ("NUMBER_OUTSIDE_VALID_RANGE", [field])
    assert f"between -{LARGEST} and {LARGEST}" in error["message"]
    assert MODELS[path].objects.count() == 0


@pytest.mark.parametrize(
    ("sent", "stored", "code"),
    [
        (0, 0, None),
        (100, 100, None),
        (50.5, 51, None),  # a percent rounds half up to a whole number
        ("49.5", 50, None),
        (100.4, 100, None),
        (-0.4, 0, None),
        (100.5, None, "NUMBER_OUTSIDE_VALID_RANGE"),
        (101, None, "NUMBER_OUTSIDE_VALID_RANGE"),
        (-1, None, "NUMBER_OUTSIDE_VALID_RANGE"),
        ("many", None, "INVALID_TYPE"),
    ],
)
def test_probability_is_a_whole_percent_from_0_to_100(api, sent, stored, code):
    body = {"name": "Deal", "close_date": "2026-12-31", "stage_name": "Prospecting"}
    response = api.post("/opportunities", {**body, "probability": sent})
    if code is None:
        assert response.status_code == 201, response.content
        assert response.json()["probability"] == stored
        assert Opportunity.objects.get().probability == stored
    else:
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert (error["code"], error["fields"]) == (code, ["probability"])
        assert Opportunity.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "body"), [("/leads", NUMERIC_FIELDS[0][1]), ("/accounts", {"name": "A"})]
)
@pytest.mark.parametrize(
    ("sent", "stored", "code"),
    [
        (2_000_000_000, 2_000_000_000, None),
        ("17", 17, None),
        (2_000_000_001, None, "NUMBER_OUTSIDE_VALID_RANGE"),
        (-1, None, "NUMBER_OUTSIDE_VALID_RANGE"),
        (2.5, None, "INVALID_TYPE"),  # a head count has no fraction to round
    ],
)
def test_number_of_employees_is_a_whole_number_within_its_range(
    api, path, body, sent, stored, code
):
    response = api.post(path, {**body, "number_of_employees": sent})
    if code is None:
        assert response.status_code == 201, response.content
        assert response.json()["number_of_employees"] == stored
    else:
        error = response.json()["errors"][0]
        assert (response.status_code, error["code"], error["fields"]) == (
            400,
            code,
            ["number_of_employees"],
        )
        assert MODELS[path].objects.count() == 0


def test_expected_revenue_rounds_half_up():
    assert expected_revenue(Decimal("10.01"), 75) == Decimal("7.51")  # 7.5075
    assert expected_revenue(Decimal("0.25"), 50) == Decimal("0.13")  # 0.125, not 0.12
    assert expected_revenue(Decimal("-0.01"), 10) == Decimal("0.00")  # not -0.00
    assert str(expected_revenue(Decimal("-0.01"), 10)) == "0.00"
    assert expected_revenue(None, 50) is None


def test_sums_and_order_are_exact_beyond_64_bits(actor):
    amounts = [Decimal(LARGEST)] * 3 + [Decimal("0.01"), Decimal("-12345678901234.56")]
    for amount in amounts:
        opportunity_create(
            actor=actor,
            data={
                "name": "D",
                "close_date": "2026-12-31",
                "stage": "Prospecting",
                "amount": amount,
            },
        )
    total = Opportunity.objects.aggregate(total=ExactSum("amount"))["total"]
    assert total == sum(amounts) == Decimal("29987654321098765.42")
    assert list(
        Opportunity.objects.order_by("amount", "id").values_list("amount", flat=True)
    ) == sorted(amounts)
    assert Opportunity.objects.filter(amount__gt=Decimal("0.005")).count() == 4


def test_a_value_no_number_reads_as_null_instead_of_failing(api, actor, is_postgres):
    """However a value got into the database, reading and listing do not fail."""
    record_id = _created(api, "/accounts", {"name": "Acme", "annual_revenue": "10.00"})["id"]
    if not is_postgres:  # PostgreSQL's NUMERIC column cannot hold anything but a number
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_account SET annual_revenue = 'lots'")
        assert api.get(f"/accounts/{record_id}").json()["annual_revenue"] is None
        assert api.get("/accounts").json()["records"][0]["annual_revenue"] is None
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_account SET annual_revenue = 1e30")
        assert (
            api.get(f"/accounts/{record_id}").json()["annual_revenue"]
            == "10000000000000000000000000000.00"
        )
    assert api.delete(f"/accounts/{record_id}").status_code == 204


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.decimals(
            min_value=Decimal("-" + LARGEST),
            max_value=Decimal(LARGEST),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_amount_that_fits_round_trips_and_sums_exactly(actor, amounts):
    api = ApiClient(actor)
    Opportunity.objects.all().delete()
    created = []
    for amount in amounts:
        body = {
            "name": "Deal",
            "close_date": "2026-12-31",
            "stage_name": "Prospecting",
            "amount": str(amount),
        }
        record = _created(api, "/opportunities", body)
        expected = f"{amount:.2f}" if amount else "0.00"
        assert record["amount"] == expected
        assert api.get(f"/opportunities/{record['id']}").json()["amount"] == expected
        created.append(Decimal(expected))
    listed = api.get("/opportunities", limit=200).json()["records"]
    assert sorted(Decimal(record["amount"]) for record in listed) == sorted(created)
    assert Opportunity.objects.aggregate(total=ExactSum("amount"))["total"] == sum(created)
