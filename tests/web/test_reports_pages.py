"""The dashboard (/reports/) and the reports' CSV downloads, through Django's test client.

Fixture: Robin (a rep) and Olive (another rep) with leads and open deals; sharing is
private, so Robin's dashboard counts Robin's records only and an admin's counts all.
"""

from __future__ import annotations

import datetime
import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.leads.models import Lead
from dealflow.leads.selectors import NO_LEAD_SOURCE, lead_page
from dealflow.people.models import Role
from dealflow.reports.models import DashboardFigures
from dealflow.sales.models import OpportunityStage
from dealflow.sales.services import opportunity_create, opportunity_update
from dealflow.web.pages import as_rows
from tests.api.conftest import ApiClient
from tests.factories import LeadFactory, OpportunityFactory, TeamFactory, UserFactory
from tests.web.helpers import XSS, queries_of, text

pytestmark = pytest.mark.django_db

CHARTS = ("funnel", "pipeline", "forecast", "conversion")
EMPTY = ("stage_duration", "leaderboard", "stalled")


@pytest.fixture
def floor():
    team = TeamFactory(name="North")
    robin = UserFactory(
        username="robin", first_name="Robin", last_name="Rep", team=team, role=Role.REP
    )
    olive = UserFactory(username="olive", first_name="Olive", last_name="Other")
    admin = UserFactory(username="ada", role=Role.ADMIN, first_name="Ada", last_name="Admin")
    for owner, name, source, converted in (
        (robin, "Webb", "Web", True),
        (robin, "Webster", "Web", False),
        (robin, "Phelps", "Phone Inquiry", False),
        (olive, "Weaver", "Web", True),
        (olive, "Trader", "Trade Show", False),
    ):
        LeadFactory(owner_user=owner, last_name=name, lead_source=source, is_converted=converted)
    prospecting = OpportunityStage.objects.get(name="Prospecting")
    negotiation = OpportunityStage.objects.get(name="Negotiation/Review")
    close = datetime.date(2026, 12, 31)
    for owner, name, stage, amount, source in (
        (robin, "Robin small", prospecting, "1000.00", "Web"),
        (robin, "Robin phone", prospecting, "700.00", "Phone Inquiry"),
        (robin, "Robin big", negotiation, "2500.50", "Web"),
        (olive, "Olive first", prospecting, "4000.00", "Web"),
    ):
        OpportunityFactory(
            owner=owner, name=name, stage=stage, amount=amount, close_date=close, lead_source=source
        )
    for object_name in ("Lead", "Opportunity", "Account"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    return {"robin": robin, "olive": olive, "admin": admin, "team": team}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chart(page: str, key: str) -> dict:
    """The JSON the page hands a chart (json_script)."""
    found = re.search(
        rf'<script id="chart-{key}-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, f"no chart {key}"
    return json.loads(found.group(1))


def panel(page: str, key: str) -> str:
    start = page.index(f'id="panel-{key}"')
    return page[start : page.index("</section>", start)]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_the_dashboard_draws_every_chart_for_an_admin(floor):
    response = signed_in(floor["admin"]).get("/reports/")

    assert response.status_code == 200
    page = text(response)
    for key in CHARTS:
        assert f'data-chart="chart-{key}-data"' in page
    # No stage history and no won deal: those panels say so instead of drawing empty axes.
    for key in EMPTY:
        assert "data-chart" not in panel(page, key)
        assert "Nothing to report under these filters." in panel(page, key)
    assert "vendor/echarts.min.js" in page and "web/reports.js" in page
    funnel = chart(page, "funnel")
    assert funnel["categories"] == ["Leads", "Converted"]
    assert funnel["series"][0]["values"] == [5, 2]
    pipeline = chart(page, "pipeline")
    assert pipeline["categories"] == ["Prospecting", "Negotiation/Review"]
    assert [series["name"] for series in pipeline["series"]] == ["Amount", "Weighted amount"]
    assert pipeline["series"][0]["values"] == [5700.0, 2500.5]
    # The table beside the chart has the exact figures.
    assert '<td class="text-nowrap">Prospecting</td><td class="text-end text-nowrap">3</td>' in page
    assert "5,700.00" in panel(page, "pipeline") and "2,250.45" in panel(page, "pipeline")


def test_an_empty_database_shows_every_panel_with_nothing_to_report(client):
    client.force_login(UserFactory(role=Role.ADMIN))

    page = text(client.get("/reports/"))

    assert "data-chart=" not in page
    assert page.count("Nothing to report under these filters.") == 7


def test_a_rep_sees_figures_of_their_own_records_only(floor):
    admin_page = text(signed_in(floor["admin"]).get("/reports/"))
    rep_page = text(signed_in(floor["robin"]).get("/reports/"))

    assert chart(admin_page, "funnel")["series"][0]["values"] == [5, 2]
    assert chart(rep_page, "funnel")["series"][0]["values"] == [3, 1]
    assert chart(rep_page, "pipeline")["series"][0]["values"] == [1700.0, 2500.5]
    assert chart(rep_page, "conversion")["categories"] == ["Phone Inquiry", "Web"]
    assert "Trade Show" not in panel(rep_page, "conversion")
    assert "Olive" not in rep_page.split('id="panel-funnel"')[1]


def test_filters_apply_to_every_panel_and_stay_in_the_form(floor):
    robin = floor["robin"]
    response = signed_in(floor["admin"]).get(
        "/reports/", {"owner_id": robin.public_id, "lead_source": "Web"}
    )

    page = text(response)
    assert chart(page, "funnel")["series"][0]["values"] == [2, 1]
    assert chart(page, "pipeline")["series"][0]["values"] == [1000.0, 2500.5]
    assert chart(page, "conversion")["categories"] == ["Web"]
    assert f'<option value="{robin.public_id}" selected>' in page
    assert '<option value="Web" selected>' in page


def test_a_period_on_the_lead_reports_counts_leads_created_in_it(floor):
    Lead.objects.filter(last_name="Trader").update(
        created_at=datetime.datetime(2020, 3, 15, 12, tzinfo=datetime.UTC)
    )
    response = signed_in(floor["admin"]).get(
        "/reports/", {"period_start": "2020-03-01", "period_end": "2020-03-31"}
    )

    page = text(response)
    assert chart(page, "funnel")["series"][0]["values"] == [1, 0]
    assert chart(page, "conversion")["categories"] == ["Trade Show"]


def test_the_pipeline_drill_down_lists_exactly_the_deals_behind_a_bar(floor):
    client = signed_in(floor["admin"])
    robin = floor["robin"]
    page = text(client.get("/reports/", {"owner_id": robin.public_id, "lead_source": "Web"}))

    link = chart(page, "pipeline")["series"][0]["links"][0]
    query = query_of(link)
    assert link.startswith("/opportunities/?")
    assert query["stage"] == ["Prospecting"]
    assert query["owner"] == [robin.public_id]
    assert query["lead_source"] == ["Web"]
    assert query["is_closed"] == ["false"]
    listed = text(client.get(link))
    assert "Robin small" in listed
    for other in ("Robin phone", "Robin big", "Olive first"):
        assert other not in listed


def test_the_funnel_drill_down_lists_the_leads_of_each_step(floor):
    client = signed_in(floor["admin"])
    page = text(client.get("/reports/", {"lead_source": "Web"}))

    leads_link, converted_link = chart(page, "funnel")["links"]
    assert query_of(leads_link)["lead_source"] == ["Web"]
    assert query_of(converted_link)["is_converted"] == ["true"]
    listed = text(client.get(leads_link))
    for name in ("Webb", "Webster", "Weaver"):
        assert name in listed
    assert "Phelps" not in listed and "Trader" not in listed
    converted = text(client.get(converted_link))
    assert "Webb" in converted and "Weaver" in converted
    assert "Webster" not in converted


def test_drill_down_links_carry_the_period(floor):
    page = text(
        signed_in(floor["admin"]).get(
            "/reports/", {"period_start": "2026-01-01", "period_end": "2026-12-31"}
        )
    )

    pipeline = query_of(chart(page, "pipeline")["series"][0]["links"][0])
    assert pipeline["close_date_from"] == ["2026-01-01"]
    assert pipeline["close_date_to"] == ["2026-12-31"]
    leads = query_of(chart(page, "conversion")["series"][0]["links"][0])
    # As the lead list's own date inputs write them (the day; "before" is exclusive).
    assert leads["created_after"] == ["2026-01-01"]
    assert leads["created_before"] == ["2027-01-01"]


def test_every_panel_links_its_csv_with_the_filters(floor):
    client = signed_in(floor["admin"])
    page = text(client.get("/reports/", {"lead_source": "Web"}))

    links = re.findall(r'href="(/reports/[a-z_]+\.csv[^"]*)"', page)
    names = [urlsplit(link).path for link in links]
    assert names == [
        "/reports/lead_conversion.csv",
        "/reports/pipeline_by_stage.csv",
        "/reports/forecast.csv",
        "/reports/lead_conversion.csv",
        "/reports/stage_duration.csv",
        "/reports/leaderboard.csv",
        "/reports/stalled_deals.csv",
    ]
    assert all(query_of(link.replace("&amp;", "&"))["lead_source"] == ["Web"] for link in links)
    response = client.get(links[1].replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().splitlines() == [
        "stage,deals,amount,weighted_amount",
        "Prospecting,2,5000.00,500.00",
        "Negotiation/Review,1,2500.50,2250.45",
    ]


def test_csv_download_counts_what_the_rep_sees(floor):
    response = signed_in(floor["robin"]).get("/reports/lead_conversion.csv")

    assert response.content.decode().splitlines() == [
        "lead_source,leads,converted,conversion_rate",
        "Phone Inquiry,1,0,0.0000",
        "Web,2,1,0.5000",
    ]


def test_csv_of_an_unknown_report_is_a_404_and_a_bad_filter_a_400(floor):
    client = signed_in(floor["admin"])

    assert client.get("/reports/pipeline_by_mood.csv").status_code == 404
    refused = client.get("/reports/lead_conversion.csv", {"as_of": "2026-01-01"})
    assert refused.status_code == 400
    assert refused.content.decode().startswith("as_of:")


def test_a_bad_filter_is_shown_beside_its_input_and_no_report_runs(floor):
    response = signed_in(floor["admin"]).get("/reports/", {"period_start": "2026-02-30"})

    assert response.status_code == 200
    page = text(response)
    assert 'id="filter_period_start_error"' in page
    assert (
        '<div class="field-error" id="filter_period_start_error">Expected a date YYYY-MM-DD, '
        "got &#x27;2026-02-30&#x27;</div>" in page
    )
    assert "No report ran: correct Period from." in page
    assert "data-chart=" not in page


def test_a_period_ending_before_it_starts_is_named_in_the_forms_words(floor):
    page = text(
        signed_in(floor["admin"]).get(
            "/reports/", {"period_start": "2026-12-31", "period_end": "2026-01-01"}
        )
    )

    assert (
        '<div class="field-error" id="filter_period_end_error">Expected a date on or after '
        "Period from (2026-12-31), got &#x27;2026-01-01&#x27;</div>" in page
    )
    assert "No report ran: correct Period to." in page


def test_the_team_filter_counts_the_teams_records_and_says_lists_ignore_it(floor):
    page = text(signed_in(floor["admin"]).get("/reports/", {"team_id": floor["team"].pk}))

    assert chart(page, "funnel")["series"][0]["values"] == [3, 1]
    assert "The lists a chart opens have no team filter" in page


def test_the_page_is_a_plain_get_without_csrf_token(floor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor["robin"])

    response = client.get("/reports/", {"lead_source": "Web"})

    assert response.status_code == 200
    assert 'method="get" action="/reports/"' in text(response)


def test_signed_out_visitors_go_to_the_login_page(client):
    response = client.get("/reports/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_navigation_has_reports(floor):
    page = text(signed_in(floor["robin"]).get("/reports/"))

    assert '<a class="nav-link active" href="/reports/" aria-current="page">Reports</a>' in page


def test_names_are_escaped_in_tables_and_chart_data(floor):
    OpportunityFactory(owner=floor["robin"], name=XSS, close_date=datetime.date(2020, 1, 1))

    page = text(signed_in(floor["admin"]).get("/reports/"))

    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel(page, "stalled")


def test_queries_do_not_grow_with_the_records(floor, settings):
    settings.DEALFLOW_DASHBOARD_MAX_AGE = 0  # every view computes its figures
    client = signed_in(floor["admin"])
    robin = floor["robin"]
    stage = OpportunityStage.objects.get(name="Needs Analysis")

    def add(count: int) -> None:
        for number in range(count):
            LeadFactory(owner_user=robin, lead_source="Partner Referral")
            OpportunityFactory(
                owner=robin,
                stage=stage,
                amount="10.00",
                close_date=datetime.date(2020, 1, number + 1),
            )

    add(1)  # a stalled deal (its close date passed): every panel has rows
    few = queries_of(client, "/reports/")
    add(20)
    many = queries_of(client, "/reports/")

    assert many == few
    # 6 reports (lead_conversion once for two panels), each in a savepoint of its own
    # (and, on PostgreSQL, its SET LOCAL jit = off), the session and user, the filters'
    # choices (teams, users, lead sources); the stalled deals: their count, the first
    # 50 rows, their owners.
    assert few <= (25 + 6 if connection.vendor == "postgresql" else 25)


def test_the_stalled_list_shows_fifty_deals_and_links_to_all(floor):
    robin = floor["robin"]
    for number in range(52):
        OpportunityFactory(
            owner=robin, name=f"Late {number:02d}", close_date=datetime.date(2020, 1, 1)
        )

    page = text(signed_in(floor["admin"]).get("/reports/", {"lead_source": ""}))

    stalled = panel(page, "stalled")
    assert stalled.count("<tr>") == 51  # the header and fifty deals
    assert "and 2 more:" in stalled
    link = re.search(r'<a href="([^"]+)">list them all</a>', stalled).group(1)
    assert query_of(link.replace("&amp;", "&")) == {"stalled": ["true"], "is_closed": ["false"]}


def test_the_stalled_table_keeps_dates_and_figures_on_one_line(floor):
    """At 768 px the stalled table wrapped its dates after the month; its figures, dates,
    stages and owners do not wrap, and the reasons keep a readable width (reports.css)."""
    OpportunityFactory(owner=floor["robin"], name="Late one", close_date=datetime.date(2020, 1, 1))

    stalled = panel(text(signed_in(floor["admin"]).get("/reports/")), "stalled")

    assert '<td class="text-nowrap">2020-01-01</td>' in stalled
    assert re.search(r'<td class="text-nowrap">[^<]*</td>\s*<td class="report-wide-text">', stalled)
    assert re.search(r'<td class="report-wide-text">[^<]*Close date 2020-01-01 has passed', stalled)


# -- drill-downs: each link lists exactly the records it stands for --------------------------


def list_link(page: str, key: str) -> str:
    """The panel's "List the records" address."""
    found = re.search(r'href="([^"]+)">List the records<', panel(page, key))
    assert found, f"no list link on {key}"
    return html.unescape(found.group(1))


def listed_names(client: Client, url: str, names) -> set[str]:
    page = text(client.get(url))
    return {name for name in names if re.search(rf">([^<]* )?{re.escape(name)}</a>", page)}


OPPORTUNITY_NAMES = ("Robin small", "Robin phone", "Robin big", "Olive first", "Robin won")
LEAD_NAMES = ("Webb", "Webster", "Phelps", "Weaver", "Trader", "Nosource", "Olivenone")


def won_deal(owner, name: str, close: datetime.date):
    won = OpportunityStage.objects.get(name="Closed Won")
    return OpportunityFactory(
        owner=owner,
        name=name,
        stage=won,
        amount="900.00",
        close_date=close,
        is_closed=True,
        is_won=True,
        lead_source="Web",
    )


def test_list_the_records_lists_the_whole_report_under_the_page_filters(floor):
    client = signed_in(floor["admin"])
    robin = floor["robin"]
    won_deal(robin, "Robin won", datetime.date(2026, 11, 20))
    OpportunityFactory(owner=robin, name="Robin next year", close_date=datetime.date(2027, 2, 1))
    page = text(
        client.get(
            "/reports/",
            {"owner_id": robin.public_id, "period_start": "2026-01-01", "period_end": "2026-12-31"},
        )
    )

    pipeline = list_link(page, "pipeline")
    assert query_of(pipeline) == {
        "owner": [robin.public_id],
        "is_closed": ["false"],
        "close_date_from": ["2026-01-01"],
        "close_date_to": ["2026-12-31"],
    }
    assert listed_names(client, pipeline, OPPORTUNITY_NAMES) == {
        "Robin small",
        "Robin phone",
        "Robin big",
    }
    forecast = list_link(page, "forecast")
    # The report's months (2026-11 and 2026-12), every deal closing in them.
    assert query_of(forecast) == {
        "owner": [robin.public_id],
        "close_date_from": ["2026-11-01"],
        "close_date_to": ["2026-12-31"],
        "is_closed": ["any"],
    }
    assert listed_names(client, forecast, OPPORTUNITY_NAMES) == {
        "Robin small",
        "Robin phone",
        "Robin big",
        "Robin won",
    }
    assert "List the records" not in panel(page, "stage_duration")


def test_forecast_segments_list_the_deals_of_their_category(floor):
    client = signed_in(floor["admin"])
    won_deal(floor["robin"], "Robin won", datetime.date(2026, 12, 15))
    data = chart(text(client.get("/reports/")), "forecast")
    month = data["categories"].index("2026-12")
    links = {series["name"]: series["links"][month] for series in data["series"]}

    assert len(set(links.values())) == 4  # one list per segment
    closed = links["Closed"]
    assert query_of(closed)["forecast_category"] == ["Closed"]
    assert listed_names(client, closed, OPPORTUNITY_NAMES) == {"Robin won"}
    pipeline = links["Pipeline"]
    assert query_of(pipeline)["forecast_category"] == ["Pipeline"]
    assert listed_names(client, pipeline, OPPORTUNITY_NAMES) == {
        "Robin small",
        "Robin phone",
        "Robin big",
        "Olive first",
    }
    assert listed_names(client, links["Commit"], OPPORTUNITY_NAMES) == set()
    # The API's opportunity list takes the same filter (one definition, OPPORTUNITY_LIST).
    response = ApiClient(floor["admin"]).get("/opportunities", forecast_category="Closed")
    assert response.status_code == 200
    assert [record["name"] for record in response.json()["records"]] == ["Robin won"]


def test_the_none_lead_source_bar_lists_the_leads_without_one(floor):
    client = signed_in(floor["admin"])
    LeadFactory(owner_user=floor["robin"], last_name="Nosource", lead_source="")
    LeadFactory(owner_user=floor["olive"], last_name="Olivenone", lead_source="")
    page = text(client.get("/reports/"))
    data = chart(page, "conversion")
    none = data["categories"].index("(none)")
    link = data["series"][0]["links"][none]

    assert query_of(link)["lead_source"] == [NO_LEAD_SOURCE]
    assert listed_names(client, link, LEAD_NAMES) == {"Nosource", "Olivenone"}
    # The table beside the chart names the group as the chart does.
    assert re.search(r"<td[^>]*>\(none\)</td>", panel(page, "conversion"))
    # The lead list's definition, shared with the API, reads the same token.
    found = lead_page(actor=floor["admin"], filters={"lead_source": NO_LEAD_SOURCE}, limit=50)
    assert sorted(row.last_name for row in as_rows(found, Lead)) == ["Nosource", "Olivenone"]
    response = ApiClient(floor["admin"]).get("/leads", lead_source=NO_LEAD_SOURCE)
    assert response.status_code == 200
    assert sorted(record["last_name"] for record in response.json()["records"]) == [
        "Nosource",
        "Olivenone",
    ]


def test_the_stage_duration_bars_open_no_list_and_the_note_says_why(floor):
    robin = floor["robin"]
    deal = opportunity_create(
        actor=robin,
        data={"name": "Robin moved", "stage": "Prospecting", "close_date": "2026-12-31"},
    )
    opportunity_update(actor=robin, opportunity=deal, data={"stage": "Qualification"})
    page = text(signed_in(floor["admin"]).get("/reports/"))

    data = chart(page, "stage_duration")
    assert data["categories"] == ["Prospecting", "Qualification"]
    # A list shows deals by their stage now: no bar, and no "List the records", opens one.
    assert {link for series in data["series"] for link in series["links"]} == {""}
    shown = panel(page, "stage_duration")
    assert "List the records" not in shown
    assert "Click a bar" not in shown
    assert "No list opens from here" in shown


def test_panel_notes_do_not_cite_internal_documents(floor):
    page = text(signed_in(floor["admin"]).get("/reports/"))
    assert "DOMAIN.md" not in page
    assert "issue 7" not in page


def test_a_drill_down_into_the_lead_list_shows_every_filter_it_applies(floor):
    client = signed_in(floor["robin"])
    page = text(client.get("/reports/", {"period_start": "2026-01-01", "period_end": "2026-12-31"}))
    converted = chart(page, "funnel")["links"][1]
    listed = text(client.get(converted))

    # Not "My open leads": the list shows converted leads of any owner.
    assert "My open leads" not in re.search(r"<title>(.*?)</title>", listed, re.S).group(1)
    assert '<h2 class="card-title me-auto" id="list-title">Leads</h2>' in listed
    assert 'name="created_after" value="2026-01-01"' in listed
    assert 'name="created_before" value="2027-01-01"' in listed
    # The filters the form has no input for stay in it (Apply keeps them) and show.
    assert '<input type="hidden" name="is_converted" value="true">' in listed
    assert '<input type="hidden" name="is_closed" value="">' in listed
    assert "Converted: yes" in listed
    # The view itself keeps its name.
    plain = text(client.get("/leads/", {"view": "mine"}))
    assert '<h2 class="card-title me-auto" id="list-title">My open leads</h2>' in plain


# -- kept figures and Refresh (reports/dashboard.py) ---------------------------------------


def funnel_values(page: str) -> list[int]:
    return chart(page, "funnel")["series"][0]["values"]


def test_a_second_view_shows_the_kept_figures_and_says_when(floor, freeze_clock):
    client = signed_in(floor["admin"])
    computed_at = freeze_clock(datetime.datetime(2026, 12, 7, 9, 30, tzinfo=datetime.UTC))
    first = text(client.get("/reports/"))
    LeadFactory(owner_user=floor["robin"], lead_source="Web")
    freeze_clock(computed_at + datetime.timedelta(minutes=3))

    second = text(client.get("/reports/"))

    assert funnel_values(first) == [5, 2]
    assert (
        'Figures as of <time datetime="2026-12-07T09:30:00+00:00">7 Dec 2026, 09:30</time> (just now)'
        in first
    )
    assert funnel_values(second) == [5, 2]  # the new lead shows after a refresh
    assert "7 Dec 2026, 09:30</time> (3\xa0minutes ago)" in second
    assert "Kept for 10 minutes; the lists a chart opens are always current." in second


def test_a_kept_view_runs_no_report(floor):
    client = signed_in(floor["admin"])
    client.get("/reports/")

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/reports/")

    assert response.status_code == 200
    tables = " ".join(query["sql"] for query in captured.captured_queries)
    assert "sales_opportunity" not in tables and "leads_lead" not in tables
    # the session, the user, the configuration version, the kept figures, the filters'
    # teams and users (lead sources come from the configuration cache)
    assert len(captured) == 6


def test_refresh_computes_the_figures_again_and_keeps_the_filters(floor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor["admin"])
    page = text(client.get("/reports/", {"lead_source": "Web"}))
    assert funnel_values(page) == [3, 2]
    LeadFactory(owner_user=floor["robin"], lead_source="Web")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert '<input type="hidden" name="lead_source" value="Web">' in page

    response = client.post(
        "/reports/refresh/", {"lead_source": "Web", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert response["Location"] == "/reports/?lead_source=Web"
    page = text(client.get(response["Location"]))
    assert funnel_values(page) == [4, 2]
    assert "(just now)" in page


def test_refresh_is_a_post_with_a_csrf_token(floor):
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor["admin"])
    client.get("/reports/")
    LeadFactory(owner_user=floor["robin"], lead_source="Web")

    assert client.get("/reports/refresh/").status_code == 405
    assert client.post("/reports/refresh/").status_code == 403  # no token: nothing computed
    assert funnel_values(text(client.get("/reports/"))) == [5, 2]


def test_signed_out_refresh_goes_to_the_login_page(client):
    response = client.post("/reports/refresh/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_refresh_with_a_bad_filter_computes_nothing_and_the_page_names_it(floor):
    client = signed_in(floor["admin"])
    client.get("/reports/")

    response = client.post("/reports/refresh/", {"period_start": "2026-13-01"})

    assert response["Location"] == "/reports/?period_start=2026-13-01"
    page = text(client.get(response["Location"]))
    assert "Expected a date YYYY-MM-DD, got &#x27;2026-13-01&#x27;" in page
    assert "Figures as of" not in page


def test_viewers_never_share_kept_figures(floor):
    assert funnel_values(text(signed_in(floor["admin"]).get("/reports/"))) == [5, 2]

    assert funnel_values(text(signed_in(floor["robin"]).get("/reports/"))) == [3, 1]
    assert funnel_values(text(signed_in(floor["olive"]).get("/reports/"))) == [2, 1]


def test_a_new_role_or_sharing_default_shows_at_once(floor):
    robin = floor["robin"]
    client = signed_in(robin)
    assert funnel_values(text(client.get("/reports/"))) == [3, 1]

    robin.role = Role.ADMIN
    robin.save(update_fields=["role"])
    assert funnel_values(text(client.get("/reports/"))) == [5, 2]

    robin.role = Role.REP
    robin.save(update_fields=["role"])
    sharing_default_set(actor=None, object_name="Lead", access=Access.READ)
    assert funnel_values(text(client.get("/reports/"))) == [5, 2]


def test_no_figures_are_kept_when_the_max_age_is_zero(floor, settings):
    settings.DEALFLOW_DASHBOARD_MAX_AGE = 0
    client = signed_in(floor["admin"])
    first = text(client.get("/reports/"))
    LeadFactory(owner_user=floor["robin"], lead_source="Web")

    second = text(client.get("/reports/"))

    assert funnel_values(first) == [5, 2]
    assert funnel_values(second) == [6, 2]
    assert "Figures as of" not in second and "Refresh" not in second


def test_kept_figures_expire_after_the_max_age(floor, settings, freeze_clock):
    settings.DEALFLOW_DASHBOARD_MAX_AGE = 60
    client = signed_in(floor["admin"])
    computed_at = freeze_clock(datetime.datetime(2026, 12, 7, 9, 30, tzinfo=datetime.UTC))
    client.get("/reports/")
    LeadFactory(owner_user=floor["robin"], lead_source="Web")

    freeze_clock(computed_at + datetime.timedelta(seconds=59))
    assert funnel_values(text(client.get("/reports/"))) == [5, 2]
    freeze_clock(computed_at + datetime.timedelta(seconds=60))
    assert funnel_values(text(client.get("/reports/"))) == [6, 2]
    # The expired figures were replaced, not kept beside the new ones.
    assert DashboardFigures.objects.count() == 1


def test_every_web_process_reads_the_same_kept_figures(floor):
    """Kept in the database: a view served by another process (here: with the process's
    own caches forgotten) shows the figures the first computed."""
    from dealflow.core.cache import forget_all

    first = text(signed_in(floor["admin"]).get("/reports/"))
    LeadFactory(owner_user=floor["robin"], lead_source="Web")
    forget_all()

    second = text(signed_in(floor["admin"]).get("/reports/"))

    assert funnel_values(first) == funnel_values(second) == [5, 2]
    assert panel(first, "pipeline") == panel(second, "pipeline")
    assert panel(first, "forecast") == panel(second, "forecast")


def test_kept_results_read_back_equal_to_the_computed_ones(floor):
    """Every report's rows (decimals, dates, drill-down filters) survive being kept."""
    from dealflow.reports.dashboard import DashboardRunner
    from dealflow.reports.definitions import ReportFilters
    from dealflow.web.reports import PANELS, build_panel

    won = OpportunityStage.objects.get(name="Closed Won")
    OpportunityFactory(
        owner=floor["robin"], stage=won, amount="1234.56", close_date=datetime.date(2026, 11, 3)
    )
    OpportunityFactory(owner=floor["robin"], close_date=datetime.date(2020, 1, 1))  # stalled
    scope = ReportFilters()
    computing = DashboardRunner(floor["admin"], scope)
    for spec in PANELS:
        build_panel(spec, computing, scope)
    computing.keep()

    reading = DashboardRunner(floor["admin"], scope)

    assert reading.kept.refreshed_at == computing.kept.refreshed_at
    assert reading.kept.results == computing.kept.results
    assert len(reading.kept.results) == 6


def test_the_funnels_csv_link_says_it_holds_the_rows_by_lead_source(floor):
    page = text(signed_in(floor["admin"]).get("/reports/"))

    assert "Download CSV by lead source<span" in panel(page, "funnel")
    assert "Download CSV<span" in panel(page, "conversion")
