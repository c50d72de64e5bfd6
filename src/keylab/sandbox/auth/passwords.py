"""Password hashing with scrypt (hashlib.scrypt), a random 16-byte salt per user.

Stored as `scrypt$N$r$p$<salt b64>$<hash b64>` so the cost can be raised later: a hash made with
older parameters still verifies, and `needs_rehash` says when to upgrade it at the next log-in.
N=2**15, r=8, p=1 is the OWASP 2024 recommendation for scrypt (32 MiB, about 0.1 s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N = 2**15
R = 8
P = 1
DKLEN = 32
SALT_BYTES = 16
MIN_LENGTH = 12
MAX_LENGTH = 256  # long inputs cost scrypt nothing extra, but keep forms sane


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * n * r)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, DKLEN)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches; constant-time comparison; False for any malformed record."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) != 6 or parts[1:4] != [str(N), str(R), str(P)]


def password_problem(password: str, email: str = "") -> str | None:
    """Why a new password is refused, in words a learner can act on; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters for your password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters for your password."
    if email and password.lower() == email.lower():
        return "Your password must not be your email address."
    return None


def dummy_verify() -> None:
    """Spend the same time as a real check, so an unknown email cannot be told apart by timing."""
    _scrypt("not-a-password", b"keylab-dummy-salt", N, R, P, DKLEN)
