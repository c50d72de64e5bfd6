"""Turn a working tree, single files, notebooks and a repository's history into findings.

Plain files are read line by line. Notebooks are also read as notebooks, so a key inside a
base64 attachment or image output is found and each finding says which cell it is in. History is
`git log -p` over every branch: each line ever added, in files deleted since too.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from keylab.scan.detect import Finding, find_keys, has_marker, masked_excerpt

# Folders that hold installed packages or tool caches, not the project's own text.
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
                       ".pytest_cache", ".tox", ".hg", ".svn"})
MAX_FILE_BYTES = 20 * 1024 * 1024
_BINARY_SNIFF = 8192


class ScanError(Exception):
    """A path or repository that cannot be scanned; the message says what to do."""


def _findings_in_lines(lines: Iterable[tuple[int, str]], path: str, *, commit: str | None = None,
                       where: str | None = None) -> Iterator[Finding]:
    for number, text in lines:
        hits = find_keys(text)  # checks has_marker first: the one test most lines get
        excerpt = masked_excerpt(text) if hits else ""
        for hit in hits:
            yield Finding(path=path, line=number, kind=hit.kind, key_type=hit.prefix, masked=hit.masked,
                          excerpt=excerpt, fingerprint=hit.fingerprint, commit=commit, where=where)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file under `paths`, dotfiles (`.env`) included, tool folders skipped."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                yield Path(folder, name)


def _read_text(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:_BINARY_SNIFF]:
        # Binary (an image, a database): keys still show up as ASCII, e.g. in a PNG text chunk.
        text = data.decode("latin-1")
        return text if has_marker(text) else None
    return data.decode("utf-8", errors="replace")


def _notebook_blobs(cells: list) -> Iterator[tuple[str, str]]:
    """(where, decoded text) for base64 payloads a line scan cannot read: attachments and image outputs."""
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        bundles = [(f"cell {index} attachment {name}", bundle)
                   for name, bundle in (cell.get("attachments") or {}).items()]
        bundles += [(f"cell {index} output {n}", out.get("data") or {})
                    for n, out in enumerate(cell.get("outputs") or [], start=1) if isinstance(out, dict)]
        for where, bundle in bundles:
            if not isinstance(bundle, dict):
                continue
            for mime, value in bundle.items():
                if mime.startswith("text/") or mime.endswith("json") or not isinstance(value, (str, list)):
                    continue  # read as text by the line scan already
                text = "".join(value) if isinstance(value, list) else value
                try:
                    decoded = base64.b64decode(text, validate=False).decode("latin-1")
                except (binascii.Error, ValueError):
                    continue
                yield f"{where} ({mime})", decoded


_CELL_START = re.compile(r'^\s*"cell_type":')
# A top-level key after the cells (nbformat writes them with one space of indent): notebook metadata.
_TOP_LEVEL = re.compile(r'^ ?"(?:metadata|nbformat|nbformat_minor)":')


def _cell_of_line(raw_lines: list[str]) -> list[int]:
    """For each line of a notebook file, the number of the cell it belongs to (0: notebook metadata)."""
    numbers, cell, count = [], 0, 0
    for line in raw_lines:
        if _CELL_START.match(line):
            count += 1
            cell = count
        elif _TOP_LEVEL.match(line):
            cell = 0
        numbers.append(cell)
    return numbers


def scan_file(path: Path, shown: str) -> list[Finding]:
    text = _read_text(path)
    if text is None:
        return []
    lines = text.splitlines()
    findings = list(_findings_in_lines(enumerate(lines, start=1), shown))
    if path.suffix == ".ipynb":
        findings = _notebook_findings(text, lines, shown, findings)
    return findings


def _notebook_findings(text: str, lines: list[str], shown: str, findings: list[Finding]) -> list[Finding]:
    cells_of = _cell_of_line(lines)
    located = [_with_where(f, f"cell {cells_of[f.line - 1]}" if cells_of[f.line - 1] else "metadata")
               for f in findings]
    if "attachments" not in text and "image/" not in text and "application/" not in text:
        return located
    try:
        cells = json.loads(text).get("cells") or []
    except (ValueError, AttributeError):
        return located  # not valid JSON: the line scan above is all we can do
    for where, decoded in _notebook_blobs(cells):
        for number, blob_line in enumerate(decoded.splitlines(), start=1):
            located += [_with_where(f, where) for f in _findings_in_lines([(number, blob_line)], shown)]
    return located


def _with_where(finding: Finding, where: str) -> Finding:
    return replace(finding, where=where)


def scan_paths(paths: Iterable[Path], base: Path | None = None) -> list[Finding]:
    """Findings in every file under `paths`, with paths shown relative to `base` (default: the cwd)."""
    base = (base or Path.cwd()).resolve()
    found = [(path.resolve(), hits) for path in iter_files(paths) if (hits := scan_file(path, _shown(path, base)))]
    ignored = _ignored_paths([path for path, _hits in found], base)
    return [replace(f, ignored=True) if path in ignored else f for path, hits in found for f in hits]


def _shown(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _git(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(["git", "-c", "core.quotepath=off", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")


def _check_ignore(paths: list[Path], cwd: Path) -> set[Path] | None:
    """The paths git ignores, asked in one `git check-ignore --stdin` call; None when git could not answer
    (no git, `cwd` outside a repository, a path in another repository)."""
    try:
        done = subprocess.run(["git", "check-ignore", "--stdin", "-z"], cwd=cwd, capture_output=True, timeout=30,
                              input=b"".join(os.fsencode(p) + b"\0" for p in paths))
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode not in (0, 1):  # 1: none ignored
        return None
    return {Path(os.fsdecode(name)) for name in done.stdout.split(b"\0") if name}


def _ignored_paths(paths: list[Path], base: Path) -> set[Path]:
    """Files git ignores (`.env`): on disk, but not about to be committed. One git call for the whole scan;
    files in another repository than `base`'s are asked from their own folder."""
    if not paths:
        return set()
    ignored = _check_ignore(paths, base)
    if ignored is not None:
        return ignored
    return {path for path in paths if _check_ignore([path], path.parent)}  # no git: nothing is ignored


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def repository_root(path: Path) -> Path:
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True)
    except OSError as error:
        raise ScanError("--git-history needs git; install it, or scan without --git-history") from error
    if done.returncode != 0:
        raise ScanError(f"{path} is not inside a git repository: run `git init` there first, "
                        "or scan without --git-history")
    return Path(done.stdout.strip())


def scan_history(path: Path, *, root: Path | None = None) -> list[Finding]:
    """Every key in every line ever added on any branch, with the commit that added it. `root`: the
    repository's root (repository_root(path)) when the caller already has it."""
    root = root or repository_root(path)
    head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root, capture_output=True)
    if head.returncode != 0:
        return []  # no commits yet
    process = _git(["log", "-p", "--all", "--reverse", "-U0", "--no-color", "--no-ext-diff", "--no-renames",
                    "--text", "--format=commit %H"], root)
    assert process.stdout is not None
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    commit, path_shown, number = "", "", 0
    for raw in process.stdout:
        line = raw.rstrip("\n")
        if line.startswith("commit ") and len(line) == 47:
            commit = line[7:]
        elif line.startswith("+++ "):
            path_shown = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("@@"):
            match = _HUNK.match(line)
            number = int(match.group(1)) if match else 0
        elif line.startswith("+"):
            for finding in _findings_in_lines([(number, line[1:])], path_shown, commit=commit[:12]):
                # A key re-added in later commits (a moved line) is one leak: report where it entered.
                if (finding.fingerprint, finding.path) not in seen:
                    seen.add((finding.fingerprint, finding.path))
                    findings.append(finding)
            number += 1
    error = process.stderr.read() if process.stderr else ""
    if process.wait() != 0:
        raise ScanError(f"git log failed in {root}: {error.strip()[:300]}")
    return findings
