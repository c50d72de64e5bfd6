"""Benchmark `keylab scan` against detect-secrets and gitleaks' OpenAI rule: recall on a generated leak
corpus, false positives on decoys, and time to scan the course's own working tree.

    .venv/bin/python bench/scan.py [--copies 3] [--runs 3]

Prints, asserts nothing. detect-secrets (PyPI `detect-secrets`, requirements.txt) runs as its own CLI.
gitleaks' rule `openai-api-key` (keyword t3blbkfj, entropy 3) is re-implemented from its published
regex; when a `gitleaks` binary is on PATH it also runs for real.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from keylab.scan import scan_paths
from keylab.scan.corpus import build_corpus

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# gitleaks config/gitleaks.toml, rule "openai-api-key" (last changed 2025-03-27). The marker is spelled
# in two parts so this file never holds it next to a key shape.
_M = "T3Blbk" + "FJ"
GITLEAKS_OPENAI = re.compile(
    r"\b(sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})" + _M
    + r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})\b|sk-[a-zA-Z0-9]{20}" + _M
    + r"[a-zA-Z0-9]{20})(?:[\x60'\"\s;]|\\[nr]|$)", re.ASCII)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def gitleaks_rule(path: Path) -> set[str]:
    """The keys gitleaks' rule reports in one file (whole-file match, as gitleaks does)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if "t3blbkfj" not in text.lower():
        return set()
    return {m.group(1) for m in GITLEAKS_OPENAI.finditer(text) if _entropy(m.group(1)) >= 3}


def detect_secrets(root: Path, *, all_files: bool = True) -> dict[str, list[dict]]:
    args = [str(BIN / "detect-secrets"), "scan"] + (["--all-files"] if all_files else [])
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["results"]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def recall(copies: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        planted = build_corpus(root, seed=2026, copies=copies)
        keys = [p for p in planted if p.key and not p.sandbox]
        sandbox = [p for p in planted if p.sandbox]
        decoys = [p for p in planted if p.key is None]

        ours = defaultdict(set)
        for f in scan_paths([root], root):
            ours[f.path].add((f.kind, f.fingerprint))
        ds = detect_secrets(root)
        gl = {p.path: gitleaks_rule(root / p.path) for p in planted}

        rows = defaultdict(lambda: Counter())
        for p in keys:
            by_loc = rows[p.location]
            by_loc["n"] += 1
            by_loc["keylab"] += ("real", hashlib.sha256(p.key.encode()).hexdigest()) in ours[p.path]
            results = ds.get(p.path, [])
            openai_hits = [r for r in results if r["type"] == "OpenAI Token"]
            by_loc["ds_openai"] += bool(openai_hits)
            by_loc["ds_exact"] += any(r["hashed_secret"] == _sha1(p.key) for r in openai_hits)
            by_loc["ds_any"] += bool(results)
            by_loc["gitleaks"] += p.key in gl[p.path]
        shape_rows = defaultdict(lambda: Counter())
        for p in keys:
            results = [r for r in ds.get(p.path, []) if r["type"] == "OpenAI Token"]
            s = shape_rows[p.shape]
            s["n"] += 1
            s["keylab"] += ("real", hashlib.sha256(p.key.encode()).hexdigest()) in ours[p.path]
            s["ds_openai"] += bool(results)
            s["ds_exact"] += any(r["hashed_secret"] == _sha1(p.key) for r in results)
            s["gitleaks"] += p.key in gl[p.path]

        print(f"Leak corpus: {len(keys)} real-shaped keys in {len(rows)} kinds of place, "
              f"{len(sandbox)} sandbox keys, {len(decoys)} decoys (seed 2026, {copies} copies)\n")
        header = "| {:<40} | {:>3} | {:>6} | {:>17} | {:>18} | {:>13} | {:>8} |"
        print(header.format("where", "n", "keylab", "d-s 'OpenAI Token'", "d-s full key found", "d-s any type",
                            "gitleaks"))
        print("|" + "|".join("-" * (w + 2) for w in (40, 3, 6, 17, 18, 13, 8)) + "|")
        total = Counter()
        for name, c in list(rows.items()) + [("**by key shape**", None)] + list(shape_rows.items()):
            if c is None:
                print(header.format(name, "", "", "", "", "", ""))
                continue
            print(header.format(name, c["n"], c["keylab"], c["ds_openai"], c["ds_exact"],
                                c.get("ds_any", ""), c["gitleaks"]))
            if name in rows:
                total.update(c)
        n = total["n"]
        print(header.format("**all**", n, f"{total['keylab'] / n:.0%}", f"{total['ds_openai'] / n:.0%}",
                            f"{total['ds_exact'] / n:.0%}", f"{total['ds_any'] / n:.0%}", f"{total['gitleaks'] / n:.0%}"))

        fp_ours = sum(1 for p in decoys for _ in ours[p.path])
        fp_ds = sum(len(ds.get(p.path, [])) for p in decoys)
        fp_gl = sum(len(gl[p.path]) for p in decoys)
        sandbox_real = sum(1 for p in sandbox for kind, _ in ours[p.path] if kind == "real")
        sandbox_ds = sum(1 for p in sandbox if ds.get(p.path))
        print(f"\nDecoys reported: keylab {fp_ours}, detect-secrets {fp_ds} "
              f"({sorted({r['type'] for p in decoys for r in ds.get(p.path, [])})}), gitleaks rule {fp_gl}")
        print(f"Sandbox keys called real: keylab {sandbox_real}/{len(sandbox)}; "
              f"detect-secrets reports {sandbox_ds}/{len(sandbox)} sandbox-key files (as generic secrets)")
        real_gitleaks(root, keys)


def real_gitleaks(root: Path, keys: list) -> None:
    binary = shutil.which("gitleaks")
    if not binary:
        print("gitleaks binary: not installed here (not in this machine's package sources); rule re-implemented")
        return
    report = root / "gitleaks.json"
    subprocess.run([binary, "dir", str(root), "--no-banner", "--report-format", "json", "--report-path",
                    str(report), "--exit-code", "0"], capture_output=True, check=False)
    found = {item.get("Secret") for item in json.loads(report.read_text() or "[]")}
    print(f"gitleaks binary: {sum(p.key in found for p in keys)}/{len(keys)}")


def _median_time(args: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(runs: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        clone = Path(temp) / "course"
        subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
        files = len(subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True).stdout.split())
        keylab = [str(BIN / "keylab"), "scan", "."]
        rows = [
            ("keylab scan .", keylab),
            ("detect-secrets scan (tracked files)", [str(BIN / "detect-secrets"), "scan"]),
            ("detect-secrets scan --all-files", [str(BIN / "detect-secrets"), "scan", "--all-files"]),
            ("keylab scan . --git-history", keylab + ["--git-history"]),
            ("keylab --help (start-up alone)", [str(BIN / "keylab"), "--help"]),
        ]
        commits = subprocess.run(["git", "rev-list", "--all", "--count"], cwd=clone, capture_output=True,
                                 text=True).stdout.strip()
        print(f"\nWorking tree of the course ({files} tracked files, {commits} commits), median of {runs} runs:")
        for label, args in rows:
            print(f"  {label:<40} {_median_time(args, clone, runs):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of each location in the corpus")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool")
    args = parser.parse_args()
    recall(args.copies)
    speed(args.runs)


if __name__ == "__main__":
    main()
