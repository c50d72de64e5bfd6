"""Run every check on a learner's set-up and collect the findings into a `Report`.

The checks look at what the SDK *would* see after `load_env()`: the environment wins,
`.env` fills in what is missing. With an explicit `environ` mapping everything is computed from
that mapping and the files on disk, so tests can build any set-up in a temporary folder. With
`environ=None` the real `os.environ` is used, and the doctor also looks for stale OpenAI
clients in the running session (KD003). Unless `offline`, it then sends one free request to the
base URL (`keylab.doctor.reach`): does it answer like the API, and is the key accepted (KD021-KD025).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from keylab.doctor import clients, filecheck, reach
from keylab.doctor.envfile import EnvFile, read_env_file
from keylab.doctor.finding import Finding
from keylab.doctor.keycheck import check_base_url, check_key_value, is_name_drift
from keylab.doctor.report import Report
from keylab.environment import BASE_URL_VAR, DEFAULT_BASE_URL, KEY_VAR, locate_env_file, shown, status
from keylab.keys import KeyKind

StrPath = str | os.PathLike[str]


def run(
    project_dir: StrPath | None = None,
    env_file: StrPath | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    offline: bool = False,
) -> Report:
    """Check the set-up and return the full report (findings, notes, where it looked).

    offline: skip the network check (the free `GET /models` to the base URL)."""
    in_session = environ is None
    env: dict[str, str] = dict(os.environ if environ is None else environ)
    start = Path(project_dir) if project_dir is not None else Path.cwd()
    location = locate_env_file(env_file, start=start, environ=env)
    findings: list[Finding] = []
    notes: list[str] = []

    dotenv: EnvFile | None = None
    if location.path is None:
        findings.append(Finding.of(
            "KD001", f"Looked in {location.looked_in}.", looked_in=[str(p) for p in location.searched],
        ))
    else:
        try:
            dotenv = read_env_file(location.path)
        except OSError as exc:
            notes.append(f"Could not read {location.path}: {exc.strerror}.")
    file_values = {k: v for k, v in (dotenv.values if dotenv else {}).items() if v is not None}
    where_file = f".env ({location.path})"

    if dotenv and dotenv.bad_lines:
        findings.append(Finding.of(
            "KD002", f"In {location.path}: " + "; ".join(b.describe() for b in dotenv.bad_lines) + ".",
            lines=[b.line for b in dotenv.bad_lines],
        ))
    findings += _shell_overrides(env, file_values)

    def source(name: str) -> tuple[str | None, str]:
        if name in env:
            return env[name], where_file if file_values.get(name) == env[name] else "your environment"
        return file_values.get(name), where_file

    key, key_where = source(KEY_VAR)
    kind = KeyKind.EMPTY
    key_has_errors = False
    if not key:
        findings.append(_missing_key(env, file_values, key, key_where))
    else:
        checked = [(key, key_where)]
        if file_values.get(KEY_VAR) not in (None, "", key):
            checked.append((file_values[KEY_VAR], where_file))
        for i, (value, where) in enumerate(checked):
            more, info = check_key_value(value, where)
            findings += [f for f in more if f not in findings]
            key_has_errors = key_has_errors or any(f.severity == "error" for f in more)
            if i == 0:
                kind = info.kind
    url, url_where = source(BASE_URL_VAR)
    url_findings = check_base_url(url, url_where, kind)
    findings += url_findings
    key_ok = bool(key) and not key_has_errors
    merged = {**file_values, **env}
    where = status(merged, probe=not offline)  # --offline: no request at all, the sandbox probe included
    api = _reach(url or DEFAULT_BASE_URL, key if key_ok else None, offline, bool(url_findings),
                 sandbox=where.mode == "sandbox")
    findings += api.findings

    if dotenv is not None:
        for check in (filecheck.check_git, filecheck.check_permissions):
            more, more_notes = check(dotenv.path)
            findings += more
            notes += more_notes
    if in_session:
        findings += clients.check_clients(env)

    findings.sort(key=lambda f: f.code)
    return Report(tuple(findings), tuple(notes), location.path, location.looked_in, where, api.summary)


def _reach(url: str, key: str | None, offline: bool, url_has_problems: bool, *, sandbox: bool) -> reach.Reach:
    if offline:
        return reach.Reach("not checked (offline)")
    if url_has_problems:
        return reach.Reach("not checked: fix OPENAI_BASE_URL first (see below)")
    return reach.check(url, key, sandbox=sandbox)


def _shell_overrides(env: Mapping[str, str], file_values: Mapping[str, str]) -> list[Finding]:
    found = []
    for name, file_value in file_values.items():
        if name in env and env[name] != file_value:
            shell_shown, file_shown = shown(name, env[name]), shown(name, file_value)
            same_look = " (they differ in the middle)" if shell_shown == file_shown else ""
            found.append(Finding.of(
                "KD004", f"{name}: your environment has {shell_shown}, .env has {file_shown}{same_look}; "
                "the environment wins.", variable=name,
            ))
    return found


def _missing_key(
    env: Mapping[str, str], file_values: Mapping[str, str], key: str | None, where: str
) -> Finding:
    drift = []
    for name in sorted(set(env) | set(file_values)):
        if is_name_drift(name) and (env.get(name) or file_values.get(name)):
            drift.append(f"{name} (in {'your environment' if name in env else '.env'})")
    if drift:
        verb = "is" if len(drift) == 1 else "are"
        return Finding.of("KD006", f"{KEY_VAR} is not set, but " + ", ".join(drift) + f" {verb}.",
                          variables=[d.split(" ")[0] for d in drift])
    if key == "":
        return Finding.of("KD005", f"{KEY_VAR} is set in {where} but its value is empty.")
    return Finding.of("KD005", f"{KEY_VAR} is in neither your environment nor .env.")
