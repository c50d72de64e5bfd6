"""The sandbox's simulated model: deterministic, plausible for the course's prompts, plainly fake.

Every answer starts with "[sandbox]" so no learner mistakes it for a real model's. The same
request always gets the same answer (the text is chosen by a hash of the model, the prompt, `seed`,
`temperature` and the choice index), which keeps the committed notebook outputs stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MARK = "[sandbox]"
# The longest answer the simulator ever writes, in tokens: billing reserves this much per choice.
MAX_ANSWER_TOKENS = 160

# (pattern in the last user message, answers) - the course's prompts first, a generic fallback last.
_TOPICS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\b(hello|hi|hey|greet)\b", re.I), (
        "Hello! This reply comes from the keylab sandbox, so your key, your base URL and your code all work.",
        "Hi there! The sandbox received your request and answered it. Your set-up works.",
    )),
    (re.compile(r"\bhaiku\b", re.I), (
        "Keys in dot-env rest,\nnever pasted into code:\nthe meter runs on.",
        "A secret, shown once,\ncopied, saved, then never shared.\nTokens counted true.",
    )),
    (re.compile(r"\b(api key|secret key|key)\b", re.I), (
        "An API key is a secret that says who is calling and which account pays. Keep it in an "
        "environment variable, never in code, and revoke it if it leaks.",
        "Think of an API key as a password for programs: it authenticates each request and ties its "
        "cost to your account.",
    )),
    (re.compile(r"\btoken", re.I), (
        "Tokens are the pieces of text a model reads and writes, about four characters of English each. "
        "You pay per token, for your prompt (input) and for the answer (output).",
    )),
    (re.compile(r"\b(translate|french|spanish|german)\b", re.I), (
        "Translation (simulated): « Bonjour, le monde ! »",
    )),
    (re.compile(r"\b(joke|funny)\b", re.I), (
        "Why did the API key stay home? It did not want to be exposed in public.",
    )),
    (re.compile(r"\b(capital|france|paris)\b", re.I), (
        "The capital of France is Paris.",
    )),
    (re.compile(r"\b(count|number|1, 2, 3|one to ten)\b", re.I), (
        "1, 2, 3, 4, 5, 6, 7, 8, 9, 10.",
    )),
)

_FALLBACK = (
    "This is a simulated answer to \u201c{prompt}\u201d. A real model would write a real reply; the sandbox "
    "only shows that your request arrived, was authenticated and was billed.",
)


def _digest(*parts: Any) -> int:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def answer(prompt: str, *, model: str, seed: int | None = None, temperature: float | None = None,
           index: int = 0, context: Any = None) -> str:
    """The simulated reply to `prompt` (the last user message), without the token cut-off applied."""
    for pattern, answers in _TOPICS:
        if pattern.search(prompt):
            choices = answers
            break
    else:
        choices = _FALLBACK
    pick = _digest(model, prompt, seed, temperature, index, context) % len(choices)
    return f"{MARK} " + choices[pick].format(prompt=_short(prompt))


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (content may be a string or a list of parts)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
