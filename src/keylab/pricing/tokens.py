"""Token counting: tiktoken with OpenAI's encoding files when at hand, an honest approximation otherwise.

The encoding files load offline and verified (`keylab.pricing.encodings`: the copies bundled in
the bpe-openai package, checked against tiktoken's expected sha256, else tiktoken's own cache);
nothing is ever downloaded. Without them, counts are approximate (about four characters per
token) and every result says so.

Chat messages add the cookbook's overhead: 3 tokens per message, 1 per `name`, 3 to prime the
reply (openai-cookbook, How_to_count_tokens_with_tiktoken.ipynb).
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

# GPT-6 has no published tokenizer (tiktoken 0.14 raises KeyError for it); o200k_base is the
# closest public encoding, so counts for those models are exact for o200k, estimated for GPT-6.
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "text-embedding-", "gpt-4")
_O200K_EXCEPTIONS = ("gpt-4o", "gpt-4.1")


class TokenCount(NamedTuple):
    """A token count and how much to trust it. (A NamedTuple: the sandbox makes one per request.)"""

    tokens: int
    encoding: str
    exact: bool

    @property
    def note(self) -> str:
        if self.exact:
            return f"counted with tiktoken ({self.encoding})"
        return (
            f"approximate (about 4 characters per token): OpenAI's encoding file {self.encoding} is not "
            "available offline here. It comes with the course's packages (bpe-openai, for Linux, Windows "
            "and Apple-silicon Macs: `python -m pip install -r requirements.txt`); elsewhere, set "
            "TIKTOKEN_CACHE_DIR to a folder holding tiktoken's downloaded copy"
        )


def encoding_name_for(model: str) -> str:
    if model.startswith(_O200K_EXCEPTIONS):
        return "o200k_base"
    if model.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def encoding_available(name: str) -> bool:
    """True when `name` loads without any network access (bundled and verified, or in tiktoken's cache)."""
    from keylab.pricing import encodings  # here, not at import: `keylab --help` need not load it

    return encodings.source(name) is not None


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _load_encoding(name: str, cache_dir: str) -> Any | None:
    with _LOAD_LOCK:  # a request arriving while preload() runs waits for it instead of loading twice
        return _load_encoding_unlocked(name, cache_dir)


@functools.lru_cache(maxsize=8)
def _load_encoding_unlocked(name: str, cache_dir: str) -> Any | None:
    del cache_dir  # part of the cache key only: a changed TIKTOKEN_CACHE_DIR reloads
    from keylab.pricing import encodings

    return encodings.load(name)


def get_encoding(model: str) -> Any | None:
    """The tiktoken Encoding for a model, or None when it cannot be loaded offline."""
    # Keyed on the raw variables (cheap: this runs several times per sandbox request).
    env = os.environ
    key = f"{env.get('TIKTOKEN_CACHE_DIR')}\0{env.get('DATA_GYM_CACHE_DIR')}"
    return _load_encoding(encoding_name_for(model), key)


def preload(models: Iterable[str]) -> threading.Thread:
    """Load the models' encodings in a background thread (the sandbox calls this at start-up, so
    its first request does not pay the ~0.3 s it takes to build an encoding)."""
    names = tuple(models)

    def load() -> None:
        for model in names:
            get_encoding(model)

    thread = threading.Thread(target=load, name="keylab-tiktoken-preload", daemon=True)
    thread.start()
    return thread


def _approx(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _count(text: str, enc: Any | None) -> int:
    """Tokens in `text` with an encoding from `get_encoding`, or the estimate when there is none."""
    if enc is None:
        return _approx(text)
    if len(text) <= MEMO_MAX_CHARS:
        return _count_short(text, enc)
    return len(enc.encode(text, disallowed_special=()))


# Short texts (a course's prompts, sent again and again by a room of learners) are counted once;
# long ones are not kept. The sandbox memoises its answers to short prompts by the same rule.
MEMO_MAX_CHARS = 2000


@functools.lru_cache(maxsize=4096)
def _count_short(text: str, enc: Any) -> int:
    return len(enc.encode(text, disallowed_special=()))


def count_text(text: str, model: str) -> TokenCount:
    """Tokens in a plain string for `model`."""
    enc = get_encoding(model)
    return TokenCount(_count(text, enc), encoding_name_for(model), exact=enc is not None)


_RESOLVE: Any = object()  # "look the encoding up": None is a valid encoding (approximate counts)


def split_tokens(text: str, model: str) -> list[str]:
    """`text` cut into token-sized pieces (real tokens when the encoding loads): how a model sees it."""
    return list(token_pieces(text, model))


def token_pieces(text: str, model: str, *, encoding: Any = _RESOLVE) -> tuple[str, ...]:
    """`split_tokens` as a tuple, shared and never copied (the sandbox streams and caches them).

    encoding: `get_encoding(model)` when the caller already has it (the sandbox, per request)."""
    return _pieces(text, get_encoding(model) if encoding is _RESOLVE else encoding)


@functools.lru_cache(maxsize=512)
def _pieces(text: str, enc: Any | None) -> tuple[str, ...]:
    # Cached: the sandbox's simulated answers come from a small set of texts.
    if enc is None:
        pieces: list[str] = []
        for word in text.split(" "):
            pieces.append((" " if pieces else "") + word)
        return tuple(p for p in pieces if p)
    return tuple(enc.decode([t]) for t in enc.encode(text, disallowed_special=()))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return "" if content is None else str(content)


def count_messages(messages: Iterable[Mapping[str, Any]], model: str, *, encoding: Any = _RESOLVE) -> TokenCount:
    """Prompt tokens for a list of chat messages, with the cookbook's per-message overhead.

    encoding: `get_encoding(model)` when the caller already has it (the sandbox, per request)."""
    name = encoding_name_for(model)
    enc = get_encoding(model) if encoding is _RESOLVE else encoding  # once, not once per field
    total = 0
    exact = True
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for field, value in message.items():
            if field not in ("role", "content", "name"):
                continue
            total += _count(_content_text(value), enc)
            exact = exact and enc is not None
            if field == "name":
                total += TOKENS_PER_NAME
    total += REPLY_PRIMING_TOKENS
    return TokenCount(total, name, exact)


__all__ = [
    "TokenCount",
    "count_messages",
    "count_text",
    "encoding_available",
    "encoding_name_for",
    "get_encoding",
    "preload",
    "split_tokens",
    "token_pieces",
]
