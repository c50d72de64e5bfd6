"""Streams through the guard: the caller sees the SDK's stream unchanged; the guard settles the
call when the stream ends, fails or is closed.

A Chat Completions stream is asked for its usage (`stream_options.include_usage`); when the caller
did not ask for it, the extra usage-only chunk (it has no choices) is kept from them, so code that
reads `chunk.choices[0]` works as before. A Responses stream reports usage in its final event.
A stream that ends without usage (closed early, broken off) is booked at its worst case: the API
bills what it generated, and the guard cannot see how much that was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")

# (usage or None, model or None, service_tier or None) -> None
Finish = Callable[[Any, "str | None", "str | None"], None]


class GuardedStream:
    """Iterate it, use it as a context manager or close it, exactly like the SDK's `Stream`."""

    def __init__(self, stream: Any, finish: Finish, *, chat: bool, hide_usage_chunk: bool) -> None:
        self._stream = stream
        self._finish_with = finish
        self._chat = chat
        self._hide_usage_chunk = hide_usage_chunk
        self._usage: Any = None
        self._model: str | None = None
        self._tier: str | None = None
        self._finished = False
        self._iterator = self._iterate()

    def _iterate(self) -> Iterator[Any]:
        try:
            for item in self._stream:
                if self._chat:
                    if getattr(item, "usage", None) is not None:
                        self._usage, self._model, self._tier = item.usage, item.model, item.service_tier
                        if self._hide_usage_chunk and not item.choices:
                            continue
                elif getattr(item, "type", None) in FINAL_EVENTS:
                    response = item.response
                    self._usage, self._model, self._tier = response.usage, response.model, response.service_tier
                yield item
        finally:
            self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish_with(self._usage, self._model, self._tier)

    def __iter__(self) -> GuardedStream:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> GuardedStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._iterator.close()
            self._finish()

    def __getattr__(self, name: str) -> Any:  # response, etc.
        if name.startswith("__") or name == "_stream":
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __del__(self) -> None:
        try:
            if "_finished" in self.__dict__:
                self._finish()
        except Exception:  # noqa: S110 - nothing can be raised from a finaliser
            pass
