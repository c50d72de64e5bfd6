"""Server-side sessions: a random id in an HttpOnly, SameSite=Lax cookie; only its hash is stored.

Every visitor who sees a form gets a session (anonymous until log-in), because every form carries
the session's CSRF token. An anonymous session is stored nowhere: its cookie holds its expiry and
32 random bytes, and its CSRF token is an HMAC of the cookie under the data dir's secret salt, so
a visitor who never logs in (a crawler, a fuzzer, a page reload) writes no row. Logging in or signing up replaces the session with a new id (no session
fixation); logging out deletes it.

One-time forms: the "Create new secret key" form carries a single-use id. Posting it twice (a
reload of the page that shows the new key re-sends the form) is refused instead of making a
second key, and the page that answers shows no key at all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from keylab.sandbox.clock import Clock
from keylab.sandbox.store import Store

COOKIE_NAME = "keylab_session"
SESSION_SECONDS = 7 * 24 * 3600
ANONYMOUS_SECONDS = 24 * 3600
CSRF_FIELD = "csrf_token"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value; known only while handling the request that carries it
    user_id: str | None
    csrf_token: str
    expires_at: int
    is_new: bool = False

    @property
    def id_hash(self) -> str:
        return _hash(self.token)

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


ANONYMOUS_PREFIX = "a."


def _anonymous_csrf(store: Store, token: str) -> str:
    return hmac.new(store.salt, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _load_anonymous(store: Store, clock: Clock, token: str) -> Session | None:
    _, expires, _random = (token.split(".", 2) + ["", ""])[:3]
    if not expires.isdigit() or len(expires) > 12 or not _random or int(expires) <= clock.now_s():
        return None
    return Session(token, None, _anonymous_csrf(store, token), int(expires))


def load(store: Store, clock: Clock, token: str | None) -> Session | None:
    """The live session behind a cookie value, or None (unknown, expired, malformed)."""
    if not token or len(token) > 128 or not token.isascii():
        return None
    if token.startswith(ANONYMOUS_PREFIX):
        return _load_anonymous(store, clock, token)
    row = store.query_one("SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = ?", (_hash(token),))
    if row is None or row["expires_at"] <= clock.now_s():
        return None
    return Session(token, row["user_id"], row["csrf_token"], row["expires_at"])


def start(store: Store, clock: Clock, user_id: str | None = None, *, replace: Session | None = None) -> Session:
    """A new session (and drop `replace`, the one it succeeds: log-in rotates the id).

    An anonymous one (no user_id) is written nowhere; see the module's docstring."""
    now = clock.now_s()
    if user_id is None:
        expires = now + ANONYMOUS_SECONDS
        token = f"{ANONYMOUS_PREFIX}{expires}.{secrets.token_urlsafe(32)}"
        if replace is not None and not replace.token.startswith(ANONYMOUS_PREFIX):
            end(store, replace)
        return Session(token, None, _anonymous_csrf(store, token), expires, is_new=True)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_SECONDS
    with store.transaction() as db:
        if replace is not None and not replace.token.startswith(ANONYMOUS_PREFIX):  # those have no row
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (replace.id_hash,))
        db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        db.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_hash(token), user_id, csrf, now, expires, now),
        )
    return Session(token, user_id, csrf, expires, is_new=True)


def end(store: Store, session: Session) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM sessions WHERE id_hash = ?", (session.id_hash,))


def issue_form_nonce(store: Store, clock: Clock, session: Session, purpose: str) -> str:
    nonce = secrets.token_urlsafe(24)
    now = clock.now_s()
    with store.transaction() as db:
        db.execute("DELETE FROM one_time_forms WHERE created_at < ?", (now - ANONYMOUS_SECONDS,))
        db.execute(
            "INSERT INTO one_time_forms (nonce_hash, session_hash, purpose, created_at) VALUES (?, ?, ?, ?)",
            (_hash(nonce), session.id_hash, purpose, now),
        )
    return nonce


def use_form_nonce(store: Store, clock: Clock, session: Session, purpose: str, nonce: str | None) -> bool:
    """True exactly once per nonce issued to this session for this purpose."""
    if not nonce:
        return False
    with store.transaction() as db:
        updated = db.execute(
            "UPDATE one_time_forms SET used_at = ? WHERE nonce_hash = ? AND session_hash = ? AND purpose = ?"
            " AND used_at IS NULL",
            (clock.now_s(), _hash(nonce), session.id_hash, purpose),
        ).rowcount
    return updated == 1
