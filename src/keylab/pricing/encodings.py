"""OpenAI's tokenizer files, offline and verified, so token counts are exact out of the box.

tiktoken downloads its encoding files on first use. keylab never lets it: the sandbox makes no
outbound call, and a workshop room may have no internet. Two offline sources, in this order:

1. The copies bundled in the PyPI package `bpe-openai` (installed with the course's packages,
   https://pypi.org/project/bpe-openai/). Before use, each file's sha256 is checked against the
   hash tiktoken itself expects for that encoding (`expected_hash` in tiktoken_ext/openai_public.py),
   so the ranks are byte for byte OpenAI's; then the encoding is built with tiktoken's own recipe
   (pattern and special tokens), exactly as `tiktoken.get_encoding` would build it.
2. tiktoken's own cache, for an encoding tiktoken downloaded before (`TIKTOKEN_CACHE_DIR`, else
   `DATA_GYM_CACHE_DIR`, else `<tmp>/data-gym-cache`; file name = sha1 of the file's URL, as
   tiktoken.load.read_file_cached names it).

When neither has the file, `load` returns None and callers count approximately, and say so.
"""

from __future__ import annotations

import binascii
import functools
import gzip
import hashlib
import importlib.util
import os
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

BUNDLE_PACKAGE = "bpe_openai"


class RecipeFile(NamedTuple):
    """The ranks file tiktoken's recipe for an encoding asks for, and the sha256 it expects."""

    url: str
    sha256: str | None


class _Asked(Exception):
    def __init__(self, wanted: RecipeFile) -> None:
        self.wanted = wanted


def _recipe(name: str, load_ranks: Callable[..., dict[bytes, int]]) -> Callable[[], dict[str, Any]] | None:
    """tiktoken's constructor for `name` (tiktoken_ext.openai_public), with its ranks loader replaced.

    A copy of the function with its own globals: tiktoken's module is not patched, so nothing else
    in the process (a learner's own `tiktoken.get_encoding`) is affected."""
    try:
        from tiktoken_ext import openai_public
    except ImportError:
        return None
    constructor = getattr(openai_public, name, None)
    if not isinstance(constructor, types.FunctionType):
        return None
    scope = {**constructor.__globals__, "load_tiktoken_bpe": load_ranks}
    return types.FunctionType(constructor.__code__, scope, name, constructor.__defaults__, constructor.__closure__)


@functools.lru_cache(maxsize=8)
def recipe_file(name: str) -> RecipeFile | None:
    """The URL and expected sha256 of `name`'s ranks file, read from tiktoken's recipe (None: no recipe)."""

    def ask(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        raise _Asked(RecipeFile(url, expected_hash))

    recipe = _recipe(name, ask)
    if recipe is None:
        return None
    try:
        recipe()
    except _Asked as asked:
        return asked.wanted
    except Exception:  # a recipe of another shape (a future tiktoken): no verified bundle then
        return None
    return None


def bundled_path(name: str) -> Path | None:
    """Where bpe-openai keeps its gzipped copy of `name` (found without importing the package)."""
    spec = importlib.util.find_spec(BUNDLE_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / f"{name}.tiktoken.gz"
    return path if path.is_file() else None


def _verified(data: bytes, wanted: RecipeFile) -> bytes | None:
    if wanted.sha256 is None or hashlib.sha256(data).hexdigest() != wanted.sha256:
        return None
    return data


def bundled_ranks_file(name: str) -> bytes | None:
    """`name`'s ranks file from bpe-openai, only when its sha256 is the one tiktoken expects.

    Read afresh on each call (a few MB, not kept): `load` needs it once per encoding, and
    `bundle_verified` remembers only the yes/no."""
    path, wanted = bundled_path(name), recipe_file(name)
    if path is None or wanted is None or not wanted.url.endswith(f"/{name}.tiktoken"):
        return None
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return _verified(data, wanted)


@functools.lru_cache(maxsize=8)
def bundle_verified(name: str) -> bool:
    """Whether bpe-openai holds `name`'s ranks file with the sha256 tiktoken expects (checked once)."""
    return bundled_ranks_file(name) is not None


def tiktoken_cache_dir() -> Path:
    """The folder tiktoken reads its downloads from (the same rule as tiktoken.load.read_file_cached)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return Path(os.environ["DATA_GYM_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def in_tiktoken_cache(name: str) -> bool:
    wanted = recipe_file(name)
    if wanted is None:
        return False
    return (tiktoken_cache_dir() / hashlib.sha1(wanted.url.encode()).hexdigest()).is_file()


def source(name: str) -> str | None:
    """Where `name` would load from offline: "bpe-openai", "tiktoken cache", or None (nowhere)."""
    if bundle_verified(name):
        return "bpe-openai"
    if in_tiktoken_cache(name):
        return "tiktoken cache"
    return None


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file ("base64-token rank" per line) as tiktoken's mergeable ranks.

    The same result as tiktoken.load.load_tiktoken_bpe, in about half the time (the sandbox's first
    exact count waits for this): one split, binascii rather than base64's per-call checks."""
    fields = data.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def load(name: str) -> Any | None:
    """A tiktoken Encoding for `name` built without network access, or None when no offline copy exists."""
    try:
        import tiktoken
    except ImportError:  # pragma: no cover - tiktoken is a dependency, but stay usable without it
        return None
    data = bundled_ranks_file(name)
    if data is not None:
        ranks = parse_ranks(data)
        recipe = _recipe(name, lambda url, expected_hash=None: ranks)
        if recipe is not None:
            try:
                return tiktoken.Encoding(**recipe())
            except Exception:  # a recipe tiktoken itself cannot build: try its cache below
                pass
    if in_tiktoken_cache(name):
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # a corrupt cache file: fall back rather than break a lesson
            return None
    return None


__all__ = ["RecipeFile", "bundle_verified", "bundled_path", "bundled_ranks_file", "load", "parse_ranks", "recipe_file", "source",
           "tiktoken_cache_dir"]
