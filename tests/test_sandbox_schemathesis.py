"""Schemathesis over every operation of the official OpenAPI spec that the sandbox serves: 0 5xx.

Schemathesis (https://schemathesis.readthedocs.io) generates requests from the spec's schemas,
valid and invalid alike, for each served operation: chat completions, models, responses and the
admin API. Every answer must be below 500, and an error must be the API's envelope. Bounded so the
suite stays short: EXAMPLES per operation (12, ~30 s in all; FUZZ_EXAMPLES=200 for a deeper run),
no deadline, no example database.

The spec is read from the repository's copy when there is one (tests/data or docs/refs), else
from ../shared/refs; without any copy the test is skipped.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import spec  # tests/spec.py: where the other spec tests read the spec
from hypothesis import HealthCheck, given, settings

from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.app import _routes
from keylab.sandbox.client import ControlClient
from keylab.sandbox.store import Store

REPO = Path(__file__).resolve().parent.parent
SPEC_CANDIDATES = (
    REPO / "tests" / "data" / "openai-openapi.yaml",
    REPO / "docs" / "refs" / "openai-openapi.yaml",
    REPO.parent / "shared" / "refs" / "openai-openapi.yaml",
)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))  # per operation; raise it for a deeper run
SAVED_SPEC_ENV = os.environ.get("OPENAPI_SPEC")  # read at import: the tests' autouse fixture clears the environment


def spec_path() -> Path | None:
    """The first copy found: OPENAPI_SPEC (a worktree outside the course folder), the one the other
    spec tests read (tests/spec.py), then the repository's copies (any *openapi*.yaml in tests/data
    or docs/refs), then ../shared."""
    named = os.environ.get("OPENAPI_SPEC") or SAVED_SPEC_ENV
    in_repo = [path for folder in (REPO / "tests" / "data", REPO / "docs" / "refs") if folder.is_dir()
               for path in sorted(folder.glob("*openapi*.y*ml"))]
    candidates = ((Path(named),) if named else ()) + (spec.SPEC_PATH,) + SPEC_CANDIDATES[:2] + tuple(in_repo) \
        + SPEC_CANDIDATES[2:]
    return next((path for path in candidates if path.is_file()), None)


def _shape(path: str) -> str:
    """A path template with its parameter names dropped: /a/{x}/b and /a/{y:path}/b match."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def served_operations() -> set[tuple[str, str]]:
    """(method, path shape under /v1) of every route the sandbox serves, lazy groups included."""
    served = set()
    for route in _routes():
        for inner in getattr(route, "routes", [route]):
            path = getattr(inner, "path", "")
            if path.startswith("/v1/"):
                for method in set(getattr(inner, "methods", None) or ()) - {"HEAD"}:
                    served.add((method.lower(), _shape(path[3:])))
    return served


def served_spec() -> dict[str, Any]:
    """The official spec cut down to the operations the sandbox serves (components kept whole)."""
    path = spec_path()
    if path is None:
        pytest.skip("the official OpenAPI spec is not in tests/data, docs/refs or ../shared/refs")
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    served = served_operations()
    paths = {}
    for template, item in spec["paths"].items():
        kept = {method: op for method, op in item.items()
                if method == "parameters" or (method, _shape(template)) in served}
        if set(kept) - {"parameters"}:
            paths[template] = kept
    spec["paths"] = paths
    return spec


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, dict[str, Any]]]:
    data_dir = tmp_path_factory.mktemp("schemathesis-sandbox")
    with serve_in_background(data_dir) as server:
        account = ControlClient(server.url, server.operator_token).create_account(credits_usd="1000")
        with Store(data_dir) as store, store.transaction() as db:
            for model in ("gpt-6-luna", "gpt-5.4-mini"):
                db.execute("INSERT INTO project_rate_limits (project_id, model, max_requests_per_1_minute,"
                           " max_tokens_per_1_minute) VALUES (?, ?, 1000000, 1000000000)",
                           (account["project_id"], model))
        yield server, account


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    return schemathesis.openapi.from_dict(served_spec())


def _operation(method: str, shape: str) -> Any:
    for result in _schema().get_all_operations():
        operation = result.ok()
        if operation.method.lower() == method and _shape(operation.path) == shape:
            return operation
    pytest.skip(f"{method.upper()} {shape} is not in the spec (see test_the_fuzzed_operations_cover_the_sandbox)")


def _check(case: Any, server: SandboxServer, account: dict[str, Any], counts: Counter[int]) -> None:
    if "project_id" in (case.path_parameters or {}):
        case.path_parameters["project_id"] = account["project_id"]  # reach past the 404
    key = account["admin_key"] if case.path.startswith("/organization") else account["api_key"]
    response = case.call(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    counts[response.status_code] += 1
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])
    if response.status_code >= 400 and response.content.startswith(b"{"):
        error = response.json()["error"]
        assert list(error) == ["message", "type", "param", "code"] and error["message"]


# Operations are listed from the sandbox's routes (no spec needed to collect); schemathesis's own
# pytest integration is not used: its lazy loader does not run under pytest 9.
@pytest.mark.parametrize(("method", "shape"), sorted(served_operations()))
def test_no_operation_answers_5xx(method: str, shape: str, target: tuple[SandboxServer, dict[str, Any]]) -> None:
    server, account = target
    operation = _operation(method, shape)
    counts: Counter[int] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        _check(case, server, account, counts)

    run()
    assert sum(counts.values()) > 0
    print(f"{method.upper()} {shape}: {dict(sorted(counts.items()))}")


def test_the_fuzzed_operations_cover_the_sandbox() -> None:
    """Every /v1 route of the sandbox is in the spec (so none escapes the fuzzer), except the
    sandbox's own additions listed here."""
    if spec_path() is None:
        pytest.skip("no spec copy")
    spec_ops = {(method, _shape(template)) for template, item in served_spec()["paths"].items()
                for method in item if method != "parameters"}
    missing = served_operations() - spec_ops
    assert missing <= SANDBOX_ONLY, sorted(missing - SANDBOX_ONLY)


# The spec has no POST for a project key (the SDK's `update` has, with scopes and expiry).
SANDBOX_ONLY: set[tuple[str, str]] = {("post", "/organization/projects/{}/api_keys/{}")}
