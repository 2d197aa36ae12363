"""What a password and a username may be.

Passwords: 8 to 1024 characters (argon2 reads every byte, so a megabyte of password
would cost a megabyte of hashing), not only whitespace, and not among the most
common passwords. The list is zxcvbn's (frequency-ranked, from leaked password
sets), used here instead of a list of our own.

Usernames: NFKC-normalised and trimmed, without control, format (zero-width,
direction) or separator characters, in one script, and not a lookalike of an
existing name: two names whose confusable skeletons (Unicode's confusables data
through ``confusable_homoglyphs``, then case-folded) are equal are the same name.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from typing import Any

from confusable_homoglyphs import confusables

from audit.errors import StoreError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 150
COMMON_PASSWORDS_CHECKED = 10_000  # the top of zxcvbn's ranked list that is refused
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_PASSWORDS_CHECKED])


def check_password(password: Any) -> str:
    """Return the password if it may be used, else raise StoreError saying why."""
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise StoreError(f"a password must be text of at least {MIN_PASSWORD_LENGTH} characters "
                         f"(and at most {MAX_PASSWORD_LENGTH})")
    if not password.strip():
        raise StoreError("a password cannot be only whitespace")
    if password.casefold() in _common_passwords() or password.strip().casefold() in _common_passwords():
        raise StoreError("that password is one of the most common passwords; choose another")
    return password


def lookup_name(username: Any) -> str | None:
    """The form a username is stored in, for signing in; None if it cannot be one."""
    if not isinstance(username, str) or len(username) > 4 * MAX_USERNAME_LENGTH:
        return None
    return unicodedata.normalize("NFKC", username).strip()


def check_username(username: Any) -> str:
    """The normalised username, or StoreError if it has characters a name may not have."""
    name = lookup_name(username)
    if name is None or not 1 <= len(name) <= MAX_USERNAME_LENGTH:
        shown = len(username) if isinstance(username, str) else type(username).__name__
        raise StoreError(f"username must be 1 to {MAX_USERNAME_LENGTH} characters, got {shown}")
    bad = [ch for ch in name if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or (ch.isspace() and ch != " ")]
    if bad:
        raise StoreError(f"username {name!r} contains invisible or control characters "
                         f"({', '.join(f'U+{ord(c):04X}' for c in bad[:3])})")
    if confusables.is_mixed_script(name):
        raise StoreError(f"username {name!r} mixes scripts (for example Latin and Cyrillic letters); "
                         "use letters of one script")
    return name


def skeleton(name: str) -> str:
    """What a name looks like: each character replaced by an ASCII lookalike when it has one, case-folded."""
    out = []
    for ch in name:
        if not ch.isascii():
            ascii_like = [g["c"] for g in confusables.confusables_data.get(ch, ())
                          if len(g["c"]) == 1 and g["c"].isascii()]
            ch = ascii_like[0] if ascii_like else ch
        out.append(ch)
    return "".join(out).casefold()


def lookalike_of(name: str, existing: Iterable[str]) -> str | None:
    """An existing name that ``name`` would be mistaken for, if any."""
    target = skeleton(name)
    return next((other for other in existing if skeleton(other) == target), None)
