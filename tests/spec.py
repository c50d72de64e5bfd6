"""Validate sandbox bodies against the official OpenAPI spec (the copy in `tests/data/openai-openapi/`).

Other tests import this module:

    from spec import validate
    validate("CreateChatCompletionResponse", body)   # raises jsonschema.ValidationError

The spec is parsed once per test session (about 1.5 s) and cached. It is OpenAPI 3.1 but still
uses the 3.0 keyword `nullable: true` in 111 places (facts.md B12); a 3.1 validator would
ignore it and reject every `null` those fields may hold, so each `{…, nullable: true}` is
rewritten to `{anyOf: [{…}, {type: null}]}` before any validation. `$ref`s resolve through a
`referencing` registry holding the whole document. The spec is part of the repository (MIT-licensed;
provenance and licence beside it), so these tests run on every clone, offline.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

if "jsonschema" not in sys.modules:
    # jsonschema's format module imports rfc3987_syntax when installed, which compiles ~40 lark
    # grammars at import (5-10 s on a small machine) for the "iri" format only. No validation here
    # checks formats, so keep that import from happening.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "tests" / "data" / "openai-openapi" / "openapi.yaml"
SPEC_URI = "urn:keylab:openai-openapi"


def normalize_nullable(node: Any) -> Any:
    """The 3.0 `nullable: true` rewritten as the 3.1 `anyOf` with `{type: null}`, recursively."""
    if isinstance(node, list):
        return [normalize_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: normalize_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _cache_path() -> Path:
    """A parse cache (plain JSON, so loading it runs no code) keyed by the spec's size and mtime."""
    stat = SPEC_PATH.stat()
    return Path(tempfile.gettempdir()) / f"keylab-openapi-{stat.st_size}-{stat.st_mtime_ns}.json"


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """The parsed, normalised spec: parsed once per session, and read from a JSON copy across
    sessions (the YAML takes 1.5-3 s to parse; the JSON copy about 0.1 s)."""
    cached = _cache_path()
    try:
        spec = json.loads(cached.read_text(encoding="utf-8"))
        if isinstance(spec, dict) and "components" in spec:
            return spec
    except (OSError, ValueError):
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec = normalize_nullable(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader
    try:
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        # default=str: YAML reads unquoted dates in examples as dates; nothing validated uses them
        tmp.write_text(json.dumps(spec, default=str), encoding="utf-8")
        tmp.replace(cached)
    except OSError:
        pass
    return spec


@functools.lru_cache(maxsize=1)
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def schema(name: str) -> dict[str, Any]:
    """`components/schemas/<name>` after normalisation (refs unresolved)."""
    schemas = load_spec()["components"]["schemas"]
    if name not in schemas:
        raise KeyError(f"the spec has no schema {name!r}")
    return schemas[name]


@functools.lru_cache(maxsize=64)
def validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema(name)  # a clear KeyError for a misspelt name
    return Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=_registry())


def errors(name: str, body: Any) -> list[str]:
    """Every violation of schema `name` by `body`, as readable lines (empty when valid)."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator(name).iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def validate(name: str, body: Any) -> None:
    """Raise AssertionError listing every way `body` breaks `components/schemas/<name>`."""
    problems = errors(name, body)
    if problems:
        raise AssertionError(f"body does not match the spec's {name}:\n  " + "\n  ".join(problems[:20]))


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one level at a time) to the schema it names."""
    while "$ref" in node:
        node = schema(node["$ref"].rsplit("/", 1)[-1])
    return node


def properties(name: str) -> dict[str, Any]:
    """The top-level properties of a schema, merged through `allOf` and `$ref` (request bodies use both)."""

    def collect(node: dict[str, Any]) -> dict[str, Any]:
        node = resolve(node)
        found: dict[str, Any] = {}
        for part in node.get("allOf", []):
            found.update(collect(part))
        found.update(node.get("properties", {}))
        return found

    return collect(schema(name))
