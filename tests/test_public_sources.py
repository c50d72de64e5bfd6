"""Learner-facing text cites public sources only.

The course was written from internal notes ("facts.md §3", "the seed", "pain point 11") that a
learner cannot open. Everything a learner sees (notebooks with their outputs, the README and docs,
CLI output and help, doctor messages, lesson helpers, the platform facts and prices the lessons print,
the error catalogue's messages, lab hints) must point to public URLs or to docs/sources.md instead.
Every notebook found is checked, so new lessons are held to it too.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "keylab"

# Names of the internal notes and their section style.
INTERNAL = re.compile(
    r"facts\.md|seed\.md|style\.md|\.\./shared|/work/shared|pain[ -]points?\b|§"
    r"|\bsources?:[^\n]{0,40}\bseed\b|\bseed\s*;|\bseed article\b|\(seed\)|\bfacts\s+[A-B]\d",
    re.IGNORECASE,
)
NOTEBOOK_FOLDERS = ("notebooks", "solutions", "labs")
DOC_FILES = ("README.md", ".env.example")
# Code whose strings a learner reads (printed, raised, rendered, or named as a source); docstrings and
# comments excluded.
LEARNER_CODE = ("cli", "doctor", "labs", "lessons", "pricing", "sandbox", "platform_facts.py", "environment.py",
                "keys.py")


def internal_citations(text: str) -> list[str]:
    return [text[max(0, m.start() - 40): m.end() + 40].replace("\n", " ") for m in INTERNAL.finditer(text)]


def test_the_pattern_catches_the_old_citations() -> None:
    for bad in ("see facts.md §3", "(checked 2026-11-28; source: seed; help.openai.com 8264644)",
                "spend-limits (facts.md pain point 11)", "Sources refer to ../shared/facts.md"):
        assert internal_citations(bad), bad
    for fine in ("the `seed` parameter makes answers repeatable", "https://help.openai.com/en/articles/8264644",
                 "docs/sources.md", "n, seed and temperature are accepted"):
        assert not internal_citations(fine), fine


def notebook_texts() -> Iterator[tuple[str, str]]:
    for folder in NOTEBOOK_FOLDERS:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            nb = json.loads(path.read_text(encoding="utf-8"))
            for index, cell in enumerate(nb["cells"]):
                where = f"{folder}/{path.name}, cell {index + 1}"
                yield where, "".join(cell.get("source", ""))
                for output in cell.get("outputs", []):
                    parts = [output.get("text", "")] + list(output.get("data", {}).values())
                    yield f"{where} (output)", json.dumps(parts, ensure_ascii=False)


def test_there_are_notebooks_to_check() -> None:
    assert sum(1 for _ in notebook_texts()) > 100


def test_notebooks_and_their_outputs_cite_public_sources_only() -> None:
    found = [f"{where}: …{hit}…" for where, text in notebook_texts() for hit in internal_citations(text)]
    assert not found, "cite a public URL or docs/sources.md instead:\n" + "\n".join(found)


def test_readme_and_docs_cite_public_sources_only() -> None:
    files = [ROOT / name for name in DOC_FILES] + sorted((ROOT / "docs").rglob("*.md"))
    found = [f"{path.relative_to(ROOT)}: …{hit}…" for path in files if path.is_file()
             for hit in internal_citations(path.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def _string_constants(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal in a module except docstrings (developer notes, not shown to learners)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_learner_facing_code_strings_cite_public_sources_only() -> None:
    paths: list[Path] = []
    for name in LEARNER_CODE:
        target = SRC / name
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    assert len(paths) > 20
    found = [f"{path.relative_to(ROOT)}:{line}: …{hit}…" for path in paths
             for line, text in _string_constants(path) for hit in internal_citations(text)]
    templates = sorted((SRC / "sandbox" / "dashboard" / "templates").glob("*.html"))
    found += [f"{path.relative_to(ROOT)}: …{hit}…" for path in templates
              for hit in internal_citations(path.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def test_runtime_texts_shown_to_learners_cite_public_sources_only() -> None:
    from keylab import platform_facts
    from keylab.doctor.codes import PROBLEMS
    from keylab.labs.exercises import course_labs
    from keylab.labs.registry import exercises_of
    from keylab.lessons.failures import ADVICE
    from keylab.pricing import MODELS
    from keylab.sandbox.errors import CATALOGUE

    texts: list[tuple[str, str]] = []
    for name in dir(platform_facts):
        value = getattr(platform_facts, name)
        facts = value.items() if isinstance(value, dict) else [(name, value)]
        for key, fact in facts:
            if isinstance(fact, platform_facts.Fact):
                texts += [(f"platform_facts {key}", fact.value), (f"platform_facts {key} source", fact.source)]
    texts += [(f"price row {m.id}", f"{m.source} {m.note}") for m in MODELS.values()]
    texts += [(f"error {spec.name}", spec.message) for spec in CATALOGUE.values()]
    texts += [(f"doctor {p.code}", f"{p.title} {p.detected} {p.fix}") for p in PROBLEMS]
    texts += [(f"advice {name}", f"{a.diagnosis} {a.todo} {a.next_step}") for name, a in ADVICE.items()]
    texts += [(f"exercise {item.exercise_id}", f"{item.todo} {item.hint or ''}")
              for lab in course_labs() for item in exercises_of(lab)]
    found = [f"{where}: …{hit}…" for where, text in texts for hit in internal_citations(text)]
    assert not found, "\n".join(found)


def _all_help(parser: argparse.ArgumentParser) -> Iterator[str]:
    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_help(sub)


def test_cli_help_cites_public_sources_only() -> None:
    from keylab.cli import build_parser

    pages = list(_all_help(build_parser()))
    assert len(pages) > 5
    found = [hit for page in pages for hit in internal_citations(page)]
    assert not found, "\n".join(found)


def test_platform_facts_name_public_urls_listed_in_sources_md() -> None:
    """Lessons print a fact's source: it must be a link a learner can open, and docs/sources.md
    (the course's own list of dated sources) must list it."""
    from keylab import platform_facts

    sources_md = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    facts = [v for v in vars(platform_facts).values() if isinstance(v, platform_facts.Fact)]
    facts += list(platform_facts.UI.values())
    assert len(facts) > 5
    for fact in facts:
        for part in fact.source.split("; "):
            assert part.startswith("https://"), f"{fact.value!r}: source {part!r} is not a public URL"
            assert part in sources_md, f"docs/sources.md does not list {part}"


def _price_source_names() -> list[str]:
    from keylab.pricing.table import SOURCES

    return sorted(SOURCES)


@pytest.mark.parametrize("short_name", _price_source_names())
def test_the_price_tables_short_source_names_are_defined_in_sources_md(short_name: str) -> None:
    from keylab.pricing.table import SOURCES

    sources_md = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    assert f"| {short_name} |" in sources_md
    assert SOURCES[short_name] in sources_md


def test_every_price_row_names_sources_that_are_defined() -> None:
    from keylab.pricing import MODELS
    from keylab.pricing.table import SOURCES

    for model in MODELS.values():
        for part in model.source.split("; "):
            name = part.split(" (")[0]
            assert name in SOURCES, f"{model.id}: source {name!r} is not in pricing.table.SOURCES"
