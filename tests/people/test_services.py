"""People services: what user_create refuses."""

import pytest

from dealflow.core.errors import DomainError
from dealflow.people.models import User
from dealflow.people.services import user_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("username", ["bad user!", "two words", "semi;colon"])
def test_a_username_with_spaces_or_symbols_is_refused(username):
    with pytest.raises(DomainError) as refused:
        user_create(actor=None, username=username, password=None)
    assert (refused.value.code, refused.value.fields) == ("INVALID_FIELD", ["username"])
    assert not User.objects.filter(username=username).exists()


def test_a_username_of_letters_digits_and_symbols_django_allows_is_taken():
    user = user_create(actor=None, username="ana.lópez+1@x_y-z", password=None)
    assert User.objects.get(pk=user.pk).username == "ana.lópez+1@x_y-z"
