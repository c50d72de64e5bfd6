"""A generated leak corpus: keys planted where learners really leak them, next to decoys that are not keys.

Built at run time (no file in the repository ever holds a real-shaped key), from a seed, so the
tests, the benchmark against other scanners and lesson 07 all measure the same thing.
"""

from __future__ import annotations

import base64
import json
import random
import string
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keylab.keys import _BODY_ALPHABET as _BODY
from keylab.keys import KEY_PREFIXES, REAL_MARKER, SANDBOX_MARKER
from keylab.scan.detect import LEGACY_HALF

_ALNUM = string.ascii_letters + string.digits
# (prefix, characters on each side of the marker, alphabet)
KEY_SHAPES: dict[str, tuple[str, int, str]] = {
    "legacy": ("sk-", LEGACY_HALF, _ALNUM),
    "project": ("sk-proj-", KEY_PREFIXES["sk-proj-"], _BODY),
    "project-short": ("sk-proj-", 58, _BODY),
    "service-account": ("sk-svcacct-", KEY_PREFIXES["sk-svcacct-"], _BODY),
    "admin": ("sk-admin-", KEY_PREFIXES["sk-admin-"], _BODY),
    "no-project": ("sk-None-", 74, _BODY),
}
ESC = "\x1b"


def make_key(rng: random.Random, shape: str = "project", marker: str = REAL_MARKER) -> str:
    prefix, half, alphabet = KEY_SHAPES[shape]
    left = "".join(rng.choice(alphabet) for _ in range(half))
    right = "".join(rng.choice(alphabet) for _ in range(half))
    return f"{prefix}{left}{marker}{right}"


def _notebook(cells: list[dict], metadata: dict | None = None) -> str:
    return json.dumps({"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def _code(source: str, outputs: list[dict] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": outputs or [],
            "source": source.splitlines(keepends=True)}


def _png_with_text(text: str) -> bytes:
    """A 1×1 PNG whose tEXt chunk holds `text`, as a screenshot tool's metadata would."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", b"Comment\0" + text.encode())
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


# location name -> (file name, text holding the key)
LOCATIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "python source": ("app.py", lambda k: f'from openai import OpenAI\n\nclient = OpenAI(api_key="{k}")\n'),
    ".env": (".env", lambda k: f"OPENAI_API_KEY={k}\nOPENAI_BASE_URL=http://127.0.0.1:8765/v1\n"),
    ".env with export and quotes": (".env.local", lambda k: f"export OPENAI_API_KEY='{k}'\n"),
    "JSON config": ("config.json", lambda k: json.dumps({"openai": {"api_key": k, "model": "gpt-6-luna"}})),
    "YAML config": ("settings.yaml", lambda k: f"openai:\n  api_key: {k}\n  timeout: 30\n"),
    "shell history (curl)": ("notes.sh", lambda k: f'curl https://api.openai.com/v1/models -H "Authorization: Bearer {k}"\n'),
    "key inside a URL": ("proxy.txt", lambda k: f"https://proxy.example.com/v1/chat?api_key={k}&stream=1\n"),
    "markdown": ("README.md", lambda k: f"## Setup\n\nMy key is `{k}`, use that for now.\n"),
    "log line": ("app.log", lambda k: f"2026-11-28T10:00:00Z INFO client ready key={k};retries=2\n"),
    "Java properties": ("app.properties", lambda k: f"openai.key={k}\n"),
    "notebook code cell": ("code.ipynb", lambda k: _notebook([_code(f'import os\nos.environ["OPENAI_API_KEY"] = "{k}"\n')])),
    "notebook string after a newline escape": ("multiline.ipynb", lambda k: _notebook([_code(f'KEY = """\n{k}"""\n')])),
    "notebook markdown cell": ("markdown.ipynb", lambda k: _notebook(
        [{"cell_type": "markdown", "metadata": {}, "source": [f"Paste {k} below\n"]}])),
    "notebook stream output": ("stream.ipynb", lambda k: _notebook([_code("print(key)", [
        {"output_type": "stream", "name": "stdout", "text": [f"{k}\n"]}])])),
    "notebook result output": ("result.ipynb", lambda k: _notebook([_code("key", [
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": [repr(k)]}}])])),
    "notebook traceback with colour codes": ("traceback.ipynb", lambda k: _notebook([_code("client.models.list()", [
        {"output_type": "error", "ename": "AuthenticationError", "evalue": "401",
         "traceback": [f"{ESC}[0;31m---------------------------------------------------------------------------{ESC}[0m",
                       f"{ESC}[1;32m----> 2{ESC}[0m client {ESC}[38;5;241m={ESC}[39m OpenAI(api_key{ESC}[38;5;241m={ESC}[39m"
                       f"{ESC}[38;5;124m{k}{ESC}[39m)"]}])])),
    "notebook HTML output": ("html.ipynb", lambda k: _notebook([_code("show(settings)", [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": [f"<table><tr><td>api_key</td><td>{k}</td></tr></table>"],
                  "text/plain": ["<Settings>"]}}])])),
    "notebook attachment (screenshot)": ("attachment.ipynb", lambda k: _notebook(
        [{"cell_type": "markdown", "metadata": {}, "source": ["![shot](attachment:shot.png)"],
          "attachments": {"shot.png": {"image/png": base64.b64encode(_png_with_text(k)).decode()}}}])),
    "notebook metadata": ("metadata.ipynb", lambda k: _notebook([], {"env": {"OPENAI_API_KEY": k}})),
}

# decoy name -> text that holds no usable key
DECOYS: dict[str, Callable[[random.Random], str]] = {
    "placeholder sk-...": lambda r: 'OPENAI_API_KEY="sk-..."\n',
    "placeholder sk-your-key-here": lambda r: "OPENAI_API_KEY=sk-your-key-here\n",
    "placeholder sk-xxxx": lambda r: "OPENAI_API_KEY=sk-" + "x" * 48 + "\n",
    "masked key": lambda r: "Your key sk-proj-...a1b2 was created.\n",
    "masked like the API's error": lambda r: "Incorrect API key provided: sk-proj-" + "*" * 140 + "Ab12.\n",
    "scikit-learn": lambda r: "pip install sk-learn scikit-learn\n",
    "random string of key length, no marker": lambda r: "token=sk-proj-" + "".join(
        r.choice(_BODY) for _ in range(156)) + "\n",
    "documentation example with the marker": lambda r: "sk-" + "X" * 20 + REAL_MARKER + "X" * 20 + "\n",
    "padded example with the marker": lambda r: "sk-proj-" + "a" * 74 + REAL_MARKER + "a" * 74 + "\n",
    "hash of a key": lambda r: "sha256=" + "".join(r.choice("0123456789abcdef") for _ in range(64)) + "\n",
}


@dataclass(frozen=True)
class Planted:
    """One file of the corpus and the key planted in it (None for a decoy file)."""

    path: str
    location: str
    shape: str | None
    key: str | None
    sandbox: bool = False


def build_corpus(root: Path, seed: int = 7, copies: int = 1, sandbox_keys: bool = True) -> list[Planted]:
    """Write the corpus under `root`: each location × key shape `copies` times, each decoy once,
    and (optionally) a sandbox key in every location. Returns what was planted where."""
    rng = random.Random(seed)
    planted: list[Planted] = []
    shapes = list(KEY_SHAPES)
    n = 0
    for copy in range(copies):
        for index, (location, (name, render)) in enumerate(LOCATIONS.items()):
            for shape in shapes if copy == 0 else [shapes[(index + copy) % len(shapes)]]:
                key = make_key(rng, shape)
                planted.append(_write(root, f"real/{n:04d}/{name}", render(key), location, shape, key))
                n += 1
            if sandbox_keys and copy == 0:
                key = make_key(rng, "project", SANDBOX_MARKER)
                planted.append(_write(root, f"sandbox/{n:04d}/{name}", render(key), location, "project", key, True))
                n += 1
    for decoy, render_decoy in DECOYS.items():
        planted.append(_write(root, f"decoys/{n:04d}.txt", render_decoy(rng), decoy, None, None))
        n += 1
    return planted


def _write(root: Path, relative: str, text: str, location: str, shape: str | None, key: str | None,
           sandbox: bool = False) -> Planted:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Planted(relative, location, shape, key, sandbox)
