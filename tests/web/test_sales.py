"""The pipeline board and the opportunity pages (web/sales.py)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealflow.core.models import Access
from dealflow.core.services import sharing_default_set
from dealflow.sales.models import (
    Opportunity,
    OpportunityContactRole,
    OpportunityHistory,
    OpportunityStage,
)
from dealflow.sales.services import (
    contact_role_set,
    opportunity_create,
    opportunity_stage_set,
    opportunity_update,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    OpportunityFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def rep(client):
    user = UserFactory(username="rep", first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


def stage(name):
    return OpportunityStage.objects.get(name=name)


def soon():
    """A close date the board's closed columns count whatever day the tests run."""
    return timezone.localdate() + datetime.timedelta(days=30)


def deal(owner, name="Deal", stage_name="Prospecting", amount="100.00", **values):
    return opportunity_create(
        actor=owner,
        data={
            "name": name,
            "close_date": soon(),
            "stage": stage_name,
            "amount": amount,
            **values,
        },
    )


def header(response, stage_name):
    """(count, total, weighted) as a board column's header shows them."""
    pk = stage(stage_name).pk
    html = response.content.decode()
    found = re.search(
        rf'id="column-header-{pk}".*?data-column-count>([^<]*)<.*?data-column-total>([^<]*)<'
        rf".*?data-column-weighted>([^<]*)<",
        html,
        re.S,
    )
    assert found, f"no header for {stage_name}"
    return found.groups()


def json_header(result, stage_name):
    html = result["headers"][str(stage(stage_name).pk)]
    return tuple(
        re.search(rf"data-column-{name}>([^<]*)<", html).group(1)
        for name in ("count", "total", "weighted")
    )


def board_token(client):
    """The CSRF token the board's script sends (base.html puts it on <body>)."""
    page = client.get("/pipeline/")
    return re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode()).group(1)


# ---------------------------------------------------------------------------------------
# The board


def test_board_needs_a_login(client):
    response = client.get("/pipeline/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/pipeline/")


def test_board_shows_a_column_per_stage_with_exact_totals(client, rep):
    OpportunityFactory(owner=rep, amount=Decimal("10.01"), probability=75)
    OpportunityFactory(owner=rep, amount=Decimal("0.25"), probability=50)
    OpportunityFactory(
        owner=rep,
        amount=Decimal("1234567.89"),
        stage=stage("Closed Won"),
        probability=100,
        forecast_category="Closed",
        is_closed=True,
        is_won=True,
        close_date=timezone.localdate(),
    )

    response = client.get("/pipeline/")

    assert response.status_code == 200
    names = [item["column"].stage.name for item in response.context["columns"]]
    assert names[0] == "Prospecting" and names[-2:] == ["Closed Won", "Closed Lost"]
    assert header(response, "Prospecting") == ("2", "10.26", "7.63")
    assert header(response, "Closed Won") == ("1", "1,234,567.89", "1,234,567.89")
    assert header(response, "Closed Lost") == ("0", "0.00", "0.00")
    column = response.context["columns"][0]["column"]
    assert (column.total, column.weighted) == (Decimal("10.26"), Decimal("7.63"))


def test_closed_columns_show_recently_closed_deals_unless_a_close_date_range_is_set(client, rep):
    today = timezone.localdate()
    won = {
        "stage": stage("Closed Won"),
        "probability": 100,
        "forecast_category": "Closed",
        "is_closed": True,
        "is_won": True,
        "owner": rep,
    }
    OpportunityFactory(name="Won lately", amount=Decimal("10.00"), close_date=today, **won)
    OpportunityFactory(
        name="Won long ago",
        amount=Decimal("5.00"),
        close_date=today - datetime.timedelta(days=91),
        **won,
    )
    OpportunityFactory(
        name="Open and old", owner=rep, close_date=today - datetime.timedelta(days=400)
    )

    board = client.get("/pipeline/")

    assert header(board, "Closed Won") == ("1", "10.00", "10.00")
    assert header(board, "Prospecting")[0] == "1"
    shown = [card.name for item in board.context["columns"] for card in item["cards"]]
    assert sorted(shown) == ["Open and old", "Won lately"]
    since = (today - datetime.timedelta(days=90)).isoformat()
    assert f"Closed since {since}" in board.content.decode()
    assert b"show the deals closed in the last 90 days" in board.content

    ranged = client.get("/pipeline/", {"close_date_from": "2000-01-01"})

    assert header(ranged, "Closed Won") == ("2", "15.00", "15.00")
    assert b"Closed since" not in ranged.content


def test_board_cards_show_name_account_amount_close_date_owner_and_days(client, rep):
    account = AccountFactory(owner=rep, name="Acme Corp")
    OpportunityFactory(
        owner=rep,
        name="Acme renewal",
        account=account,
        amount=Decimal("2500.00"),
        close_date=datetime.date(2026, 6, 30),
    )

    content = client.get("/pipeline/").content.decode()

    card = re.search(r'<li class="card board-card".*?</li>', content, re.S).group(0)
    for text in ("Acme renewal", "Acme Corp", "2,500.00", "2026-06-30", "Rita Rep", "0 days"):
        assert text in card
    assert 'for="move-' in card and 'name="stage"' in card and "csrfmiddlewaretoken" in card
    # Closed columns can be folded away.
    assert content.count("data-collapse-column") == 2
    assert 'src="/static/vendor/Sortable.min.js"' in content
    assert 'src="/static/web/board.js"' in content


def test_board_filters_mine_owner_team_and_close_dates(client, rep):
    team = TeamFactory(name="East")
    colleague = UserFactory(team=team)
    OpportunityFactory(owner=rep, name="Mine early", close_date=datetime.date(2026, 1, 10))
    OpportunityFactory(owner=rep, name="Mine late", close_date=datetime.date(2026, 9, 10))
    OpportunityFactory(owner=colleague, name="East deal")

    def names(**query):
        response = client.get("/pipeline/", query)
        assert response.status_code == 200
        return sorted(card.name for item in response.context["columns"] for card in item["cards"])

    assert names() == ["East deal", "Mine early", "Mine late"]
    assert names(owner=rep.public_id) == ["Mine early", "Mine late"]
    assert names(team="East") == ["East deal"]
    assert names(close_date_from="2026-01-01", close_date_to="2026-03-31") == ["Mine early"]

    mine = client.get("/pipeline/", {"owner": rep.public_id})
    assert mine.context["mine"] is True
    assert header(mine, "Prospecting")[0] == "2"
    unknown = client.get("/pipeline/", {"team": "Nobody", "close_date_from": "soon"})
    assert unknown.context["query"].errors == {
        "team": "no team of that name",
        "close_date_from": "expected a date YYYY-MM-DD",
    }


def test_board_hides_another_reps_private_deals(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    OpportunityFactory(owner=UserFactory(), name="Secret deal", amount=Decimal("999.00"))
    OpportunityFactory(owner=rep, name="My deal", amount=Decimal("1.00"))

    response = client.get("/pipeline/")

    assert b"Secret deal" not in response.content
    assert header(response, "Prospecting") == ("1", "1.00", "0.10")


def test_board_escapes_user_data(client, rep):
    account = AccountFactory(owner=rep, name=XSS)
    OpportunityFactory(owner=rep, name=XSS, account=account)
    rep.first_name = XSS
    rep.save()

    content = client.get("/pipeline/").content

    assert XSS.encode() not in content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_board_loads_fifty_cards_a_column_and_more_on_demand(client, rep):
    start = datetime.date(2026, 1, 1)
    for offset in range(60):
        OpportunityFactory(
            owner=rep, name=f"Deal {offset:02}", close_date=start + datetime.timedelta(days=offset)
        )

    board = client.get("/pipeline/", {"owner": rep.public_id})
    first = board.context["columns"][0]
    assert [card.name for card in first["cards"]] == [f"Deal {n:02}" for n in range(50)]
    more_url = first["more_url"]
    assert more_url.startswith(f"/pipeline/column/{stage('Prospecting').pk}/?")
    assert f"owner={rep.public_id}" in more_url
    assert 'hx-get="{}"'.format(more_url.replace("&", "&amp;")) in board.content.decode()

    more = client.get(more_url)

    assert more.status_code == 200
    assert [card.name for card in more.context["cards"]] == [f"Deal {n:02}" for n in range(50, 60)]
    # The last page replaces the button with none (out of band).
    assert b'hx-swap-oob="true"' in more.content
    assert b"Load more" not in more.content


def test_load_more_refuses_a_cursor_of_other_filters_and_unknown_stages(client, rep):
    for _ in range(3):
        OpportunityFactory(owner=rep)
    pk = stage("Prospecting").pk
    assert client.get(f"/pipeline/column/{pk}/", {"cursor": "garbage"}).status_code == 400
    assert client.get("/pipeline/column/99999/").status_code == 404


def test_board_query_count_does_not_grow_with_cards(client, rep):
    account = AccountFactory(owner=rep)

    def queries_for(number):
        for name in ("Prospecting", "Negotiation/Review", "Closed Won", "Closed Lost"):
            OpportunityFactory.create_batch(number, owner=rep, account=account, stage=stage(name))
        client.get("/pipeline/")  # caches, session
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/pipeline/").status_code == 200
        return len(queries)

    few = queries_for(5)
    assert queries_for(45) == few  # 5 and then 50 cards a column


# ---------------------------------------------------------------------------------------
# Moving a deal


def test_moving_a_card_changes_the_stage_writes_history_and_returns_totals(client, rep):
    moved = deal(rep, amount="1000.00")
    deal(rep, name="Stays", amount="10.00")

    response = client.post(
        f"/opportunities/{moved.public_id}/stage/", {"stage": "Closed Won"}, **JSON
    )

    assert response.status_code == 200
    moved.refresh_from_db()
    assert (moved.stage.name, moved.probability, moved.is_won) == ("Closed Won", 100, True)
    last = OpportunityHistory.objects.filter(opportunity=moved).latest("id")
    assert (last.previous_stage_name, last.stage_name, last.created_by) == (
        "Prospecting",
        "Closed Won",
        rep,
    )
    result = response.json()
    assert result["stage_id"] == stage("Closed Won").pk
    assert json_header(result, "Prospecting") == ("1", "10.00", "1.00")
    assert json_header(result, "Closed Won") == ("1", "1,000.00", "1,000.00")
    assert (
        "board-card" in result["card"] and "<option selected>Closed Won</option>" in result["card"]
    )


def test_the_returned_totals_follow_the_boards_filters(client, rep):
    moved = deal(rep, amount="1000.00")
    deal(UserFactory(), name="Someone else's", amount="10.00")

    response = client.post(
        f"/opportunities/{moved.public_id}/stage/?owner={rep.public_id}",
        {"stage": "Qualification"},
        **JSON,
    )

    assert json_header(response.json(), "Prospecting") == ("0", "0.00", "0.00")


def test_a_lost_stage_without_a_loss_reason_is_refused_and_changes_nothing(client, rep):
    target = deal(rep)
    history = OpportunityHistory.objects.count()

    response = client.post(
        f"/opportunities/{target.public_id}/stage/", {"stage": "Closed Lost"}, **JSON
    )

    assert response.status_code == 400
    assert response.json() == {
        "message": "loss_reason: required when moving to the lost stage 'Closed Lost'",
        "fields": ["loss_reason"],
    }
    target.refresh_from_db()
    assert (target.stage.name, target.loss_reason) == ("Prospecting", "")
    assert OpportunityHistory.objects.count() == history


def test_a_lost_stage_with_a_loss_reason_is_taken(client, rep):
    target = deal(rep)

    response = client.post(
        f"/opportunities/{target.public_id}/stage/",
        {"stage": "Closed Lost", "loss_reason": "Price"},
        **JSON,
    )

    assert response.status_code == 200
    target.refresh_from_db()
    assert (target.stage.name, target.loss_reason, target.is_closed) == (
        "Closed Lost",
        "Price",
        True,
    )
    assert json_header(response.json(), "Closed Lost") == ("1", "100.00", "0.00")


def test_a_refused_move_returns_the_reason_and_changes_nothing(client, rep):
    target = deal(rep)
    opportunity_stage_set(actor=None, name="Needs Analysis", is_active=False)

    retired = client.post(
        f"/opportunities/{target.public_id}/stage/", {"stage": "Needs Analysis"}, **JSON
    )
    unknown = client.post(f"/opportunities/{target.public_id}/stage/", {"stage": XSS}, **JSON)

    assert retired.status_code == 400
    assert retired.json()["message"].startswith("stage_name: 'Needs Analysis' is not one of")
    assert unknown.status_code == 400
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"
    assert OpportunityHistory.objects.filter(opportunity=target).count() == 1


def test_a_move_on_a_read_only_deal_is_refused_with_403(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.READ)
    theirs = deal(UserFactory())

    response = client.post(
        f"/opportunities/{theirs.public_id}/stage/", {"stage": "Qualification"}, **JSON
    )

    assert response.status_code == 403
    assert response.json()["message"] == f"you may not change Opportunity {theirs.public_id}"
    theirs.refresh_from_db()
    assert theirs.stage.name == "Prospecting"


def test_move_to_form_works_without_script(client, rep):
    target = deal(rep)

    response = client.post(
        f"/opportunities/{target.public_id}/stage/",
        {"stage": "Value Proposition", "next": "/pipeline/?owner=" + rep.public_id},
    )

    assert (response.status_code, response["Location"]) == (
        302,
        f"/pipeline/?owner={rep.public_id}",
    )
    target.refresh_from_db()
    assert target.stage.name == "Value Proposition"


def test_move_to_a_lost_stage_without_script_asks_the_loss_reason(client, rep):
    target = deal(rep)

    asked = client.post(f"/opportunities/{target.public_id}/stage/", {"stage": "Closed Lost"})
    assert asked.status_code == 200
    # The board's "Move to" sends the deal here: the page says why it asks.
    page = asked.content.decode()
    assert (
        '<div class="alert alert-info" role="status" id="stage-needs-reason">'
        "Closed Lost needs a Loss Reason.</div>"
    ) in page
    assert '<label class="form-label" for="id_loss_reason">Loss Reason' in page
    assert '<option value="Competitor">Competitor</option>' in page
    assert "is-invalid" not in page
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"
    assert (
        "needs a Loss Reason"
        not in client.get(
            f"/opportunities/{target.public_id}/stage/?stage=Qualification"
        ).content.decode()
    )

    blank = client.post(
        f"/opportunities/{target.public_id}/stage/", {"stage": "Closed Lost", "loss_reason": ""}
    )
    assert blank.status_code == 400
    # Beside the Loss Reason, in the edit form's words, the box marked; no field name.
    page = blank.content.decode()
    assert (
        '<div class="field-error" id="id_loss_reason_error">'
        "Required when moving to the lost stage &#x27;Closed Lost&#x27;</div>"
    ) in page
    assert (
        '<select class="form-select is-invalid" id="id_loss_reason" name="loss_reason" '
        'aria-invalid="true" aria-describedby="id_loss_reason_error">'
    ) in page
    assert (
        '<div class="alert alert-danger" role="alert">Not saved: correct '
        '<a href="#id_loss_reason">Loss Reason</a>.</div>'
    ) in page
    assert "loss_reason:" not in page
    assert "needs a Loss Reason" not in page
    target.refresh_from_db()
    assert (target.stage.name, target.loss_reason) == ("Prospecting", "")

    done = client.post(
        f"/opportunities/{target.public_id}/stage/",
        {"stage": "Closed Lost", "loss_reason": "Competitor", "next": "https://evil.test/"},
    )
    assert (done.status_code, done["Location"]) == (302, f"/opportunities/{target.public_id}/")
    target.refresh_from_db()
    assert (target.stage.name, target.loss_reason) == ("Closed Lost", "Competitor")


def test_a_refused_stage_on_the_stage_page_shows_beside_the_stage(client, rep):
    target = deal(rep)
    opportunity_stage_set(actor=None, name="Needs Analysis", is_active=False)

    response = client.post(f"/opportunities/{target.public_id}/stage/", {"stage": "Needs Analysis"})

    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<div class="field-error" id="id_stage_name_error">&#x27;Needs Analysis&#x27; is not one of'
        in page
    )
    assert '<a href="#id_stage_name">Stage</a>' in page
    assert "stage_name:" not in page
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_moves_need_a_csrf_token(rep):
    target = deal(rep)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rep)

    refused = browser.post(
        f"/opportunities/{target.public_id}/stage/", {"stage": "Qualification"}, **JSON
    )
    assert refused.status_code == 403
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"

    token = board_token(browser)
    taken = browser.post(
        f"/opportunities/{target.public_id}/stage/",
        {"stage": "Qualification"},
        HTTP_X_CSRFTOKEN=token,
        **JSON,
    )
    assert taken.status_code == 200


def test_every_form_of_the_pages_has_a_csrf_token(client, rep):
    target = deal(rep)
    contact = ContactFactory(owner=rep)
    contact_role_set(actor=rep, opportunity=target, contact=contact, role="Evaluator")
    for url in (
        "/pipeline/",
        f"/opportunities/{target.public_id}/",
        "/opportunities/new/",
        f"/opportunities/{target.public_id}/edit/",
        f"/opportunities/{target.public_id}/delete/",
        f"/opportunities/{target.public_id}/stage/?stage=Closed+Lost",
    ):
        content = client.get(url).content.decode()
        posting = content.count('method="post"')
        assert posting and content.count("csrfmiddlewaretoken") >= posting, url


def test_posts_without_a_csrf_token_are_refused(rep):
    target = deal(rep)
    contact = ContactFactory(owner=rep)
    role = contact_role_set(actor=rep, opportunity=target, contact=contact)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(rep)
    for url, data in (
        ("/opportunities/new/", {"name": "X", "close_date": "2026-01-01"}),
        (f"/opportunities/{target.public_id}/edit/", {"name": "X"}),
        (f"/opportunities/{target.public_id}/delete/", {}),
        (f"/opportunities/{target.public_id}/stage/", {"stage": "Qualification"}),
        (f"/opportunities/{target.public_id}/contact-roles/", {"contact_id": contact.public_id}),
        (f"/contact-roles/{role.public_id}/primary/", {}),
        (f"/contact-roles/{role.public_id}/delete/", {}),
    ):
        assert browser.post(url, data).status_code == 403, url
    assert Opportunity.objects.get().name == "Deal"
    assert OpportunityContactRole.objects.count() == 1


# ---------------------------------------------------------------------------------------
# The list


def test_list_shows_columns_and_filters_sorts_searches(client, rep):
    account = AccountFactory(owner=rep, name="Acme Corp")
    OpportunityFactory(
        owner=rep,
        name="Beta deal",
        account=account,
        amount=Decimal("5000.00"),
        close_date=datetime.date(2026, 2, 1),
    )
    OpportunityFactory(
        owner=rep,
        name="Alpha deal",
        stage=stage("Closed Won"),
        probability=100,
        forecast_category="Closed",
        is_closed=True,
        is_won=True,
        close_date=datetime.date(2026, 3, 1),
    )

    response = client.get("/opportunities/", {"is_closed": "any"})

    assert response.status_code == 200
    content = response.content.decode()
    headings = [
        re.sub(r"<span aria-hidden.*?</span>|<[^>]+>|\s+", " ", cell).strip()
        for cell in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', content, re.S)
    ]
    assert headings == ["Name", "Account", "Amount", "Close Date", "Stage", "Probability", "Owner"]
    assert [row.name for row in response.context["rows"]] == ["Beta deal", "Alpha deal"]
    beta = response.context["rows"][0]
    assert (beta.account_name, beta.stage_name, beta.owner_name) == (
        "Acme Corp",
        "Prospecting",
        "Rita Rep",
    )
    assert "5,000.00" in content and "10%" in content

    def names(**query):
        return [row.name for row in client.get("/opportunities/", query).context["rows"]]

    assert names() == ["Beta deal"]  # open deals unless asked
    assert names(is_closed="true") == ["Alpha deal"]
    assert names(order_by="name", is_closed="any") == ["Alpha deal", "Beta deal"]
    assert names(order_by="-close_date", is_closed="any") == ["Alpha deal", "Beta deal"]
    assert names(stage="closed won") == ["Alpha deal"]  # a stage says open or closed
    assert names(q="bet") == ["Beta deal"]
    bad = client.get("/opportunities/", {"order_by": "amount"})
    assert bad.status_code == 200 and bad.context["error"].startswith("order_by: 'amount'")


def test_list_pages_by_keyset(client, rep):
    for number in range(55):
        OpportunityFactory(owner=rep, name=f"Deal {number:02}")

    first = client.get("/opportunities/", {"order_by": "name", "is_closed": "any"})
    assert len(first.context["rows"]) == 50
    assert "is_closed=any" in first.context["next_url"]
    second = client.get("/opportunities/" + first.context["next_url"])

    assert [row.name for row in second.context["rows"]] == [f"Deal {n}" for n in range(50, 55)]
    assert second.context["next_url"] == ""
    assert second.context["first_url"]


def test_list_query_count_does_not_grow_with_rows(client, rep):
    def queries_for(number):
        OpportunityFactory.create_batch(number, owner=rep, account=AccountFactory(owner=rep))
        client.get("/opportunities/")
        with CaptureQueriesContext(connection) as queries:
            client.get("/opportunities/")
        return len(queries)

    few = queries_for(5)
    assert queries_for(45) == few


def test_list_escapes_and_hides_private_deals(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    OpportunityFactory(owner=rep, name=XSS)
    OpportunityFactory(owner=UserFactory(), name="Secret deal")

    content = client.get("/opportunities/").content

    assert XSS.encode() not in content and b"&lt;script&gt;" in content
    assert b"Secret deal" not in content


# ---------------------------------------------------------------------------------------
# The detail page


def test_detail_shows_fields_grouped_and_the_stage_path(client, rep):
    account = AccountFactory(owner=rep, name="Acme Corp")
    target = deal(
        rep,
        name="Acme renewal",
        amount="10.01",
        account=account,
        type="New Customer",
        lead_source="Web",
        next_step="Send the quote",
        description="Two lines\nof text",
    )
    opportunity_update(actor=rep, opportunity=target, data={"probability": 75})

    response = client.get(f"/opportunities/{target.public_id}/")

    assert response.status_code == 200
    sections = {
        section.title: {field.label: field.value for field in section.fields}
        for section in response.context["sections"]
    }
    assert sections["Opportunity Information"] == {
        "Name": "Acme renewal",
        "Account": "Acme Corp",
        "Type": "New Customer",
        "Lead Source": "Web",
        "Amount": "10.01",
        "Expected Revenue": "7.51",
        "Close Date": soon().isoformat(),
        "Next Step": "Send the quote",
        "Stage": "Prospecting",
        "Probability": "75%",
        "Forecast Category": "Pipeline",
        "Owner": "Rita Rep",
    }
    assert sections["Description Information"] == {"Description": "Two lines\nof text"}
    content = response.content.decode()
    assert f'href="/accounts/{account.public_id}/"' in content
    assert '<span class="stage-path-current" aria-current="step">Prospecting</span>' in content
    assert content.count('aria-current="step"') == 1
    assert '<span class="visually-hidden">Move to </span>Closed Lost</button>' in content


def test_detail_labels(client, rep):
    """The labels come from the metadata registry; this pins what the page shows."""
    target = deal(rep)
    response = client.get(f"/opportunities/{target.public_id}/")
    labels = [field.label for field in response.context["sections"][0].fields]
    assert labels[0] == "Name" and "Expected Revenue" in labels
    assert "Loss Reason" not in labels  # only on a lost deal


def test_the_stage_path_moves_the_deal(client, rep):
    target = deal(rep)

    response = client.post(
        f"/opportunities/{target.public_id}/stage/",
        {"stage": "Qualification", "next": f"/opportunities/{target.public_id}/"},
    )

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert '<span class="stage-path-current" aria-current="step">Qualification</span>' in (
        page.content.decode()
    )
    assert "Prospecting" in [row.stage_name for row in page.context["history"].rows]


def test_detail_shows_stage_history_and_push_count(client, rep, freeze_clock):
    now = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)
    freeze_clock(now - datetime.timedelta(days=10))
    target = deal(rep, amount="500.00")
    freeze_clock(now - datetime.timedelta(days=6))
    opportunity_update(actor=rep, opportunity=target, data={"close_date": "2027-02-01"})
    freeze_clock(now - datetime.timedelta(days=4))
    opportunity_update(actor=rep, opportunity=target, data={"stage": "Qualification"})
    freeze_clock(now)

    response = client.get(f"/opportunities/{target.public_id}/")

    content = response.content.decode()
    assert "Close date pushed 1 time<" in content
    for label in (
        "Stage",
        "Amount",
        "Probability",
        "Close Date",
        "Changed By",
        "Changed On",
        "Days in stage",
    ):
        assert f">{label}</th>" in content
    rows = response.context["history"].rows
    assert [(row.stage_name, row.days_in_stage) for row in rows] == [
        ("Qualification", 4),
        ("Prospecting", None),
        ("Prospecting", 6),
    ]
    assert rows[0].changed_by == "Rita Rep"


def test_detail_is_a_404_for_another_reps_private_deal(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    theirs = deal(UserFactory(), name="Secret deal")

    for url in (
        f"/opportunities/{theirs.public_id}/",
        f"/opportunities/{theirs.public_id}/edit/",
        f"/opportunities/{theirs.public_id}/delete/",
        f"/opportunities/{theirs.public_id}/stage/?stage=Qualification",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Secret deal" not in response.content
    moved = client.post(
        f"/opportunities/{theirs.public_id}/stage/", {"stage": "Qualification"}, **JSON
    )
    assert moved.status_code == 404
    theirs.refresh_from_db()
    assert theirs.stage.name == "Prospecting"
    assert client.get("/opportunities/006000000000000AAA/").status_code == 404
    assert client.get("/opportunities/not-an-id/").status_code == 404


def test_detail_escapes_user_data(client, rep):
    account = AccountFactory(owner=rep, name=XSS)
    target = deal(rep, name=XSS, account=account, description=XSS, next_step=XSS)
    contact_role_set(
        actor=rep, opportunity=target, contact=ContactFactory(owner=rep, last_name=XSS)
    )

    content = client.get(f"/opportunities/{target.public_id}/").content

    assert XSS.encode() not in content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_detail_query_count_does_not_grow_with_history_and_contact_roles(client, rep):
    target = deal(rep)
    account = AccountFactory(owner=rep)

    def queries_for(number):
        for index in range(number):
            opportunity_update(actor=rep, opportunity=target, data={"amount": str(1000 + index)})
            contact_role_set(
                actor=rep,
                opportunity=target,
                contact=ContactFactory(owner=rep, account=account),
                role="Evaluator",
            )
        client.get(f"/opportunities/{target.public_id}/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/opportunities/{target.public_id}/").status_code == 200
        return len(queries)

    few = queries_for(5)
    # The timeline names the records its changes point at, one query per kind of record
    # (web/timeline.py): the 5-event window holds the creation event, which names the
    # owner (a User); the newest 50 of the 90 events do not. Rows add no query.
    assert queries_for(45) == few - 1


def test_detail_links_to_add_a_task_about_the_deal(client, rep):
    target = deal(rep)
    content = client.get(f"/opportunities/{target.public_id}/").content.decode()
    if "_task_form" not in content and "task_new" not in content:
        assert (
            f'href="/tasks/new/?what={target.public_id}"' in content
            or 'action="/tasks/new/"' in content
        )


# ---------------------------------------------------------------------------------------
# Contact roles


def test_contact_roles_add_make_primary_and_remove(client, rep):
    target = deal(rep)
    ada = ContactFactory(owner=rep, first_name="Ada", last_name="Lovelace")
    bob = ContactFactory(owner=rep, first_name="Bob", last_name="Builder")

    added = client.post(
        f"/opportunities/{target.public_id}/contact-roles/",
        {"contact_id": ada.public_id, "role": "Decision Maker", "is_primary": "on"},
    )
    assert (added.status_code, added["Location"]) == (302, f"/opportunities/{target.public_id}/")
    client.post(
        f"/opportunities/{target.public_id}/contact-roles/",
        {"contact_id": bob.public_id, "role": "Evaluator"},
    )
    page = client.get(f"/opportunities/{target.public_id}/")
    assert [(r.contact_name, r.role, r.is_primary) for r in page.context["contact_roles"]] == [
        ("Ada Lovelace", "Decision Maker", True),
        ("Bob Builder", "Evaluator", False),
    ]
    assert b'Make primary<span class="visually-hidden"> Bob Builder</span>' in page.content

    bob_role = OpportunityContactRole.objects.get(contact=bob)
    client.post(f"/contact-roles/{bob_role.public_id}/primary/")
    primary = OpportunityContactRole.objects.get(is_primary=True)
    assert primary.contact == bob

    removed = client.post(f"/contact-roles/{bob_role.public_id}/delete/")
    assert removed["Location"] == f"/opportunities/{target.public_id}/"
    assert list(OpportunityContactRole.objects.values_list("contact_id", flat=True)) == [ada.pk]
    assert client.get(f"/contact-roles/{bob_role.public_id}/delete/").status_code in (404, 405)


def test_a_contact_role_without_a_contact_shows_the_error_beside_it(client, rep):
    target = deal(rep)

    response = client.post(
        f"/opportunities/{target.public_id}/contact-roles/", {"contact_id": "", "role": "Other"}
    )

    assert response.status_code == 400
    form = response.context["role_form"]
    assert "contact_id" in form.errors
    assert OpportunityContactRole.objects.count() == 0


def test_contact_roles_of_another_reps_private_deal_are_404(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.PRIVATE)
    theirs = deal(UserFactory())
    contact = ContactFactory(owner=rep)
    role = contact_role_set(actor=theirs.owner, opportunity=theirs, contact=contact)

    assert (
        client.post(
            f"/opportunities/{theirs.public_id}/contact-roles/", {"contact_id": contact.public_id}
        ).status_code
        == 404
    )
    assert client.post(f"/contact-roles/{role.public_id}/primary/").status_code == 404
    assert client.post(f"/contact-roles/{role.public_id}/delete/").status_code == 404
    assert OpportunityContactRole.objects.filter(pk=role.pk, is_primary=False).exists()


# ---------------------------------------------------------------------------------------
# Create, edit, delete


def test_new_opportunity_with_errors_beside_fields_then_created(client, rep):
    account = AccountFactory(owner=rep, name="Acme Corp")
    form = client.get("/opportunities/new/", {"account": account.public_id})
    assert form.status_code == 200
    values = form.context["form"].values
    assert (values["account_id"], values["stage_name"], values["owner_id"]) == (
        account.public_id,
        "Prospecting",
        rep.public_id,
    )
    assert b'value="Acme Corp"' in form.content
    # Fields the service fills when left blank are not marked required, and say so.
    page = form.content.decode()
    for input_id, label, hint in (
        ("id_probability", "Probability", "From the stage when left blank."),
        ("id_forecast_category_name", "Forecast Category", "From the stage when left blank."),
        ("id_owner_id", "Owner", "You, when left blank."),
    ):
        assert (
            f'<label class="form-label" for="{input_id}">{label}</label>\n'
            f'  <div class="form-hint mb-1" id="{input_id}_hint">{hint}</div>'
        ) in page
    assert '<label class="form-label required" for="id_name">' in page

    refused = client.post(
        "/opportunities/new/",
        {
            "name": "",
            "close_date": "2026-05-01",
            "stage_name": "Prospecting",
            "account_id": account.public_id,
        },
    )
    assert refused.status_code == 400
    assert "name" in refused.context["form"].errors
    assert Opportunity.objects.count() == 0

    created = client.post(
        "/opportunities/new/",
        {
            "name": "Acme renewal",
            "close_date": "2026-05-01",
            "stage_name": "Qualification",
            "account_id": account.public_id,
            "amount": "1200.50",
            "probability": "",
            "forecast_category_name": "",
            "owner_id": rep.public_id,
        },
    )
    made = Opportunity.objects.get()
    assert (created.status_code, created["Location"]) == (302, f"/opportunities/{made.public_id}/")
    assert (made.name, made.account, made.amount, made.probability, made.owner) == (
        "Acme renewal",
        account,
        Decimal("1200.50"),
        10,
        rep,
    )


def test_edit_changes_the_stage_and_probability_follows_it(client, rep):
    target = deal(rep)
    form = client.get(f"/opportunities/{target.public_id}/edit/")
    values = dict(form.context["form"].values)
    assert values["stage_name"] == "Prospecting"
    # A date input takes an ISO date, not the locale's "Dec. 1, 2026".
    assert values["close_date"] == soon().isoformat()
    expected = f'type="date" id="id_close_date" name="close_date" value="{soon().isoformat()}"'
    assert expected in form.content.decode()
    posted = {name: ("" if value is None else value) for name, value in values.items()}
    posted["stage_name"] = "Proposal/Price Quote"
    posted["name"] = "Renamed"

    response = client.post(f"/opportunities/{target.public_id}/edit/", posted)

    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.name, target.stage.name, target.probability) == (
        "Renamed",
        "Proposal/Price Quote",
        75,
    )


def test_edit_to_a_lost_stage_needs_a_loss_reason(client, rep):
    target = deal(rep)
    values = client.get(f"/opportunities/{target.public_id}/edit/").context["form"].values
    posted = {name: ("" if value is None else value) for name, value in values.items()}
    posted["stage_name"] = "Closed Lost"

    response = client.post(f"/opportunities/{target.public_id}/edit/", posted)

    assert response.status_code == 400
    assert (
        response.context["form"]
        .errors["loss_reason"]
        .startswith("Required when moving to the lost stage")
    )
    target.refresh_from_db()
    assert target.stage.name == "Prospecting"


def test_delete_asks_then_deletes(client, rep):
    target = deal(rep, name="Doomed")

    confirm = client.get(f"/opportunities/{target.public_id}/delete/")
    assert confirm.status_code == 200 and b"Delete opportunity Doomed?" in confirm.content
    assert Opportunity.objects.filter(pk=target.pk).exists()

    response = client.post(f"/opportunities/{target.public_id}/delete/")

    assert (response.status_code, response["Location"]) == (302, "/opportunities/")
    assert not Opportunity.objects.filter(pk=target.pk).exists()


def test_delete_of_a_read_only_deal_is_refused(client, rep):
    sharing_default_set(actor=None, object_name="Opportunity", access=Access.READ)
    theirs = deal(UserFactory())

    response = client.post(f"/opportunities/{theirs.public_id}/delete/")

    assert response.status_code == 403
    assert Opportunity.objects.filter(pk=theirs.pk).exists()
