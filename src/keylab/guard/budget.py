"""`BudgetGuard`: an OpenAI client that refuses a call its budget cannot pay for.

    guard = BudgetGuard(OpenAI(), budget_usd="2.00", state_file=".keylab/guard.json")
    guard.chat.completions.create(model=..., messages=..., max_completion_tokens=200)
    guard.spent_usd, guard.remaining_usd

It behaves like the client it wraps: `guard.chat.completions.create` and `guard.responses.create`
(plain or `stream=True`, and `.parse`) are guarded; everything else (`guard.models.list()`, …)
passes straight through. Before each guarded call it reserves the call's worst case (every prompt
token plus the output cap, at the dated price: see `keylab.guard.estimate`); a call that sets no
output cap gets `DEFAULT_OUTPUT_CAP` and an `OutputCapNotice` warning saying so. If the worst case
would take spending over the budget it raises `BudgetExceeded` and sends nothing. Afterwards it
books the real cost from the response's `usage`. An error the API answered (4xx, 5xx) costs nothing;
a call whose answer never arrived (timeout, lost connection) may have been billed, so it is booked
at its worst case. The same code runs against the sandbox and the live API.

Not guarded, so not counted: calls made through `with_raw_response`/`with_streaming_response`, and
the `.stream()` helpers, which the guard refuses (use `create(..., stream=True)`).

The guard is one layer of three: the platform's monthly budget (a hard limit) and its alert
threshold are the others. It only sees calls made through it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from keylab.guard.errors import OutputCapNotice
from keylab.guard.estimate import (
    DEFAULT_OUTPUT_CAP,
    WorstCase,
    count_prompt,
    real_cost,
    request_tier,
    responses_messages,
    worst_case,
)
from keylab.guard.ledger import Hold, Ledger
from keylab.guard.streams import GuardedStream
from keylab.pricing import UnknownModelError, as_usd, format_usd, get_model

# The extra prompt tokens a conversation continued with previous_response_id may add per message.
_CONTINUATION_OVERHEAD = 8


def _usd(value: Decimal | str | int | float, name: str) -> Decimal:
    try:
        amount = as_usd(value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} must be an amount in dollars such as 5 or '2.50'; got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be 0 or more dollars; got {value!r}")
    return amount


class BudgetGuard:
    """Wraps an `openai.OpenAI` client; see the module's docstring."""

    def __init__(self, client: Any, budget_usd: Decimal | str | int | float,
                 state_file: str | Path | None = None, *, default_max_output_tokens: int = DEFAULT_OUTPUT_CAP,
                 period: str = "month", clock: Callable[[], float] | None = None) -> None:
        """
        client: an `openai.OpenAI` (sandbox or live).
        budget_usd: what the guarded calls may spend per period (Decimal, or a str such as "2.50").
        state_file: where spending is kept, so it survives a kernel restart (None: memory only).
        default_max_output_tokens: the output cap set on calls that set none.
        period: "month" (default; spending starts again on the 1st, UTC) or "total" (never resets).
        clock: Unix time now, for the month (default: this computer's clock; in a lesson,
            `keylab.guard.sandbox_clock()` follows the sandbox's clock).
        """
        try:
            import openai
        except ImportError:  # pragma: no cover - the course always installs it
            openai = None  # type: ignore[assignment]
        if openai is not None and isinstance(client, openai.AsyncOpenAI):
            raise TypeError("BudgetGuard wraps the synchronous client: pass openai.OpenAI(), not AsyncOpenAI().")
        if not isinstance(default_max_output_tokens, int) or default_max_output_tokens < 1:
            raise ValueError(f"default_max_output_tokens must be a whole number of tokens, 1 or more; "
                             f"got {default_max_output_tokens!r}")
        self._client = client
        self.default_max_output_tokens = default_max_output_tokens
        self._ledger = Ledger(_usd(budget_usd, "budget_usd"), clock=clock or time.time, period=period,
                              state_file=Path(state_file) if state_file is not None else None)
        self.last_cost_usd: Decimal | None = None
        self.chat = _Chat(self)
        self.responses = _Responses(self)

    # --- the books ---------------------------------------------------------------------------

    def _books(self) -> Ledger:
        """The ledger, moved to the clock's current period (one clock reading: it may ask the sandbox)."""
        self._ledger.refresh()
        return self._ledger

    @property
    def budget_usd(self) -> Decimal:
        return self._ledger.budget_usd

    @property
    def spent_usd(self) -> Decimal:
        """What the calls of this period cost, exactly (in-flight calls not yet included)."""
        return self._books().spent_usd

    @property
    def reserved_usd(self) -> Decimal:
        """The worst cases of the calls in flight."""
        return self._ledger.reserved_usd

    @property
    def remaining_usd(self) -> Decimal:
        """What new calls may still reserve: budget - spent - reserved."""
        return self._books().remaining_usd

    @property
    def period(self) -> str:
        """The month being counted ("2026-12"), or "total"."""
        return self._books().key

    @property
    def calls(self) -> int:
        return self._ledger.calls

    @property
    def overshoot_usd(self) -> Decimal:
        """Real costs above their reservations (the worst case was too low); 0 when all is well."""
        return self._ledger.overshoot_usd

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_client":  # not set yet (a failed __init__), or a protocol
            raise AttributeError(name)
        return getattr(self._client, name)

    def __repr__(self) -> str:
        books = self._books()  # once: three readings could each ask the sandbox's clock
        return (f"<BudgetGuard {format_usd(books.spent_usd)} spent of {format_usd(books.budget_usd)} "
                f"({books.key}), {format_usd(books.remaining_usd)} left>")

    # --- a guarded call ----------------------------------------------------------------------

    def _worst_case(self, kwargs: dict[str, Any], *, chat: bool) -> WorstCase:
        model = kwargs.get("model")
        if not isinstance(model, str):
            raise TypeError("the budget guard needs model=... (a model name) to price the call")
        row = get_model(model)
        if row is None:
            raise UnknownModelError(model)
        tier = request_tier(kwargs)
        if chat:
            given = next((kwargs[k] for k in ("max_completion_tokens", "max_tokens")
                          if isinstance(kwargs.get(k), int)), None)
            n = kwargs["n"] if isinstance(kwargs.get("n"), int) else 1
            prompt = count_prompt(list(kwargs.get("messages") or []), model, kwargs)
        else:
            given = kwargs["max_output_tokens"] if isinstance(kwargs.get("max_output_tokens"), int) else None
            n = 1
            prompt = count_prompt(responses_messages(kwargs), model, kwargs) + self._previous_tokens(kwargs)
        cap = given if given is not None else min(self.default_max_output_tokens, row.max_output_tokens)
        if given is None:
            kwargs["max_completion_tokens" if chat else "max_output_tokens"] = cap
        return worst_case(model, prompt, n * cap, tier, cap_applied=given is None)

    def _previous_tokens(self, kwargs: dict[str, Any]) -> int:
        """A continued conversation re-reads the earlier turns: their tokens are input too."""
        previous = kwargs.get("previous_response_id")
        if not isinstance(previous, str):
            return 0
        usage = self._client.responses.retrieve(previous).usage
        return (usage.total_tokens + _CONTINUATION_OVERHEAD) if usage is not None else 0

    def _call(self, send: Callable[..., Any], kwargs: dict[str, Any], *, chat: bool) -> Any:
        kwargs = dict(kwargs)
        worst = self._worst_case(kwargs, chat=chat)
        if worst.cap_applied:
            name = "max_completion_tokens" if chat else "max_output_tokens"
            warnings.warn(OutputCapNotice(
                f"BudgetGuard: this call set no output cap, so it was sent with {name}={worst.output_cap} "
                f"to bound its cost (worst case {format_usd(worst.cost.total_usd)}). Set {name} yourself "
                "to choose another cap."), stacklevel=4)
        hold = self._ledger.reserve(worst.cost.total_usd, worst.describe())
        streaming = kwargs.get("stream") is True
        asked_for_usage = True
        if streaming and chat:
            options = dict(kwargs.get("stream_options") or {})
            asked_for_usage = bool(options.get("include_usage"))
            kwargs["stream_options"] = {**options, "include_usage": True}
        try:
            result = send(**kwargs)
        except BaseException as error:
            self._failed(hold, error)
            raise
        if streaming:
            return GuardedStream(result, lambda usage, model, tier: self._settle(hold, worst, usage, model, tier, chat),
                                 chat=chat, hide_usage_chunk=not asked_for_usage)
        self._settle(hold, worst, getattr(result, "usage", None), getattr(result, "model", None),
                     getattr(result, "service_tier", None), chat)
        return result

    def _failed(self, hold: Hold, error: BaseException) -> None:
        import openai

        if isinstance(error, openai.APIStatusError):
            self._ledger.release(hold)  # the API answered with an error: not billed
        else:
            self._ledger.settle(hold, hold.usd)  # no answer: it may have run; assume the worst

    def _settle(self, hold: Hold, worst: WorstCase, usage: Any, model: str | None, tier: str | None,
                chat: bool) -> None:
        if usage is None:
            cost = hold.usd
        else:
            try:
                cost = real_cost(model or worst.model, usage, tier, worst.tier, chat=chat)
            except UnknownModelError:  # a model name the table does not know: price it as the one asked for
                cost = real_cost(worst.model, usage, tier, worst.tier, chat=chat)
        self.last_cost_usd = cost
        self._ledger.settle(hold, cost)


class _Passthrough:
    """Everything the guard does not guard goes to the wrapped object unchanged."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _unguarded(what: str, instead: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"BudgetGuard does not guard {what}: its calls would bypass the budget. "
                        f"Use {instead} instead.")
    return refuse


class _Completions(_Passthrough):
    def __init__(self, guard: BudgetGuard) -> None:
        super().__init__(guard._client.chat.completions)
        self._guard = guard
        self.stream = _unguarded("chat.completions.stream()", "chat.completions.create(..., stream=True)")

    def create(self, **kwargs: Any) -> Any:
        """`client.chat.completions.create`, inside the budget."""
        return self._guard._call(self._target.create, kwargs, chat=True)

    def parse(self, **kwargs: Any) -> Any:
        """`client.chat.completions.parse`, inside the budget."""
        return self._guard._call(self._target.parse, kwargs, chat=True)


class _Chat(_Passthrough):
    def __init__(self, guard: BudgetGuard) -> None:
        super().__init__(guard._client.chat)
        self.completions = _Completions(guard)


class _Responses(_Passthrough):
    def __init__(self, guard: BudgetGuard) -> None:
        super().__init__(guard._client.responses)
        self._guard = guard
        self.stream = _unguarded("responses.stream()", "responses.create(..., stream=True)")

    def create(self, **kwargs: Any) -> Any:
        """`client.responses.create`, inside the budget."""
        return self._guard._call(self._target.create, kwargs, chat=False)

    def parse(self, **kwargs: Any) -> Any:
        """`client.responses.parse`, inside the budget."""
        return self._guard._call(self._target.parse, kwargs, chat=False)
