"""What every cost widget shares: two-way links between its traits and its controls, and money text."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ipywidgets as widgets
import traitlets

from keylab.pricing import PRICES_AS_OF, PRICING_URL, TIERS, as_usd, format_usd, get_model


def bind(owner: traitlets.HasTraits, name: str, control: widgets.Widget,
         to_control: Callable[[Any], Any] | None = None, from_control: Callable[[Any], Any] | None = None) -> None:
    """Keep `owner.name` and `control.value` equal, both ways (Python-side, so it works in Voilà too).

    A value the owner refuses (its validator raises) leaves both as they were: the control is put back."""
    to_control = to_control or (lambda value: value)
    from_control = from_control or (lambda value: value)
    busy = False

    def once(action: Callable[[Any], None]) -> Callable[[dict[str, Any]], None]:
        """An observer that ignores the echo of its own change coming back from the other side."""
        def observer(change: dict[str, Any]) -> None:
            nonlocal busy
            if busy:
                return
            busy = True
            try:
                action(change["new"])
            finally:
                busy = False
        return observer

    def to_owner(value: Any) -> None:
        try:
            setattr(owner, name, from_control(value))
        except (traitlets.TraitError, ValueError):
            control.value = to_control(getattr(owner, name))

    push = once(lambda value: setattr(control, "value", to_control(value)))
    pull = once(to_owner)
    control.value = to_control(getattr(owner, name))
    owner.observe(push, names=name)
    control.observe(pull, names="value")


def check_model(name: str) -> str:
    """`name` if the price table knows it; else a TraitError that says where the list is."""
    if get_model(name) is None:
        raise traitlets.TraitError(f"no price is known for model {name!r}; keylab.pricing.MODELS lists the "
                                   "models the table knows")
    return name


def check_tier(name: str) -> str:
    """`name` if it is one of the tiers; else a TraitError that lists them."""
    if name not in TIERS:
        raise traitlets.TraitError(f"unknown tier {name!r}: use one of {', '.join(TIERS)}")
    return name


class Tier(traitlets.Unicode):
    """A service tier's name; refuses one the price table does not know (`check_tier`)."""

    def validate(self, obj: Any, value: Any) -> str:
        return check_tier(super().validate(obj, value))


class Count(traitlets.Int):
    """A whole number of tokens, requests or days, `minimum` or more, refused with a message that
    names the trait (the controls bound it too, but code can set any value)."""

    def __init__(self, default_value: int, minimum: int = 0, **kwargs: Any) -> None:
        super().__init__(default_value, **kwargs)
        self.minimum = minimum

    def validate(self, obj: Any, value: Any) -> int:
        number = super().validate(obj, value)
        if number < self.minimum:
            raise traitlets.TraitError(f"{self.name} must be {self.minimum} or more; got {number}")
        return number


class Share(traitlets.Float):
    """A share from 0 to 1 (the cached part of a prompt)."""

    def validate(self, obj: Any, value: Any) -> float:
        share = super().validate(obj, value)
        if not 0 <= share <= 1:
            raise traitlets.TraitError(f"{self.name} is from 0 to 1 (0.25 = a quarter); got {share}")
        return share


def money(value: Decimal, places: int = 6) -> str:
    """`format_usd`, with a plain "$0" for nothing (easier to read in a table than "$0.000000")."""
    return format_usd(value, places) if value else "$0"


class Money(traitlets.TraitType):
    """A Decimal amount of dollars; accepts "2.50", 2.5 or Decimal("2.50"), refuses negatives."""

    default_value = Decimal(0)
    info_text = "an amount of dollars, 0 or more"

    def validate(self, obj: Any, value: Any) -> Decimal:
        try:
            amount = as_usd(value)  # a control's float stays 0.1, not 0.1000000000000000055…
        except ArithmeticError:
            self.error(obj, value)
        if not amount.is_finite() or amount < 0:
            self.error(obj, value)
        return amount


def source_line() -> str:
    return (f'<div style="color:#666;font-size:smaller">Prices as of {PRICES_AS_OF.isoformat()}, from '
            f'<a href="{PRICING_URL}" target="_blank">{PRICING_URL}</a> (run <code>keylab prices</code> '
            'to see if they are getting old).</div>')


def table(headers: list[str], rows: list[list[str]], *, right: set[int] | None = None) -> str:
    """An HTML table; columns whose index is in `right` are right-aligned (numbers)."""
    right = right or set()

    def cell(tag: str, index: int, text: str) -> str:
        align = ' style="text-align:right"' if index in right else ""
        return f"<{tag}{align}>{text}</{tag}>"

    head = "".join(cell("th", n, h) for n, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", n, c) for n, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="keylab-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
