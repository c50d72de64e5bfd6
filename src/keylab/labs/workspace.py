"""The learner's working copies of the labs: `my-labs/lab-NN-name.ipynb`, never touched by the course.

`labs/` is generated (`keylab labs build` rewrites it, `keylab labs check` compares it with the
solutions, `git pull` updates it), so answers written there would be lost or collide. `keylab start`
therefore copies each lab into `my-labs/` (git-ignored) when that copy is missing, and the lessons
link to the copies. An existing copy is never overwritten: when the course's lab changes after the
copy was made, the new version is written next to it (`lab-NN-name.new.ipynb`) and the learner
decides. `my-labs/.keylab-copies.json` remembers which version of each lab a copy was made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from keylab.files import atomic_write

WORK_DIR = "my-labs"
MANIFEST = ".keylab-copies.json"
BANNER_ID = "keylab-generated-banner"
BANNER_KEY = "keylab"  # cell-metadata key of a banner: the lab's, and the copy's that replaces it

Action = Literal["copied", "kept", "offered"]


@dataclass(frozen=True)
class CopyResult:
    """What happened to one lab: copied (new), kept (copy exists, course lab unchanged), or offered
    (course lab changed since the copy was made; the new version was written alongside as `path`)."""

    lab: Path
    action: Action
    path: Path


def is_banner(cell: Mapping) -> bool:
    """A banner cell keylab wrote (a generated lab's or a working copy's), so a rebuild or copy replaces it."""
    return cell.get("id") == BANNER_ID or BANNER_KEY in cell.get("metadata", {})


def free_name(folder: Path, file_name: str, tag: str) -> Path:
    """`<stem>.<tag>.ipynb`, or `.<tag>2`, `.<tag>3`…: the first name in `folder` not taken yet, so
    nothing is overwritten."""
    stem = file_name.removesuffix(".ipynb")
    number = 1
    while True:
        candidate = folder / f"{stem}.{tag}{'' if number == 1 else number}.ipynb"
        if not candidate.exists():
            return candidate
        number += 1


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_manifest(work_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((work_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _save_manifest(work_dir: Path, manifest: dict[str, str]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write(work_dir / MANIFEST, text.encode("utf-8"))


def copy_text(lab_text: str, lab_name: str) -> str:
    """The lab's JSON with its "generated file, do not edit" banner replaced by one that says this
    is the learner's own copy."""
    nb = json.loads(lab_text)
    banner = {
        "cell_type": "markdown",
        "id": "keylab-working-copy-banner",
        "metadata": {BANNER_KEY: {"working_copy_of": f"labs/{lab_name}"}},
        "source": (
            f"> **Your working copy** of `labs/{lab_name}`. Write your answers here: no lab build, check "
            f"or course update ever touches `{WORK_DIR}/` (it is git-ignored).\n"
            "> In each cell marked `# YOUR CODE HERE`, replace that line and the `raise` line under it with "
            "your code, run the cell, then run the check cell below it.\n"
            "> To start a lab over, delete its file here and run `python3 course.py labs copy` "
            "(Windows: `py course.py labs copy`) in the course folder."
        ),
    }
    cells = nb.get("cells", [])
    if cells and is_banner(cells[0]):
        cells = cells[1:]
    nb["cells"] = [banner, *cells]
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _write_new(path: Path, text: str) -> None:
    """Create `path`; never replace an existing file (exclusive create)."""
    with path.open("x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def ensure_working_copies(labs_dir: Path, work_dir: Path) -> list[CopyResult]:
    """Copy each `labs/lab-*.ipynb` into `work_dir` when its copy is missing; offer changed labs
    alongside existing copies. Never modifies or deletes a file in `work_dir` other than the manifest."""
    labs = sorted(p for p in labs_dir.glob("lab-*.ipynb") if p.is_file()) if labs_dir.is_dir() else []
    if not labs:
        return []
    work_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(work_dir)
    saved = dict(manifest)
    results: list[CopyResult] = []
    for lab in labs:
        text = lab.read_text(encoding="utf-8")
        digest = _digest(text)
        copy = work_dir / lab.name
        if not copy.exists():
            _write_new(copy, copy_text(text, lab.name))
            manifest[lab.name] = digest
            results.append(CopyResult(lab, "copied", copy))
        elif manifest.get(lab.name, digest) == digest:
            manifest.setdefault(lab.name, digest)
            results.append(CopyResult(lab, "kept", copy))
        else:
            offered = free_name(work_dir, lab.name, "new")
            _write_new(offered, copy_text(text, lab.name))
            manifest[lab.name] = digest
            results.append(CopyResult(lab, "offered", offered))
    if manifest != saved:  # most starts change nothing: no write
        _save_manifest(work_dir, manifest)
    return results


def describe(results: list[CopyResult], root: Path) -> list[str]:
    """Lines for the terminal: what was copied or offered (nothing for copies that were kept)."""
    def rel(path: Path) -> str:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return str(path)

    lines = []
    copied = [r for r in results if r.action == "copied"]
    if copied:
        lines.append(f"Made your working copies of {len(copied)} lab(s) in {rel(copied[0].path.parent)}/: "
                     "write your answers there; no build, check or update touches them.")
    for result in results:
        if result.action == "offered":
            lines.append(f"{rel(result.lab)} changed since you copied it: the new version is "
                         f"{rel(result.path)}, next to your copy {rel(result.path.parent / result.lab.name)} "
                         "(which keeps your answers).")
    return lines


__all__ = ["WORK_DIR", "CopyResult", "copy_text", "describe", "ensure_working_copies"]
