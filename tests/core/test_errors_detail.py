"""DomainError.detail: a refusal's words without the field name a page already shows."""

from dealflow.core.errors import DomainError, ErrorCode


def refusal(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_EMAIL_ADDRESS, message, ["email"])


def test_the_field_prefix_is_removed():
    assert refusal("email: 'x' is not an email address").detail("email") == (
        "'x' is not an email address"
    )


def test_the_first_matching_name_is_removed_once():
    error = DomainError(ErrorCode.NOT_FOUND, "account: account: no such account", ["account_id"])
    assert error.detail("account_id", "account") == "account: no such account"


def test_a_message_about_another_field_or_none_is_kept_whole():
    assert refusal("phone: too long").detail("email") == "phone: too long"
    assert refusal("Required fields are missing: email").detail("email") == (
        "Required fields are missing: email"
    )
    assert refusal("email: x").detail("") == "email: x"
