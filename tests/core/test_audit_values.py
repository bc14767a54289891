"""core.audit.ChangedValueText: one side of a field's change in the audit trail, as
text, on both databases."""

import pytest

from dealflow.core.audit import ChangedValueText
from dealflow.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_each_side_of_a_change_as_text():
    changes = [
        {"status": ["Open", "Qualified"]},
        {"status": ["Qualified", "Working"], "rating": ["", "Hot"]},
        {"rating": ["Cold", "Warm"]},
        {"status": [None, "New"]},
    ]
    events = [
        AuditEvent.objects.create(object_name="Lead", record_id=number, action="update", changes=c)
        for number, c in enumerate(changes, start=1)
    ]
    found = dict(
        AuditEvent.objects.filter(pk__in=[event.pk for event in events])
        .annotate(old=ChangedValueText("status", 0), new=ChangedValueText("status", 1))
        .values_list("record_id", "old")
    )
    assert found == {1: "Open", 2: "Qualified", 3: None, 4: None}
    new_values = sorted(
        AuditEvent.objects.filter(pk__in=[event.pk for event in events])
        .annotate(new=ChangedValueText("status", 1))
        .exclude(new=None)
        .values_list("new", flat=True)
    )
    assert new_values == ["New", "Qualified", "Working"]


@pytest.mark.parametrize("side", [-1, 2, "1"])
def test_a_side_other_than_old_or_new_is_refused(side):
    with pytest.raises(ValueError, match="expected 0 \\(old\\) or 1 \\(new\\)"):
        ChangedValueText("status", side)
