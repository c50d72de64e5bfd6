"""Lab 02 (storing your key): a careful `load_key()`, a `.gitignore`, and a repaired `.env`.

The `.gitignore` exercise asks git itself (`git check-ignore` in a throwaway repository), so the
learner's rules are judged exactly as git will apply them. Keys used here are sandbox-shaped and
generated in memory; feedback names cases, never shows a key.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from keylab.keys import generate_sandbox_key
from keylab.labs.feedback import Feedback, describe, describe_error
from keylab.labs.registry import exercise

TITLE = "Storing your key"

PRACTICE_KEY = "sk-proj-practice1234"
PRACTICE_URL = "http://127.0.0.1:8765/v1"


def _refusal(fb: Feedback, load_key: Callable[..., Any], environ: dict[str, str], label: str,
             words: tuple[str, ...]) -> None:
    """Expect `load_key(environ)` to raise ValueError whose message contains one of `words`."""
    try:
        value = load_key(environ)
    except NotImplementedError:
        fb.not_attempted()
    except ValueError as error:
        message = describe_error(error)
        if any(word in str(error).lower() for word in words):
            fb.ok(f"{label}: refused with ValueError({message!r})")
        else:
            fb.fail(f"{label}: refused, but the message {message!r} does not say why; "
                    f"mention {' or '.join(repr(w) for w in words)}")
        return
    except Exception as error:  # another exception type
        fb.fail(f"{label}: raised {type(error).__name__}, expected ValueError with a clear message")
        fb.hint("raise ValueError('...') with a message that says what is wrong and how to fix it")
        return
    shown = "the value unchanged" if value == environ.get("OPENAI_API_KEY") else "a value"
    fb.fail(f"{label}: load_key returned {shown} instead of raising ValueError")


@exercise(
    "02.1",
    names=["load_key"],
    hint="check in this order: missing or empty, placeholder, quotes, spaces; raise ValueError for each",
)
def check_load_key(fb: Feedback, load_key: Callable[..., Any]) -> None:
    good = generate_sandbox_key()
    value = fb.call(load_key, {"OPENAI_API_KEY": good})
    fb.require(value == good, "a good key is returned unchanged",
               f"with a good key, load_key returned {describe(value)}, expected the key itself")
    _refusal(fb, load_key, {}, "missing variable", ("missing", "not set", "openai_api_key"))
    _refusal(fb, load_key, {"OPENAI_API_KEY": ""}, "empty value", ("empty", "missing", "not set"))
    _refusal(fb, load_key, {"OPENAI_API_KEY": "sk-your-key-here"}, "the template's placeholder",
             ("placeholder", "example", "template"))
    _refusal(fb, load_key, {"OPENAI_API_KEY": f'"{good}"'}, "key wrapped in quotes", ("quote",))
    _refusal(fb, load_key, {"OPENAI_API_KEY": good + " "}, "space after the key", ("space", "whitespace"))
    _refusal(fb, load_key, {"OPENAI_API_KEY": good[:60] + " " + good[60:]}, "space inside the key",
             ("space", "whitespace"))


# (path, must be ignored?, why)
GITIGNORE_CASES: tuple[tuple[str, bool, str], ...] = (
    (".env", True, "it holds your key"),
    (".env.local", True, "variants of .env hold keys too"),
    ("app/.env", True, "a .env in a subfolder holds keys too"),
    (".env.example", False, "the template must be committed so others know which names to set"),
    ("main.py", False, "your code must still be committed"),
)


def _git_available() -> bool:
    try:
        return subprocess.run(["git", "--version"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@exercise(
    "02.2",
    names=["GITIGNORE"],
    todo="write the lines of `GITIGNORE` in the cell above and run it.",
    hint="one pattern per line: `.env`, then `.env.*`, then an exception that starts with `!`",
)
def check_gitignore(fb: Feedback, GITIGNORE: object) -> None:
    fb.require(isinstance(GITIGNORE, str), "GITIGNORE is text",
               f"GITIGNORE should be a string of lines, got {describe(GITIGNORE)}")
    assert isinstance(GITIGNORE, str)
    if not GITIGNORE.strip():
        fb.not_attempted("write at least one line in `GITIGNORE`, then run the cell.")
    if not _git_available():
        fb.fail("git is not installed here, so the check cannot ask git; install git and run it again")
        return
    with tempfile.TemporaryDirectory(prefix="keylab-lab02-") as folder:
        repo = Path(folder)
        subprocess.run(["git", "init", "-q", str(repo)], capture_output=True, check=True, timeout=30)
        (repo / ".gitignore").write_text(GITIGNORE if GITIGNORE.endswith("\n") else GITIGNORE + "\n")
        for path, should_ignore, why in GITIGNORE_CASES:
            result = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=repo,
                                    capture_output=True, timeout=30)
            ignored = result.returncode == 0
            if ignored == should_ignore:
                fb.ok(f"{path} is {'ignored' if ignored else 'committed'} ({why})")
            elif should_ignore:
                fb.fail(f"{path} would be committed, but {why}")
            else:
                fb.fail(f"{path} is ignored, but {why}")
                if path == ".env.example":
                    fb.hint("a line starting with `!` makes an exception: `!.env.example`")


BROKEN_ENV = (
    "# settings for my project\n"
    "OPENAI_KEY = 'sk-proj-practice1234 '\n"
    '$env:OPENAI_BASE_URL="http://127.0.0.1:8765"\n'
)


@exercise(
    "02.3",
    names=["FIXED_ENV"],
    todo="write the repaired file in `FIXED_ENV` in the cell above and run it.",
    hint="two lines, each NAME=value: OPENAI_API_KEY=sk-proj-practice1234 and "
    "OPENAI_BASE_URL=http://127.0.0.1:8765/v1",
)
def check_fixed_env(fb: Feedback, FIXED_ENV: object) -> None:
    fb.require(isinstance(FIXED_ENV, str), "FIXED_ENV is text",
               f"FIXED_ENV should be the text of a .env file, got {describe(FIXED_ENV)}")
    assert isinstance(FIXED_ENV, str)
    if FIXED_ENV.strip() == BROKEN_ENV.strip():
        fb.not_attempted("FIXED_ENV is still the broken file: repair its lines, then run the cell.")
    from keylab.doctor.envfile import read_env_file

    with tempfile.TemporaryDirectory(prefix="keylab-lab02-") as folder:
        path = Path(folder) / ".env"
        path.write_text(FIXED_ENV)
        parsed = read_env_file(path)
    values: Mapping[str, str | None] = parsed.values
    fb.expect(not parsed.bad_lines, "every line reads as NAME=value",
              f"{len(parsed.bad_lines)} line(s) cannot be read as NAME=value (PowerShell's `$env:` "
              "and cmd's `set` do not belong in .env)")
    key = values.get("OPENAI_API_KEY")
    if key is None:
        wrong = [name for name in values if name != "OPENAI_BASE_URL"]
        fb.fail("there is no OPENAI_API_KEY" + (f" (found {', '.join(wrong)}: the SDK reads only "
                                                  "OPENAI_API_KEY)" if wrong else ""))
    else:
        fb.expect(key == PRACTICE_KEY, "OPENAI_API_KEY is the practice key, with nothing around it",
                  "OPENAI_API_KEY is not exactly the practice key: "
                  + ("remove the space inside the quotes" if key.strip() == PRACTICE_KEY
                     else f"expected {PRACTICE_KEY!r}, got {describe(key)}"))
    url = values.get("OPENAI_BASE_URL")
    fb.expect(url == PRACTICE_URL, "OPENAI_BASE_URL is the sandbox address, ending in /v1",
              f"OPENAI_BASE_URL should be {PRACTICE_URL!r}, got {describe(url)}"
              + (": add /v1 at the end" if url == PRACTICE_URL[:-3] else ""))
    extra = sorted(set(values) - {"OPENAI_API_KEY", "OPENAI_BASE_URL"})
    fb.expect(not extra, "no leftover variables", f"remove the leftover line(s) for {', '.join(extra)}")


__all__ = ["BROKEN_ENV", "GITIGNORE_CASES", "check_fixed_env", "check_gitignore", "check_load_key"]
