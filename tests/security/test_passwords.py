"""The password rule: long enough, not a common password, not the user's name."""

from __future__ import annotations

import pytest

from cityvitals.users import add_user, set_password


@pytest.mark.parametrize(("password", "reason"), [
    ("short", "at least 10 characters"),
    ("password123", "most common passwords"),
    ("qwertyuiop", "most common passwords"),
    ("Password2024!", "most common passwords"),  # a common word with digits around it
    ("aaaaaaaaaaaa", "most common passwords"),
    ("zhang.wei is here 1", "must not contain the user name"),
])
def test_weak_passwords_are_refused_with_the_reason(sqlite_engine, password, reason):
    with pytest.raises(ValueError, match=reason):
        add_user(sqlite_engine, "zhang.wei", password, "analyst")


def test_a_good_password_is_taken_and_the_rule_holds_for_changes_too(sqlite_engine):
    add_user(sqlite_engine, "wu", "river gauge at dawn", "analyst")
    with pytest.raises(ValueError, match="most common"):
        set_password(sqlite_engine, "wu", "1234567890")
    assert set_password(sqlite_engine, "wu", "another long phrase")
