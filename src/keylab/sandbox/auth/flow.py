"""The account flow of the platform: sign up, verify the email, verify the phone, create the organization.

Every secret here is single-use and short-lived, and only its keyed hash is stored:

- email link: 32 random bytes, valid 24 hours, one use;
- SMS code: 6 digits, valid 10 minutes, at most 5 wrong tries, then a new code is needed;
  at most 5 codes (and 5 emails) per hour per user;
- log-in: after 5 failures for one email from one address (20 from one address, 50 for one email from
  all addresses) within 15 minutes, log-in waits.

Times come from the sandbox clock, so a lesson (or a test) can move time forward and watch a code expire.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass

from keylab.sandbox.accounts import create_organization, new_id
from keylab.sandbox.auth import passwords
from keylab.sandbox.clock import Clock
from keylab.sandbox.platform import outbox
from keylab.sandbox.store import Store

EMAIL_LINK_SECONDS = 24 * 3600
SMS_CODE_SECONDS = 10 * 60
SMS_MAX_ATTEMPTS = 5
SENDS_PER_HOUR = 5
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_MAX_FAILURES_PER_EMAIL = 5
LOGIN_MAX_FAILURES_PER_CLIENT = 20
LOGIN_MAX_FAILURES_PER_ACCOUNT = 50  # from all addresses together

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


class FlowError(Exception):
    """A refusal the page shows as it is (status: the HTTP status of that page)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SentMessage:
    to: str
    subject: str


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _code_hash(store: Store, user_id: str, code: str) -> str:
    return hmac.new(store.salt, f"sms:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise FlowError("Enter a valid email address, such as ada@example.com.")
    return email


def normalize_phone(phone: str) -> str:
    """E.164 (+ and 8 to 15 digits); spaces, dots, dashes and brackets are dropped."""
    cleaned = re.sub(r"[\s().-]", "", phone or "")
    if not cleaned.startswith("+"):
        raise FlowError("Include your country code, starting with +, such as +1 555 010 0199.")
    if not re.fullmatch(r"\+[1-9]\d{7,14}", cleaned):
        raise FlowError("Enter a phone number of 8 to 15 digits after the +, such as +1 555 010 0199.")
    return cleaned


def get_user(store: Store, user_id: str | None) -> sqlite3.Row | None:
    if not user_id:
        return None
    return store.query_one("SELECT * FROM users WHERE id = ?", (user_id,))


def organization_of(store: Store, user_id: str) -> sqlite3.Row | None:
    return store.query_one(
        "SELECT * FROM organizations WHERE owner_user_id = ? ORDER BY created_at, id LIMIT 1", (user_id,)
    )


def verified_member_emails(store: Store, org_id: str) -> set[str]:
    """The lower-cased, verified email addresses of the organization's members (who may get its alerts)."""
    rows = store.query("SELECT u.email FROM users u JOIN organizations o ON o.owner_user_id = u.id"
                       " WHERE o.id = ? AND u.email_verified_at IS NOT NULL", (org_id,))
    return {row[0].lower() for row in rows}


def next_step(store: Store, user: sqlite3.Row) -> str | None:
    """Where an unfinished account must go next, or None when it may use the dashboard."""
    if user["email_verified_at"] is None:
        return "/verify-email"
    if user["phone_verified_at"] is None:
        return "/verify-phone"
    if organization_of(store, user["id"]) is None:
        return "/onboarding"
    return None


# -- sign up and the email link ------------------------------------------------------------------


def sign_up(store: Store, clock: Clock, *, email: str, password: str, name: str = "") -> str:
    """A new, unverified user; returns its id. The password is kept as an scrypt hash only."""
    email = normalize_email(email)
    problem = passwords.password_problem(password, email)
    if problem:
        raise FlowError(problem)
    name = (name or "").strip()[:100] or email.split("@")[0]
    user_id = new_id("user-")
    password_hash = passwords.hash_password(password)
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone():
            if db.execute("SELECT 1 FROM classroom_students WHERE email = ?", (email,)).fetchone():
                local, _, domain = email.partition("@")
                raise FlowError(
                    "This address is your class account on this sandbox: your instructor manages it, it has no "
                    "password, and its key is the one in your .env. To practise signing up, use another address, "
                    f"for example {local}+practice@{domain}.", 409)
            raise FlowError("An account with this email already exists. Log in instead.", 409)
        db.execute(
            "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (user_id, email, name, password_hash, clock.now_s()),
        )
    return user_id


def _check_send_budget(store: Store, clock: Clock, table: str, user_id: str) -> None:
    row = store.query_one(f"SELECT COUNT(*) FROM {table} WHERE user_id = ? AND created_at > ?",
                          (user_id, clock.now_s() - 3600))
    if row and row[0] >= SENDS_PER_HOUR:
        raise FlowError("Too many messages were sent in the last hour. Wait a while, then try again.", 429)


def send_email_verification(store: Store, clock: Clock, user_id: str, base_url: str) -> SentMessage:
    """Mail a fresh confirmation link to the user's address (to the Outbox); older links stop working."""
    user = get_user(store, user_id)
    if user is None:
        raise FlowError("No such user.", 404)
    _check_send_budget(store, clock, "email_verifications", user_id)
    token = secrets.token_urlsafe(32)
    now = clock.now_s()
    with store.transaction() as db:
        db.execute("UPDATE email_verifications SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
                   (now, user_id))
        db.execute(
            "INSERT INTO email_verifications (token_hash, user_id, email, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (_sha(token), user_id, user["email"], now, now + EMAIL_LINK_SECONDS),
        )
    link = f"{base_url.rstrip('/')}/verify-email?token={token}"
    subject = "Verify your email address"
    body = (
        f"Hello {user['name']},\n\n"
        "Confirm that this is your email address to finish creating your account on the keylab sandbox "
        "platform (a practice copy of the OpenAI platform):\n\n"
        f"{link}\n\n"
        "The link works once and expires in 24 hours. If you did not sign up, ignore this message.\n"
    )
    outbox.send(store, clock, to=user["email"], subject=subject, body=body, kind="email", user_id=user_id)
    return SentMessage(user["email"], subject)


def verify_email(store: Store, clock: Clock, token: str) -> str:
    """Use a confirmation link; returns the user id it confirmed."""
    if not token or len(token) > 128:
        raise FlowError("This verification link is not valid. Send yourself a new one.")
    now = clock.now_s()
    with store.transaction() as db:
        row = db.execute("SELECT * FROM email_verifications WHERE token_hash = ?", (_sha(token),)).fetchone()
        if row is None or row["used_at"] is not None:
            raise FlowError("This verification link is not valid or was already used. Send yourself a new one.")
        if row["expires_at"] <= now:
            raise FlowError("This verification link has expired. Send yourself a new one.")
        db.execute("UPDATE email_verifications SET used_at = ? WHERE token_hash = ?", (now, row["token_hash"]))
        db.execute("UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ? AND email = ?",
                   (now, row["user_id"], row["email"]))
    return row["user_id"]


# -- the SMS code ----------------------------------------------------------------------------------


def send_sms_code(store: Store, clock: Clock, user_id: str, phone: str) -> str:
    """Text a new 6-digit code to `phone` (to the Outbox); returns the normalised number."""
    phone = normalize_phone(phone)
    _check_send_budget(store, clock, "sms_codes", user_id)
    code = f"{secrets.randbelow(10**6):06d}"
    now = clock.now_s()
    with store.transaction() as db:
        db.execute("UPDATE sms_codes SET used_at = ? WHERE user_id = ? AND used_at IS NULL", (now, user_id))
        db.execute(
            "INSERT INTO sms_codes (user_id, phone, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (user_id, phone, _code_hash(store, user_id, code), now, now + SMS_CODE_SECONDS),
        )
    body = f"Your keylab sandbox verification code is {code}. It expires in 10 minutes. Never share it."
    outbox.send(store, clock, to=phone, subject="Verification code", body=body, kind="sms", user_id=user_id)
    return phone


def verify_sms_code(store: Store, clock: Clock, user_id: str, code: str) -> None:
    """Check the latest code; a wrong code uses up one of its 5 tries."""
    code = re.sub(r"\s", "", code or "")
    now = clock.now_s()
    with store.transaction() as db:
        row = db.execute(
            "SELECT * FROM sms_codes WHERE user_id = ? AND used_at IS NULL ORDER BY id DESC LIMIT 1", (user_id,)
        ).fetchone()
        if row is None:
            raise FlowError("Send a code to your phone first.")
        if row["expires_at"] <= now:
            raise FlowError("This code has expired. Send a new code.")
        if row["attempts"] >= SMS_MAX_ATTEMPTS:
            raise FlowError("Too many wrong codes. Send a new code.", 429)
        good = re.fullmatch(r"\d{6}", code) is not None and hmac.compare_digest(
            _code_hash(store, user_id, code), row["code_hash"])
        if not good:
            db.execute("UPDATE sms_codes SET attempts = attempts + 1 WHERE id = ?", (row["id"],))
            left = SMS_MAX_ATTEMPTS - row["attempts"] - 1
            if left <= 0:
                wrong = FlowError("That code is not right, and it was the last try. Send a new code.", 429)
            else:
                wrong = FlowError(f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.")
        else:
            db.execute("UPDATE sms_codes SET used_at = ? WHERE id = ?", (now, row["id"]))
            db.execute("UPDATE users SET phone = ?, phone_verified_at = ? WHERE id = ?",
                       (row["phone"], now, user_id))
            return
    raise wrong  # after the transaction commits, so the used-up try is kept


# -- log in ------------------------------------------------------------------------------------------


def _failures_since(db: sqlite3.Connection, where: str, params: tuple[str, ...], since: int) -> tuple[int, int]:
    """(failures, oldest failure time) of the attempts matching `where`, after their last success
    within the window. An attempt still being checked counts as a failure until it succeeds."""
    last_ok = db.execute(f"SELECT MAX(created_at) FROM login_attempts WHERE {where} AND succeeded = 1",
                         params).fetchone()[0]
    start = since if last_ok is None else max(since, last_ok + 1)
    row = db.execute(f"SELECT COUNT(*), MIN(created_at) FROM login_attempts WHERE {where} AND succeeded = 0"
                     " AND created_at >= ?", (*params, start)).fetchone()
    return (int(row[0]), int(row[1] or 0)) if row else (0, 0)


def log_in(store: Store, clock: Clock, *, email: str, password: str, client: str) -> str:
    """The user id for a correct email and password; FlowError 401 otherwise, 429 when rate limited.

    The attempt is counted (written as a failure) in the same transaction that checks the limits,
    before the password is checked: concurrent attempts cannot all pass the check, so at most
    LOGIN_MAX_FAILURES_PER_EMAIL passwords are ever tried per account and address in a window.
    Failures are counted per account *from one address*, per address, and per account from all
    addresses (a higher bar): someone failing from their own machine locks themselves out, not the
    account's owner at another address.
    """
    now = clock.now_s()
    address = (email or "").strip().lower()[:254]
    since = now - LOGIN_WINDOW_SECONDS
    limits = (("email = ? AND client = ?", (address, client), LOGIN_MAX_FAILURES_PER_EMAIL),
              ("client = ?", (client,), LOGIN_MAX_FAILURES_PER_CLIENT),
              ("email = ?", (address,), LOGIN_MAX_FAILURES_PER_ACCOUNT))
    with store.transaction(config=False) as db:
        for where, params, limit in limits:
            failures, oldest = _failures_since(db, where, params, since)
            if failures >= limit:
                wait = max(1, (oldest + LOGIN_WINDOW_SECONDS - now + 59) // 60)
                raise FlowError(f"Too many failed log-in attempts. Try again in {wait} minute{'s' * (wait != 1)}.",
                                429)
        attempt = db.execute("INSERT INTO login_attempts (email, client, succeeded, created_at) VALUES (?, ?, 0, ?)",
                             (address, client, now)).lastrowid
    user = store.query_one("SELECT id, password_hash FROM users WHERE email = ?", (address,))
    if user is None:
        passwords.dummy_verify()
        ok = False
    else:
        ok = passwords.verify_password(password or "", user["password_hash"])
    if not ok:
        raise FlowError("Incorrect email or password.", 401)
    with store.transaction() as db:
        db.execute("UPDATE login_attempts SET succeeded = 1 WHERE id = ?", (attempt,))
        if passwords.needs_rehash(user["password_hash"]):
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                       (passwords.hash_password(password), user["id"]))
    return user["id"]


# -- onboarding ----------------------------------------------------------------------------------------


def create_first_organization(store: Store, clock: Clock, user_id: str, name: str) -> tuple[str, str]:
    """The user's organization and its Default project (accounts.create_organization)."""
    user = get_user(store, user_id)
    if user is None or user["email_verified_at"] is None or user["phone_verified_at"] is None:
        raise FlowError("Verify your email address and your phone number first.", 403)
    existing = organization_of(store, user_id)
    if existing is not None:
        project = store.query_one("SELECT id FROM projects WHERE org_id = ? AND is_default = 1", (existing["id"],))
        return existing["id"], project["id"] if project else ""
    name = (name or "").strip()[:80]
    if not name:
        raise FlowError("Give your organization a name, such as Personal.")
    return create_organization(store, clock, name=name, owner_user_id=user_id)
