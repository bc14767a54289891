"""Round-robin under concurrent creates: only a real concurrent database shows the race."""

import threading
from collections import Counter

import pytest
from django.db import connection

from dealflow.automation.models import AssignmentDecision
from dealflow.automation.services import assignment_rules_set
from dealflow.leads.models import Lead
from dealflow.leads.services import lead_create
from dealflow.people.models import Role
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_at_once(count, work):
    """Run work(index) in `count` threads, each with its own connection, released together."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def worker(index):
        try:
            barrier.wait()
            outcomes[index] = work(index)
        except Exception as error:  # collected and asserted by the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_eight_concurrent_creates_three_rounds_deal_each_user_exactly_eight():
    admin = UserFactory(role=Role.ADMIN)
    creator = UserFactory()
    pool = UserFactory.create_batch(3)
    assignment_rules_set(
        actor=admin,
        rules={
            "default_owner_id": None,
            "entries": [
                {
                    "criteria": [],
                    "match": "all",
                    "assign_to": {
                        "kind": "round_robin",
                        "user_ids": [user.public_id for user in pool],
                        "capacity": None,
                    },
                }
            ],
        },
    )

    outcomes = []
    for round_number in range(3):
        outcomes += run_at_once(
            8,
            lambda index, round_number=round_number: lead_create(
                actor=creator,
                data={"last_name": f"Racer {round_number}-{index}", "company": "Race Ltd"},
            ),
        )

    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
    counts = Counter(Lead.objects.values_list("owner_user", flat=True))
    assert counts == {user.pk: 8 for user in pool}
    # Every lead has its decision, and consecutive decisions went round the pool in order.
    decisions = list(AssignmentDecision.objects.order_by("id").values_list("owner_user", flat=True))
    assert len(decisions) == 24
    order = [user.pk for user in pool]
    assert decisions == [order[index % 3] for index in range(24)]
