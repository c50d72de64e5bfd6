"""The one table of problems `keylab doctor` can report.

Codes (`KD001`...) and names (`env-not-found`...) are stable: lessons, issues and CI logs refer to
them, so a code is never renumbered or reused. Add new problems at the end. `docs/doctor.md` is
rendered from this table by `keylab.doctor.docs.render_markdown()`, and a test fails when it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One kind of problem: what it is called, how bad it is, how it is found, how to fix it."""

    code: str
    name: str
    severity: Severity
    title: str
    detected: str
    fix: str


PROBLEMS: tuple[Problem, ...] = (
    Problem(
        "KD001", "env-not-found", "warning",
        "No .env file was found",
        "Uses the file given with `--env-file`, else `$KEYLAB_ENV_FILE`, else the first `.env` in the "
        "project folder (default: the current folder) or any folder above it, like "
        "`find_dotenv(usecwd=True)`. The finding lists every place it looked.",
        "Copy the template: `cp .env.example .env` (Windows: `copy .env.example .env`) in the course "
        "folder, then put your key after `OPENAI_API_KEY=`. Start Jupyter from the course folder, or "
        "pass the path: `load_env(\"path/to/.env\")`.",
    ),
    Problem(
        "KD002", "env-bad-line", "error",
        "A line in .env cannot be read as NAME=value",
        "python-dotenv's own parser reports the line as unreadable, or the line holds a key with no "
        "`NAME=` in front of it, or the name is not a valid variable name (for example PowerShell's "
        "`$env:NAME`). Only line numbers are shown, never the line.",
        "Write each setting on its own line as `NAME=value`, for example `OPENAI_API_KEY=sk-...`. "
        "`export NAME=value` is accepted; `set NAME=value` (Windows cmd), `$env:NAME=\"value\"` "
        "(PowerShell) and `NAME: value` are not.",
    ),
    Problem(
        "KD003", "client-made-before-env", "warning",
        "An OpenAI client in this Python session still uses old settings",
        "Only inside a running Python or Jupyter session (`keylab.doctor.doctor()`). Heuristic: it walks the "
        "garbage collector's objects for `openai.OpenAI` / `openai.AsyncOpenAI` clients (Azure clients "
        "are skipped) and flags each one whose `api_key` differs from the current `OPENAI_API_KEY` or "
        "whose `base_url` differs from `OPENAI_BASE_URL`. Clients made with `OPENAI_ADMIN_KEY` or with "
        "a key function are ignored. A client reads the environment only when it is created, so one "
        "made before `load_env()` / `load_dotenv()` keeps the old values; `load_env()` also "
        "remembers which clients existed when it changed the key. A client you built on purpose "
        "with another key is flagged too: ignore the warning then.",
        "Load `.env` first, then create the client again: run the `load_env()` cell, then "
        "`client = OpenAI()`. When unsure, restart the kernel and run the cells from the top.",
    ),
    Problem(
        "KD004", "shell-overrides-env", "warning",
        "A variable set in your shell hides the value in .env",
        "The variable is in the process environment with a value different from the one in `.env`. "
        "python-dotenv (and `load_env()`) never replaces a value the shell already has, so the old "
        "one wins. Both values are shown masked.",
        "Remove the old value from your shell: `unset NAME` (macOS/Linux) or "
        "`Remove-Item Env:NAME` (PowerShell), with the variable's name for NAME, and delete it "
        "from your shell profile (`~/.bashrc`, `~/.zshrc`) or the Windows environment variables. "
        "Then open a new terminal "
        "and restart Jupyter. Or load with `load_env(override=True)`.",
    ),
    Problem(
        "KD005", "key-missing", "error",
        "OPENAI_API_KEY is not set",
        "`OPENAI_API_KEY` is neither in the environment nor in `.env`, or its value is empty, and no "
        "similarly named variable was found (that is KD006).",
        "Put `OPENAI_API_KEY=<your key>` in `.env` (copy `.env.example` first). Use a sandbox key for "
        "the offline sandbox, or a key from platform.openai.com > API keys for the live API.",
    ),
    Problem(
        "KD006", "key-name-drift", "error",
        "The key is stored under the wrong name",
        "`OPENAI_API_KEY` is missing but a variable with a similar name is set, for example "
        "`OPENAI_KEY`, `OPENAI_API_TOKEN`, `OPEN_AI_API_KEY`, `openai_api_key` or "
        "`AZURE_OPENAI_API_KEY`.",
        "Rename the variable to exactly `OPENAI_API_KEY` (capitals and underscores): the OpenAI SDK "
        "reads no other name. An Azure key only works with Azure's own endpoint, not with "
        "api.openai.com.",
    ),
    Problem(
        "KD007", "key-placeholder", "error",
        "The key is still the placeholder from .env.example",
        "`keylab.keys.classify()` says the value is a placeholder such as `sk-...` or "
        "`your-key-here`.",
        "Replace the placeholder with a real key (platform.openai.com > API keys) or with a "
        "sandbox key.",
    ),
    Problem(
        "KD008", "key-quoted", "error",
        "The key has quote marks as part of its value",
        "The value, after loading, starts or ends with `'`, `\"` or a curly quote (`“ ” ‘ ’`). "
        "python-dotenv removes one pair of plain quotes itself; Windows `set NAME=\"value\"` and "
        "text copied from a word processor leave quotes in the value.",
        "Remove the quote marks around the key. In `.env`, `OPENAI_API_KEY=sk-...` needs no quotes. "
        "In Windows cmd type `set OPENAI_API_KEY=sk-...` without quotes.",
    ),
    Problem(
        "KD009", "key-spaces", "error",
        "The key has spaces in it or around it",
        "The value starts or ends with a space or tab, or has whitespace inside it.",
        "Copy the key again and paste it with nothing before or after it, and no spaces inside.",
    ),
    Problem(
        "KD010", "key-newline", "error",
        "The key ends (or starts) with a line break or a Windows \\r",
        "The value starts or ends with `\\n` or `\\r`. A `\\r` usually comes from a `.env` saved with "
        "Windows line endings (CRLF) and read by the shell with `source .env`.",
        "Load `.env` with `load_env()` (it understands Windows line endings) instead of "
        "`source .env`, or convert the file to Unix line endings (`dos2unix .env`; in VS Code click "
        "`CRLF` in the status bar and choose `LF`). Then open a new terminal.",
    ),
    Problem(
        "KD011", "key-bearer-prefix", "error",
        "The key starts with 'Bearer '",
        "The value starts with `Bearer` (any case), copied from an HTTP header or a curl example.",
        "Keep only the key itself, starting with `sk-`. The SDK adds `Authorization: Bearer` on "
        "its own.",
    ),
    Problem(
        "KD012", "key-truncated", "error",
        "The key is too short: part of it was lost when it was copied",
        "The value has a known prefix (`sk-proj-`, `sk-svcacct-`, `sk-admin-`) but is shorter than a "
        "full key with that prefix, or the part after the `OpenAI` marker is shorter than the part "
        "before it (key shapes: docs/sources.md, \"API key formats\").",
        "Copy the whole key again (double-click can stop at a `-`; use the copy button). The "
        "dashboard shows a key only once: if you no longer have it, create a new key and delete the "
        "old one.",
    ),
    Problem(
        "KD013", "key-unrecognised", "warning",
        "The value does not look like an OpenAI API key",
        "`keylab.keys.classify()` finds neither the real nor the sandbox key shape, and no more "
        "specific problem above explains why.",
        "Check that you copied an OpenAI API key (it starts with `sk-`), not an organization or "
        "project ID, an Azure key or a password.",
    ),
    Problem(
        "KD014", "sandbox-key-live-url", "error",
        "A sandbox key is set, but requests would go to the real OpenAI API",
        "The key has the sandbox shape and `OPENAI_BASE_URL` is unset or points at api.openai.com.",
        "Start the sandbox and set `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1` (the address it "
        "prints) in `.env`; or, for the live API, use your real key instead.",
    ),
    Problem(
        "KD015", "real-key-sandbox-url", "error",
        "A real OpenAI key is set, but requests go to the local sandbox",
        "The key carries the marker of a real OpenAI key and `OPENAI_BASE_URL` points at this "
        "computer (127.0.0.1, localhost or ::1). The sandbox rejects real keys.",
        "For the sandbox, use a sandbox key. For the live API, remove `OPENAI_BASE_URL` (or set it "
        "to `https://api.openai.com/v1`).",
    ),
    Problem(
        "KD016", "base-url-invalid", "error",
        "OPENAI_BASE_URL is not a web address",
        "The value has no `http://` or `https://` in front, or no host name.",
        "Write the full address, for example `http://127.0.0.1:PORT/v1` for the sandbox, or delete "
        "the line to use the real API.",
    ),
    Problem(
        "KD017", "base-url-no-v1", "error",
        "OPENAI_BASE_URL does not end in /v1",
        "The path of the address does not end in `/v1` (a trailing `/` is fine). The SDK appends "
        "paths like `/chat/completions` to it, so without `/v1` every request gets a 404.",
        "Add `/v1` at the end, for example `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1`.",
    ),
    Problem(
        "KD018", "env-tracked-by-git", "error",
        ".env is committed to git",
        "`git ls-files --error-unmatch .env` succeeds in the repository that holds `.env`.",
        "Stop tracking it: `git rm --cached .env`, add `.env` to `.gitignore`, commit. If that "
        "commit was ever pushed, treat the key as leaked: it stays in the history, so delete it in "
        "the dashboard and create a new one.",
    ),
    Problem(
        "KD019", "env-not-ignored", "error",
        "git would commit .env: it is not ignored",
        "`.env` is inside a git repository and `git check-ignore .env` says no rule ignores it, so "
        "`git add .` would commit your key.",
        "Add a line `.env` to the `.gitignore` of your project, then check with "
        "`git check-ignore -v .env`.",
    ),
    Problem(
        "KD020", "env-permissions", "warning",
        ".env can be read by other users of this computer",
        "POSIX permission bits give the group or others access. Skipped on Windows (which has no "
        "such bits), with a note.",
        "Make it private: `chmod 600 .env`.",
    ),
    Problem(
        "KD021", "api-unreachable", "error",
        "Nothing answers at OPENAI_BASE_URL",
        "Network check (skipped with `--offline`): `GET <base URL>/models` could not connect (refused, "
        "unknown host, no network) or got no answer within 5 seconds. For an address on this computer "
        "(127.0.0.1, localhost) that means the sandbox is not running, or runs on another port.",
        "Sandbox: start it with `python3 course.py start` (or `keylab sandbox` in a terminal) and make "
        "`OPENAI_BASE_URL` in `.env` the address it prints (the port must match); your accounts and keys "
        "are kept. Live API: check your internet connection, proxy or firewall, and "
        "https://status.openai.com for outages.",
    ),
    Problem(
        "KD022", "base-url-wrong-scheme", "error",
        "OPENAI_BASE_URL's http/https does not match the server",
        "Network check: the address says `https://` but the secure connection fails because the "
        "server speaks plain http (the sandbox does), or it says `http://` and the server only "
        "redirects to `https://` (api.openai.com does; the SDK does not follow the redirect).",
        "Sandbox: write `http://` (not `https://`), for example `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1`. "
        "Live API: use `https://api.openai.com/v1`, or delete the `OPENAI_BASE_URL` line.",
    ),
    Problem(
        "KD023", "key-rejected", "error",
        "The server does not accept the key",
        "Network check: `GET <base URL>/models` with the key answered 401 (for example `invalid_api_key`). "
        "The key is well formed, but the server does not know it: a sandbox whose data was reset or "
        "that made another key, or a live key that was revoked, mistyped or belongs to another "
        "account. A 401 that says `Missing scopes` is not this problem: the server knows the key, a "
        "restricted one without permission to list models.",
        "Sandbox: create a key in the sandbox dashboard (`keylab sandbox open`, API keys) and put it in "
        "`.env`, or delete `.env` and run `python3 course.py start` again to get a new one. Live API: "
        "copy the key again from https://platform.openai.com/api-keys, or create a new one there. Then "
        "restart the kernel.",
    ),
    Problem(
        "KD024", "base-url-not-the-api", "error",
        "Something answers at OPENAI_BASE_URL, but not the OpenAI API",
        "Network check: `GET <base URL>/models` answered 404, or with something that is not the API's "
        "JSON (a web page, for example): the address points at another program, such as JupyterLab's "
        "port or the sandbox's dashboard path.",
        "Use the API's address: for the sandbox the one `keylab sandbox` prints "
        "(`http://127.0.0.1:PORT/v1`), for the live API `https://api.openai.com/v1` (or no "
        "`OPENAI_BASE_URL` at all).",
    ),
    Problem(
        "KD025", "api-error", "warning",
        "The API answered the free check with an error",
        "Network check: `GET <base URL>/models` answered with an error status other than 401 and 404: "
        "403 (for example a country or organization restriction), 429 (rate limit) or 5xx (the "
        "service has trouble). The status and error code are shown.",
        "Read the code: https://platform.openai.com/docs/guides/error-codes explains each one (lesson 04 "
        "covers them too). For 5xx, wait and try again, and see https://status.openai.com. In the "
        "sandbox, a fault staged by a lesson clears after its requests.",
    ),
)

BY_CODE: dict[str, Problem] = {p.code: p for p in PROBLEMS}
BY_NAME: dict[str, Problem] = {p.name: p for p in PROBLEMS}


def problem(code_or_name: str) -> Problem:
    """Look a problem up by its code (`KD005`) or its name (`key-missing`)."""
    return BY_CODE.get(code_or_name) or BY_NAME[code_or_name]
