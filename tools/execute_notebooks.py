"""Run notebooks top to bottom against a throwaway sandbox and save their outputs in place.

Lesson notebooks and solutions are committed with their outputs (nbval compares them), so after
editing one, refresh it with:

    .venv/bin/python tools/execute_notebooks.py notebooks/03-first-call.ipynb solutions/solution-03-first-call.ipynb

The run uses `keylab.testing.course_environment()`, exactly like the test session: a temporary
home, sandbox and `.env`, never the author's own. Labs are not executed (they are generated
without outputs by `keylab labs build`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from keylab.labs.build import render
from keylab.testing import course_environment

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path, timeout: int = 120) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nb.metadata.pop("widgets", None)
    path.write_text(render(nb))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    with course_environment():
        for path in args.notebooks:
            if ROOT / "labs" in path.resolve().parents:
                print(f"skip {path}: labs are generated without outputs")
                continue
            print(f"run  {path}", flush=True)
            execute(path.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
