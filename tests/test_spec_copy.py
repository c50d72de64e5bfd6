"""The repository's copy of the official OpenAPI spec: present, unmodified, with its provenance and licence.

The spec tests (`tests/spec.py`) read this copy, so they run on a fresh clone with no network and
nothing outside the repository.
"""

from __future__ import annotations

import hashlib

from spec import REPO_ROOT, SPEC_PATH, load_spec

SHA256 = "db5d7478feae10b4d331834c60d9765a8aa042e38419f9b1694288c11aa8ebc8"
COMMIT = "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"


def test_the_spec_is_in_the_repository_unmodified() -> None:
    assert SPEC_PATH.is_relative_to(REPO_ROOT), "tests must not depend on files outside the repository"
    data = SPEC_PATH.read_bytes()
    assert len(data) == 2_970_649
    assert hashlib.sha256(data).hexdigest() == SHA256


def test_provenance_and_licence_sit_next_to_it() -> None:
    source = (SPEC_PATH.parent / "SOURCE.md").read_text(encoding="utf-8")
    assert COMMIT in source and SHA256 in source and "github.com/openai/openai-openapi" in source
    assert "MIT License" in (SPEC_PATH.parent / "LICENSE").read_text(encoding="utf-8")


def test_it_parses_and_is_the_version_described() -> None:
    spec = load_spec()
    assert spec["info"]["version"] == "2.3.0" and spec["info"]["license"]["identifier"] == "MIT"
    assert len(spec["paths"]) == 182
