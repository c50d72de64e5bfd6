"""Billing in the sandbox: a test card, prepaid credit, and auto-recharge.

Only the test card 4242 4242 4242 4242 is accepted (any future expiry, any CVC); every other number
is declined with a message that says so. Purchases are at least $5 (help.openai.com 8264644; see
`keylab.platform_facts.MIN_CREDIT_PURCHASE_USD`). No card number is stored: only its last four digits.

Auto-recharge: when a billed call leaves the balance below the threshold, the saved card is charged
back up to the target balance (a listener on `Billing`, installed by the dashboard).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from keylab.platform_facts import AUTO_RECHARGE_DEFAULT_ON, MIN_CREDIT_PURCHASE_USD
from keylab.pricing import format_usd, from_pico
from keylab.sandbox.accounts import balance_pico, grant_credit
from keylab.sandbox.billing import Settled
from keylab.sandbox.clock import Clock
from keylab.sandbox.platform._common import MAX_CENTS
from keylab.sandbox.store import Store

log = logging.getLogger("keylab.sandbox")

TEST_CARD = "4242424242424242"
MAX_PURCHASE_USD = Decimal("1000")  # the sandbox's stand-in for the trust-tier cap
DEFAULT_THRESHOLD_CENTS = 500
DEFAULT_TARGET_CENTS = 1000


class PaymentError(ValueError):
    """A refused purchase or setting; the message is shown on the Billing page."""


@dataclass(frozen=True)
class BillingSettings:
    card_brand: str | None
    card_last4: str | None
    auto_recharge: bool
    threshold_cents: int
    target_cents: int

    @property
    def has_card(self) -> bool:
        return self.card_last4 is not None


MAX_AMOUNT_USD = MAX_CENTS // 100  # any amount a form takes; far above a course's needs, and its cents fit SQLite


def parse_usd(text: Any, label: str) -> Decimal:
    try:
        amount = Decimal(str(text).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise PaymentError(f"{label}: enter an amount in US dollars, such as 10 or 12.50.") from None
    if not amount.is_finite() or amount < 0:
        raise PaymentError(f"{label}: enter an amount of zero or more.")
    if amount > MAX_AMOUNT_USD:
        raise PaymentError(f"{label}: enter at most ${MAX_AMOUNT_USD:,}.")
    if amount != amount.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        raise PaymentError(f"{label}: use whole cents (at most two decimals).")
    return amount


def to_cents(amount: Decimal) -> int:
    return int(amount * 100)


def settings(store: Store, org_id: str) -> BillingSettings:
    row = store.query_one("SELECT * FROM billing_settings WHERE org_id = ?", (org_id,))
    if row is None:
        return BillingSettings(None, None, False, DEFAULT_THRESHOLD_CENTS, DEFAULT_TARGET_CENTS)
    return BillingSettings(row["card_brand"], row["card_last4"], bool(row["auto_recharge"]),
                           row["recharge_threshold_cents"], row["recharge_target_cents"])


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return total % 10 == 0


def check_card(clock: Clock, number: str, expiry: str, cvc: str) -> str:
    """The card's digits if it is the test card with a valid expiry and CVC; PaymentError otherwise."""
    digits = re.sub(r"[\s-]", "", number or "")
    if not re.fullmatch(r"\d{12,19}", digits) or not _luhn_ok(digits):
        raise PaymentError("Your card number is incomplete or incorrect.")
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or "")
    if not match or not 1 <= int(match[1]) <= 12:
        raise PaymentError("Enter the card's expiry date as MM/YY.")
    year = int(match[2]) + (2000 if len(match[2]) == 2 else 0)
    today = dt.datetime.fromtimestamp(clock.now(), dt.timezone.utc).date()
    if (year, int(match[1])) < (today.year, today.month):
        raise PaymentError("Your card has expired.")
    if not re.fullmatch(r"\d{3,4}", (cvc or "").strip()):
        raise PaymentError("Enter the 3 or 4 digit security code (CVC).")
    if digits != TEST_CARD:
        raise PaymentError("Your card was declined. This is the sandbox: only the test card "
                           "4242 4242 4242 4242 is accepted, and no real card is ever charged.")
    return digits


def _record(db: Any, org_id: str, cents: int, last4: str, status: str, reason: str, now: int) -> None:
    db.execute("INSERT INTO payments (org_id, amount_cents, card_last4, status, reason, created_at)"
               " VALUES (?, ?, ?, ?, ?, ?)", (org_id, cents, last4, status, reason, now))


def purchase(store: Store, clock: Clock, org_id: str, *, card_number: str, expiry: str, cvc: str,
             amount: Any, auto_recharge: bool | None = None) -> Decimal:
    """Buy credit with the test card, save the card (last four digits) and return the amount bought."""
    usd = parse_usd(amount, "Amount")
    if usd < MIN_CREDIT_PURCHASE_USD:
        raise PaymentError(f"The minimum purchase is {format_usd(MIN_CREDIT_PURCHASE_USD)}.")
    if usd > MAX_PURCHASE_USD:
        raise PaymentError(f"The sandbox accepts at most {format_usd(MAX_PURCHASE_USD)} per purchase.")
    now = clock.now_s()
    try:
        digits = check_card(clock, card_number, expiry, cvc)
    except PaymentError:
        raw = re.sub(r"\D", "", card_number or "")
        with store.transaction() as db:
            _record(db, org_id, to_cents(usd), raw[-4:] if len(raw) >= 4 else "????", "declined", "purchase", now)
        raise
    grant_credit(store, clock, org_id, usd, "test card ending 4242")
    enabled = AUTO_RECHARGE_DEFAULT_ON if auto_recharge is None else auto_recharge
    with store.transaction() as db:
        _record(db, org_id, to_cents(usd), digits[-4:], "succeeded", "purchase", now)
        db.execute(
            "INSERT INTO billing_settings (org_id, card_brand, card_last4, card_added_at, auto_recharge,"
            " recharge_threshold_cents, recharge_target_cents, updated_at) VALUES (?, 'Visa', ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(org_id) DO UPDATE SET card_brand = 'Visa', card_last4 = excluded.card_last4,"
            " card_added_at = excluded.card_added_at, auto_recharge = excluded.auto_recharge,"
            " updated_at = excluded.updated_at",
            (org_id, digits[-4:], now, int(enabled), DEFAULT_THRESHOLD_CENTS, DEFAULT_TARGET_CENTS, now),
        )
    return usd


def save_auto_recharge(store: Store, clock: Clock, org_id: str, *, enabled: bool, threshold: Any,
                       target: Any) -> BillingSettings:
    threshold_usd = parse_usd(threshold, "When the balance falls below")
    target_usd = parse_usd(target, "Bring the balance back up to")
    if target_usd < threshold_usd + MIN_CREDIT_PURCHASE_USD:
        raise PaymentError("The target balance must be at least "
                           f"{format_usd(MIN_CREDIT_PURCHASE_USD)} above the threshold (the minimum purchase).")
    if target_usd > MAX_PURCHASE_USD:
        raise PaymentError(f"The sandbox accepts a target balance of at most {format_usd(MAX_PURCHASE_USD)}.")
    current = settings(store, org_id)
    if enabled and not current.has_card:
        raise PaymentError("Add a payment method first: buy credit with the test card, then turn on auto-recharge.")
    now = clock.now_s()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO billing_settings (org_id, auto_recharge, recharge_threshold_cents, recharge_target_cents,"
            " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(org_id) DO UPDATE SET"
            " auto_recharge = excluded.auto_recharge, recharge_threshold_cents = excluded.recharge_threshold_cents,"
            " recharge_target_cents = excluded.recharge_target_cents, updated_at = excluded.updated_at",
            (org_id, int(enabled), to_cents(threshold_usd), to_cents(target_usd), now),
        )
    return settings(store, org_id)


def balance_usd(store: Store, org_id: str) -> Decimal:
    return from_pico(balance_pico(store, org_id))


def maybe_auto_recharge(store: Store, clock: Clock, org_id: str) -> Decimal | None:
    """Charge the saved card back up to the target when the balance is below the threshold."""
    current = settings(store, org_id)
    if not current.auto_recharge or not current.has_card:
        return None
    balance = balance_usd(store, org_id)
    threshold = Decimal(current.threshold_cents) / 100
    if balance >= threshold:
        return None
    amount = (Decimal(current.target_cents) / 100 - balance).quantize(Decimal("0.01"))
    amount = max(amount, MIN_CREDIT_PURCHASE_USD)
    grant_credit(store, clock, org_id, amount, "auto-recharge, test card ending 4242")
    with store.transaction() as db:
        _record(db, org_id, to_cents(amount), current.card_last4 or "4242", "succeeded", "auto_recharge",
                clock.now_s())
    return amount


def recharge_listener(store: Store, clock: Clock) -> Callable[[Settled], None]:
    """The `Billing` listener that recharges a balance that ran low (installed by SandboxState)."""

    def listener(event: Settled) -> None:
        try:
            maybe_auto_recharge(store, clock, event.org_id)
        except Exception:  # a recharge must never turn a billed, answered call into an error
            log.exception("auto-recharge failed for %s", event.org_id)

    return listener


def payments(store: Store, org_id: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM payments WHERE org_id = ? ORDER BY id DESC LIMIT ?", (org_id, limit))
    return [dict(row) for row in rows]
