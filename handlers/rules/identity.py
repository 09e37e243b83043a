"""Proving a chat identity: roster phones, one-time invite codes, the daily limit on failures.

Knowing a roster line (工号 and 姓名) proves nothing on an open messenger: anyone may have
seen a list. What proves it is the person's own phone (the messenger vouches that the
shared contact is the sender's), a code handed over by their secretary or an admin, or
the secretary's word. The console is an operator's terminal on the server and a WeCom
userid is vouched for by the corp: there the roster line still binds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from handlers import access
from storage import Person, Repositories

TRUSTED_CHANNELS = frozenset({"console", "wecom"})
"""Channels whose sender ids someone already vouches for."""
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a code is read off paper and typed on a phone."""
CODE_LENGTH = 8
CODE_VALID = timedelta(days=7)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=24)
_HASH_ROUNDS = 20_000  # codes live a week, a leaked file should not give them away at once
_CODE_CHARS = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


def binds_on_knowledge(channel: str, person: Person | None = None) -> bool:
    """May a roster line alone bind a sender of this channel (as `person`, if it matched)?

    On WeCom the corp vouches that the sender is one of its people, not which one: a
    privileged role still needs a code there (or its userid in the roster)."""
    if channel == "wecom" and person is not None and not access.may_be_vouched_for(person):
        return False
    return channel in TRUSTED_CHANNELS


def normalise_phone(text: str) -> str:
    """Digits only, without a leading +86 / 0086 / 86 country code."""
    digits = re.sub(r"\D", "", text)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            return digits[len(prefix) :]
    return digits


def as_code(text: str) -> str | None:
    """The invite code `text` spells (any case, spaces and dashes ignored), or None."""
    code = re.sub(r"[\s-]", "", text).upper()
    return code if _CODE_CHARS.match(code) else None


def _hash(code: str, salt: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt), _HASH_ROUNDS)
    return digest.hex()


async def issue_code(
    repos: Repositories, person_id: int, issued_by: int | None, now: datetime
) -> tuple[str, datetime]:
    """A fresh code for the person (replacing their unused one) and when it expires."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    salt = secrets.token_hex(16)
    expires = now + CODE_VALID
    await repos.proofs.issue_code(person_id, salt, _hash(code, salt), issued_by, now, expires)
    return code, expires


async def matching_code(
    repos: Repositories, person_id: int, code: str, now: datetime
) -> int | None:
    """The id of the person's open code if `code` is it (use it with `repos.proofs.use_code`)."""
    stored = await repos.proofs.open_code(person_id, now)
    if stored is None or not hmac.compare_digest(stored.code_hash, _hash(code, stored.salt)):
        return None
    return stored.id


async def phone_matches(repos: Repositories, person_id: int, shared: str) -> bool:
    roster = await repos.people.phone_of(person_id)
    return bool(roster) and normalise_phone(shared) == roster


async def locked_out(repos: Repositories, channel: str, sender_id: str, now: datetime) -> bool:
    """Has this sender failed too often lately to try again?"""
    failures = await repos.proofs.failures_since(channel, sender_id, now - FAILURE_WINDOW)
    return failures >= MAX_FAILURES
