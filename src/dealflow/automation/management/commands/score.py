"""`dealflow score`: recompute the rule scores and Ratings of every open lead, and their
predicted likelihoods when a model is trained; `dealflow score train` trains the
predictive model; `dealflow score predict` recomputes the likelihoods only."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from dealflow.automation import predictive
from dealflow.automation.tasks import predict_leads, score_leads
from dealflow.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Recompute the rule scores and Ratings of every open lead, set-based, in batches "
        "of 5,000 leads, and their predicted likelihoods when a model is trained; "
        "`score train` trains the predictive model on the closed leads, `score predict` "
        "recomputes the likelihoods only (docs/scoring.md)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action")
        train = actions.add_parser(
            "train",
            help="train the predictive model on the closed leads, print its held-out AUC "
            "and calibration table, then recompute the likelihoods of the open leads",
        )
        train.add_argument(
            "--minimum-leads",
            type=int,
            default=predictive.MINIMUM_LEADS,
            help="refuse to train with fewer closed leads (default: %(default)s)",
        )
        train.add_argument(
            "--minimum-converted",
            type=int,
            default=predictive.MINIMUM_CONVERTED,
            help="refuse to train with fewer converted leads (default: %(default)s)",
        )
        actions.add_parser(
            "predict", help="recompute the predicted likelihoods of the open leads only"
        )

    def handle(self, *args, **options):
        action = options.get("action")
        if action == "train":
            self.handle_train(options)
        elif action == "predict":
            self.predict()
        else:
            started = time.monotonic()
            scored = score_leads(None)
            elapsed = time.monotonic() - started
            self.stdout.write(f"scored {scored} leads in {elapsed:.1f} s")
            self.predict(quiet_without_model=True)

    def predict(self, *, quiet_without_model: bool = False) -> None:
        if predictive.active_model() is None:
            if not quiet_without_model:
                self.stdout.write("No predictive model is trained yet: run `dealflow score train`.")
            return
        started = time.monotonic()
        predicted = predict_leads(None)
        elapsed = time.monotonic() - started
        self.stdout.write(f"predicted the likelihoods of {predicted} leads in {elapsed:.1f} s")

    def handle_train(self, options) -> None:
        started = time.monotonic()
        try:
            model = predictive.predictive_model_train(
                actor=None,
                minimum_leads=options["minimum_leads"],
                minimum_converted=options["minimum_converted"],
            )
        except DomainError as refused:
            raise CommandError(refused.message) from None
        elapsed = time.monotonic() - started
        figures = model.figures
        rows = figures["rows"]
        self.stdout.write(
            f"trained on {rows['leads']} closed leads ({rows['converted']} converted) "
            f"in {elapsed:.1f} s, {model.trained_at:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(
            f"rows: {rows['training']} to fit, {rows['calibration']} to calibrate, "
            f"{rows['held_out']} held out ({rows['held_out_converted']} converted)"
        )
        self.stdout.write(f"held-out AUC: {figures['auc']:.3f}")
        self.stdout.write("calibration on the held-out leads (percent):")
        self.stdout.write("  decile  leads  predicted  observed")
        for line in figures["calibration"]:
            self.stdout.write(
                f"  {line['decile']:>6}  {line['leads']:>5}  {line['predicted']:>9.1f}"
                f"  {line['observed']:>8.1f}"
            )
        self.predict()
