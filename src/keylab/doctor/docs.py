"""Render `docs/doctor.md` from the codes table, so the page and the code cannot drift apart.

    python -m keylab.doctor.docs           # rewrite docs/doctor.md
    python -m keylab.doctor.docs --check   # exit 1 when docs/doctor.md is stale (for CI)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from keylab.doctor.codes import PROBLEMS

# src/keylab/doctor/docs.py -> the checkout root
DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "doctor.md"

_INTRO = """\
# keylab doctor: problem codes

<!-- Generated from src/keylab/doctor/codes.py by `python -m keylab.doctor.docs`.
     Edit that table, not this file. -->

`keylab doctor` checks the set-up the OpenAI SDK will see: your `.env` file, the environment
variables of your shell, and (inside a notebook, with `keylab.doctor.doctor()`) the OpenAI clients
already created. Then it sends one free request, `GET <base URL>/models` with your key, to check
that the address answers like the OpenAI API and accepts the key (KD021-KD025), on the sandbox and
on api.openai.com alike; `--offline` skips it. Each problem has a stable code and name, says what was found and what to do next,
and never shows a key beyond its masked form (`sk-proj-...abcd`).

```
keylab doctor [--env-file FILE] [--project DIR] [--format text|json] [--offline]
```

From any terminal, `python3 course.py doctor …` (Windows: `py course.py doctor …`) runs the same command
inside the course's environment; in the course's JupyterLab terminal, `keylab doctor` works as it is.

* Exit status 1 when at least one problem of severity **error** is found, else 0 (warnings alone pass).
* `--format json` prints
  `{"ok": ..., "findings": [{"code", "name", "severity", "title", "detail", "fix", ...}], ...}`.
* In Python: `keylab.doctor.diagnose(project_dir=None, env_file=None, environ=None, offline=False)` returns
  the findings;
  `keylab.doctor.doctor()` prints the report and returns them.
* `load_env()` below is `keylab.environment.load_env()`, the loader the lessons use.
* Which `.env`: `--env-file`, else `$KEYLAB_ENV_FILE`, else the nearest `.env` in the project folder
  (default: the current folder) or above. Values in the environment win over `.env`, as in python-dotenv.

"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """The full text of docs/doctor.md."""
    rows = [
        "| Code | Name | Severity | Problem | How it is detected | What to do |",
        "|---|---|---|---|---|---|",
    ]
    for p in PROBLEMS:
        cells = (p.code, f"`{p.name}`", p.severity, p.title, p.detected, p.fix)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return _INTRO + "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keylab.doctor.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale, write nothing")
    parser.add_argument("--path", type=Path, default=DOC_PATH, help=f"default: {DOC_PATH}")
    args = parser.parse_args(argv)
    text = render_markdown()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if args.check:
        if current != text:
            print(f"{args.path} is stale: run python -m keylab.doctor.docs", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        args.path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
