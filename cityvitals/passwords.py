"""The password rule: long enough, not one of the passwords every guessing list starts with.

After NIST SP 800-63B: length and a block list rather than composition rules. The block list is
the 30,000 most common passwords that zxcvbn ships (from leaked password dumps).
"""

from __future__ import annotations

import string
from functools import cache

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # scrypt of megabytes is a denial of service, not a password
_PADDING = string.digits + string.punctuation + " "  # what people add around a common word to pass a rule


@cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # imported on first use: it is a large table

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: object, name: str = "") -> str | None:
    """Why ``password`` is too weak for user ``name``; None if it will do."""
    if not isinstance(password, str):
        return "password must be text"
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must have at most {MAX_PASSWORD} characters"
    folded = password.lower()
    if folded in _common() or folded.strip(_PADDING) in _common() or len(set(folded)) < 4:
        return "password is one of the most common passwords (or one plus digits): choose another"
    if len(name) >= 3 and name.lower() in folded:
        return "password must not contain the user name"
    return None
