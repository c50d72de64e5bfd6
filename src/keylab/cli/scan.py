"""`keylab scan`: find OpenAI API keys in files, notebooks and git history.

Exit status 0 when clean, 1 when a key is found, 2 on a usage error (so it can gate CI and
pre-commit). Keys are only ever shown masked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CLEAN, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="find OpenAI API keys in files, notebooks and git history (shown masked)",
        description="Find OpenAI API keys (sk-, sk-proj-, sk-svcacct-, sk-admin-, sk-None-) in source and "
        "text files, .env files, JSON/YAML, notebooks (cells, every kind of output, attachments, metadata) "
        "and, with --git-history, in every line ever committed. Keys are shown masked. Exit status: "
        "0 clean, 1 keys found, 2 usage error.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or folders to scan (default: the current folder)")
    parser.add_argument("--git-history", action="store_true",
                        help="also scan every line ever added in the repository's history, on every branch")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text", help="output format")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="accept the findings listed in FILE (the JSON output of an earlier scan)")
    parser.add_argument("--include-sandbox", action="store_true",
                        help="report keylab sandbox keys too (they only work on a local sandbox; "
                        "the leak drill treats them as real)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from keylab import __version__
    from keylab.scan import filter_known, load_baseline, scan_history, scan_paths
    from keylab.scan.baseline import BaselineError
    from keylab.scan.detect import REAL
    from keylab.scan.report import to_json, to_sarif, to_text
    from keylab.scan.sources import ScanError, repository_root

    paths = args.paths or [Path(".")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"keylab scan: no such file or folder: {', '.join(missing)}. Check the path and run again.",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        known = load_baseline(args.baseline) if args.baseline else set()
        # With history, paths are shown from the repository's root, as git shows them.
        folder = paths[0] if paths[0].is_dir() else paths[0].parent
        root = repository_root(folder) if args.git_history else None
        findings = scan_paths(paths, root)
        if root is not None:
            findings += scan_history(root, root=root)
    except (ScanError, BaselineError) as error:
        print(f"keylab scan: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not args.include_sandbox:
        findings = [f for f in findings if f.kind == REAL]
    findings = filter_known(findings, known)
    scanned = ", ".join(str(p) for p in paths) + (" and its git history" if args.git_history else "")
    if args.format == "json":
        print(to_json(findings))
    elif args.format == "sarif":
        print(to_sarif(findings, __version__))
    else:
        print(to_text(findings, scanned))
    return EXIT_FOUND if findings else EXIT_CLEAN
