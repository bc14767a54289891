"""The dashboard in a browser: every chart drawn (ECharts' canvas, no CSP refusal), and a
click on a bar opening the list of exactly the records behind it."""

from __future__ import annotations

import datetime

from django.utils import timezone
from playwright.sync_api import Page, expect

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import OpportunityHistory, OpportunityStage
from tests.e2e.browser import TABLET, WIDE, assert_styled, at_path, sign_in_as
from tests.factories import LeadFactory, OpportunityFactory, UserFactory

CHARTS = (
    "Conversion funnel",
    "Pipeline by stage",
    "Forecast by close month and category",
    "Conversion by lead source",
    "Days in each stage",
    "Leaderboard: closed won by owner",
)


def floor(rep) -> None:
    """Rita's and another rep's leads and open deals in two stages; sharing private."""
    for object_name in ("Lead", "Opportunity", "Account"):
        sharing_default_set(actor=None, object_name=object_name, access=Access.PRIVATE)
    other = UserFactory(first_name="Olive", last_name="Other")
    prospecting = OpportunityStage.objects.get(name="Prospecting")
    negotiation = OpportunityStage.objects.get(name="Negotiation/Review")
    close = datetime.date(2027, 3, 31)
    for owner, name, stage, amount in (
        (rep, "Alpha deal", prospecting, "1000.00"),
        (rep, "Beta deal", prospecting, "2000.00"),
        (rep, "Gamma deal", negotiation, "5000.00"),
        (other, "Delta deal", prospecting, "3000.00"),
    ):
        OpportunityFactory(
            owner=owner, name=name, stage=stage, amount=amount, close_date=close, lead_source="Web"
        )
    for owner, source in ((rep, "Web"), (rep, "Web"), (rep, "Phone Inquiry"), (other, "Web")):
        LeadFactory(owner_user=owner, lead_source=source)
    won = OpportunityStage.objects.get(name="Closed Won")
    deal = OpportunityFactory(
        owner=rep,
        name="Won deal",
        stage=won,
        amount="8000.00",
        close_date=close,
        is_closed=True,
        is_won=True,
        lead_source="Web",
    )
    # Its stage history: ten days in Prospecting, then won.
    started = timezone.now() - datetime.timedelta(days=10)
    for stage, moment in ((prospecting, started), (won, timezone.now())):
        OpportunityHistory.objects.create(
            opportunity=deal,
            stage_name=stage.name,
            amount=deal.amount,
            probability=stage.probability,
            forecast_category=stage.forecast_category,
            close_date=close,
            created_at=moment,
        )


def click_bar(page: Page, panel: str, category: int, series: int = 0) -> None:
    """Click the middle of one bar of a panel's chart, where ECharts drew it."""
    chart = page.locator(f"#panel-{panel} [data-chart]")
    expect(chart).to_have_attribute("data-drawn", "true")
    # The bar's rectangle as ECharts laid it out (bars of a series sit beside the others').
    point = chart.evaluate(
        """(element, [category, series]) => {
            const chart = echarts.getInstanceByDom(element);
            const layout = chart.getModel().getSeriesByIndex(series).getData().getItemLayout(category);
            return { x: layout.x + layout.width / 2, y: layout.y + layout.height / 2 };
        }""",
        [category, series],
    )
    chart.click(position={"x": point["x"], "y": point["y"]})


def test_the_dashboard_draws_each_chart_beside_its_table(
    page: Page, live_server, admin, rep, screenshot
):
    floor(rep)
    sign_in_as(page, live_server.url, "ada")

    page.get_by_role("link", name="Reports").click()

    expect(page).to_have_url(at_path("/reports/"))
    assert_styled(page)
    for title in CHARTS:
        section = page.get_by_role("region", name=title)
        expect(section.locator("[data-chart] canvas").first).to_be_visible()
        expect(section.get_by_role("table")).to_be_visible()
        expect(section.get_by_role("link", name="Download CSV")).to_be_visible()
    stalled = page.get_by_role("region", name="Stalled deals")
    expect(stalled.get_by_role("table")).to_be_visible()
    pipeline = page.get_by_role("region", name="Pipeline by stage")
    expect(pipeline.get_by_role("row", name="Prospecting 3 6,000.00 600.00")).to_be_visible()
    screenshot("dashboard-1280")
    page.set_viewport_size(TABLET)
    for title in CHARTS:
        canvas = page.get_by_role("region", name=title).locator("[data-chart] canvas").first
        expect(canvas).to_be_visible()
        box = canvas.bounding_box()
        assert box is not None and box["width"] <= TABLET["width"]
    screenshot("dashboard-768")
    page.set_viewport_size(WIDE)


def test_a_bar_opens_the_list_of_exactly_the_deals_behind_it(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/reports/?lead_source=Web")

    click_bar(page, "pipeline", category=0)  # Prospecting, amount

    expect(page).to_have_url(
        at_path("/opportunities/?lead_source=Web&stage=Prospecting&is_closed=false")
    )
    expect(page.get_by_role("heading", name="Opportunities")).to_be_visible()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.get_by_role("link", name="Alpha deal")).to_be_visible()
    expect(rows.get_by_role("link", name="Beta deal")).to_be_visible()


def test_a_funnel_step_opens_the_leads_behind_it(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/reports/?lead_source=Web")

    chart = page.locator("#panel-funnel [data-chart]")
    expect(chart).to_have_attribute("data-drawn", "true")
    box = chart.bounding_box()
    assert box is not None
    chart.click(position={"x": box["width"] / 2, "y": box["height"] * 0.2})  # "Leads"

    expect(page).to_have_url(at_path("/leads/?owner_id=&is_converted=&is_closed=&lead_source=Web"))
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(2)  # Rita's two Web leads; the other rep's is not hers to see


def test_forecast_segments_and_list_the_records_open_their_own_deals(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/reports/")

    click_bar(page, "forecast", category=0, series=0)  # 2027-03, Closed
    expect(page).to_have_url(
        at_path(
            "/opportunities/?close_date_from=2027-03-01&close_date_to=2027-03-31"
            "&forecast_category=Closed&is_closed=any"
        )
    )
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link", name="Won deal")).to_be_visible()
    # The filters stay in the form, so Apply keeps them.
    expect(page.get_by_label("Forecast Category")).to_have_value("Closed")

    page.go_back()
    click_bar(page, "forecast", category=0, series=3)  # 2027-03, Pipeline
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(3)
    for name in ("Alpha deal", "Beta deal", "Gamma deal"):
        expect(rows.get_by_role("link", name=name)).to_be_visible()

    page.go_back()
    page.locator("#panel-pipeline").get_by_role("link", name="List the records").click()
    expect(page).to_have_url(at_path("/opportunities/?is_closed=false"))
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(3)  # every open deal of Rita's, not Prospecting's only


def test_stage_bars_open_nothing_and_tables_say_when_they_scroll(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/reports/")

    click_bar(page, "stage_duration", category=0)
    page.wait_for_timeout(300)
    expect(page).to_have_url(at_path("/reports/"))
    forecast = page.locator("#panel-forecast")
    expect(forecast.locator(".report-scroll-hint")).to_have_text(
        "Scroll the table sideways for more columns."
    )
    # Long stage names wrap under the bars instead of being cut ("Proposal/Price Qu…").
    overflow = page.locator("#panel-pipeline [data-chart]").evaluate(
        "element => echarts.getInstanceByDom(element).getOption().xAxis[0].axisLabel.overflow"
    )
    assert overflow == "break"
    page.set_viewport_size(WIDE)


def test_a_funnel_drill_down_keeps_its_filters_when_applied(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/reports/?period_start=2026-01-01&period_end=2030-12-31")
    link = page.locator("#chart-funnel-data").evaluate("e => JSON.parse(e.textContent).links[1]")
    page.goto(f"{live_server.url}{link}")

    expect(page.locator("#list-title")).to_have_text("Leads")
    expect(page.get_by_label("Created from")).to_have_value("2026-01-01")
    expect(page.get_by_text("Converted: yes")).to_be_visible()
    page.get_by_role("button", name="Apply filters").click()
    assert "is_converted=true" in page.url
    expect(page.get_by_text("Converted: yes")).to_be_visible()


def test_refresh_shows_a_lead_added_since_the_figures_were_computed(page: Page, live_server, rep):
    floor(rep)
    sign_in_as(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/reports/?lead_source=Web")
    funnel = page.get_by_role("region", name="Conversion funnel")
    expect(funnel.get_by_role("row", name="Leads 2 100.0%")).to_be_visible()
    LeadFactory(owner_user=rep, lead_source="Web")

    page.reload()  # the kept figures
    expect(funnel.get_by_role("row", name="Leads 2 100.0%")).to_be_visible()
    page.get_by_role("button", name="Refresh").click()

    expect(page).to_have_url(at_path("/reports/?lead_source=Web"))
    expect(funnel.get_by_role("row", name="Leads 3 100.0%")).to_be_visible()
    expect(page.locator("#dashboard-as-of")).to_contain_text("(just now)")
    expect(page.get_by_label("Lead Source", exact=True)).to_have_value("Web")
