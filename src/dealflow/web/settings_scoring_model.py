"""Settings -> Scoring model (admins and managers): the predictive scoring model's
figures (docs/scoring.md, "Predictive scoring"): when it was trained, the leads it
learnt from, its held-out AUC, the calibration table and its strongest coefficients in
words, or, before the first training, how much history there is against what a
training needs.

Read-only: training is `dealflow score train` or the weekly task. Everything comes from
automation.predictive.model_report, which refuses a rep (a 403 page here, as
`GET /api/v1/settings/scoring/model` answers 403).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealflow.automation.predictive import model_report
from dealflow.core.access import is_admin
from dealflow.web.pages import page_view, signed_in_user
from dealflow.web.settings_forms import settings_page

URL_NAME = "settings_scoring_model"


def _whole(number: int) -> str:
    return f"{number:,}"


def _auc_words(auc: float) -> str:
    """How good an AUC is, in the usual words of the trade (0.5 a coin toss)."""
    if auc >= 0.9:
        return "excellent"
    if auc >= 0.8:
        return "good"
    if auc >= 0.7:
        return "fair"
    if auc >= 0.6:
        return "weak"
    return "no better than chance"


@page_view
def scoring_model(request: HttpRequest, **_ids: str) -> HttpResponse:
    """The active model's figures, or its absence with the history counted (two
    queries). A rep gets the 403 page; a manager sees it without the settings'
    navigation (the other settings pages are an admin's)."""
    user = signed_in_user(request)
    report = model_report(actor=user)
    # Whole numbers with thousands separators, as the rest of the pages show them.
    counts = {
        "closed_leads": _whole(report.closed_leads),
        "converted": _whole(report.converted),
        "minimum_leads": _whole(report.minimum_leads),
        "minimum_converted": _whole(report.minimum_converted),
    }
    context: dict = {"report": report, "counts": counts}
    model = report.model
    if model is not None:
        figures = model.figures
        context.update(
            auc=figures["auc"],
            auc_words=_auc_words(figures["auc"]),
            rows={name: _whole(number) for name, number in figures["rows"].items()},
            calibration=[{**row, "leads": _whole(row["leads"])} for row in figures["calibration"]],
        )
    else:
        leads_missing = max(report.minimum_leads - report.closed_leads, 0)
        converted_missing = max(report.minimum_converted - report.converted, 0)
        context.update(
            leads_missing=leads_missing,
            converted_missing=converted_missing,
            counts={
                **counts,
                "leads_missing": _whole(leads_missing),
                "converted_missing": _whole(converted_missing),
            },
        )
    # A manager's frame leaves out the other settings pages, which are an admin's.
    context["frame"] = (
        "web/settings/_layout.html" if is_admin(user) else "web/settings/_manager_frame.html"
    )
    return settings_page(request, "web/settings/scoring_model.html", URL_NAME, context)
