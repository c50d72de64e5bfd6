"""Lab 07 (keeping a key safe): clean a leaking notebook, move a hard-coded key into `.env`, restrict a
key to what a job needs, and scan a project for real keys.

Keys in these checks are generated when the check runs (sandbox keys, and real-shaped strings that work
nowhere), so no committed file holds one; feedback names cases and never shows a key.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keylab.environment import mode
from keylab.keys import generate_sandbox_key
from keylab.labs.feedback import Feedback, describe
from keylab.labs.registry import exercise
from keylab.pricing import COURSE_MODEL
from keylab.scan import find_keys

TITLE = "Keeping a key safe"

# ---------------------------------------------------------------- 07.1 clean a leaking notebook

HARMLESS_TEXT = "The model answered in 0.4 s.\n"
HARMLESS_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="


def leaky_notebook(key: str) -> dict[str, Any]:
    """A notebook like many on GitHub: the key printed, shown in a traceback, and harmless outputs."""
    esc = "\x1b"
    return {
        "cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["print(os.environ['OPENAI_API_KEY'])"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": [key + "\n"]}]},
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": ["ask('Hello')"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": [HARMLESS_TEXT]},
                         {"output_type": "display_data", "metadata": {}, "data": {"image/png": HARMLESS_PNG}}]},
            {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": ["client.models.list()"],
             "outputs": [{"output_type": "error", "ename": "AuthenticationError", "evalue": "401",
                          "traceback": [f"{esc}[31mAuthenticationError{esc}[0m: key {esc}[1m{key}{esc}[0m"]}]},
            {"cell_type": "markdown", "metadata": {}, "source": ["Results below."]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }


@exercise("07.1", names=["clean_outputs"],
          hint="for each code cell, keep only the outputs o for which find_keys(json.dumps(o)) is empty")
def check_clean_outputs(fb: Feedback, clean_outputs: Callable[..., Any]) -> None:
    key = generate_sandbox_key()
    notebook = leaky_notebook(key)
    result = fb.call(clean_outputs, copy.deepcopy(notebook))
    fb.require(isinstance(result, dict) and isinstance(result.get("cells"), list), "returns a notebook",
               f"clean_outputs should return the notebook (a dict with 'cells'), got {describe(result)}")
    text = json.dumps(result)
    fb.require(not find_keys(text) and key[12:-4] not in text, "no key left anywhere in the notebook",
               "a key is still in the notebook: look at every output, tracebacks too")
    cells = result["cells"]
    fb.require(len(cells) == 4, "every cell kept", f"expected the 4 cells back, got {len(cells)}: remove outputs, "
               "not cells")
    fb.expect([c.get("source") for c in cells] == [c["source"] for c in notebook["cells"]],
              "the code and text of the cells are unchanged", "the cells' source changed: only outputs leak here")
    kept = cells[1].get("outputs") or []
    fb.expect(kept == notebook["cells"][1]["outputs"],
              "harmless outputs kept (the answer and the picture)",
              "the second cell lost outputs that hold no key: clear only the ones that leak")


# ---------------------------------------------------------------- 07.2 move a hard-coded key into .env

def hard_coded_cell(key: str) -> str:
    return ("from openai import OpenAI\n\n"
            f'client = OpenAI(api_key="{key}")\n'
            'print(client.models.list().data[0].id)\n')


@exercise("07.2", names=["move_key_to_env"],
          hint="find the key with find_keys(source); append f'OPENAI_API_KEY={key}' to the file; "
          "return the source with the api_key=... argument removed; os.chmod(env_file, 0o600)")
def check_move_key(fb: Feedback, move_key_to_env: Callable[..., Any]) -> None:
    from dotenv import dotenv_values

    key = generate_sandbox_key()
    with tempfile.TemporaryDirectory(prefix="keylab-lab07-") as folder:
        env_file = Path(folder) / ".env"
        env_file.write_text("# my settings\nOPENAI_BASE_URL=http://127.0.0.1:8765/v1\n")
        source = fb.call(move_key_to_env, hard_coded_cell(key), env_file)
        fb.require(isinstance(source, str), "returns the new cell source",
                   f"move_key_to_env should return the cell's new source, got {describe(source)}")
        fb.expect(not find_keys(source) and key[12:-4] not in source, "no key in the cell any more",
                  "the returned source still holds the key")
        try:
            compile(source, "cell", "exec")
            fb.expect("OpenAI(" in source and "api_key" not in source,
                      "the cell still creates a client, which reads OPENAI_API_KEY itself",
                      "the cell should still call OpenAI(), with no api_key argument")
        except SyntaxError as error:
            fb.fail(f"the new source is not valid Python (line {error.lineno}: {error.msg})")
        values = dotenv_values(env_file) if env_file.exists() else {}
        fb.expect(values.get("OPENAI_API_KEY") == key, ".env holds the key as OPENAI_API_KEY",
                  ".env should have a line OPENAI_API_KEY=<the key>, with no quotes or spaces")
        fb.expect(values.get("OPENAI_BASE_URL") == "http://127.0.0.1:8765/v1", "the other settings kept",
                  "the .env lost its other lines: add to the file, do not overwrite it")
        if os.name == "posix":
            fb.expect(stat.S_IMODE(env_file.stat().st_mode) == 0o600, ".env readable only by you (mode 600)",
                      "set the file's mode to 600 with os.chmod(env_file, 0o600)")


# ---------------------------------------------------------------- 07.3 restrict a key to a job

JOB_DESCRIPTION = "every night: list the models, then ask one of them for a summary (one chat completion)"
NEEDED = {"list models": ("model.read", "api.model.read"), "call a model": ("model.request", "api.model.request")}
# Scopes a reviewer would accept for this job; anything else is a permission the job does not use.
ACCEPTABLE = {scope for scopes in NEEDED.values() for scope in scopes}


def _run_job(key: str) -> str:
    import openai

    client = openai.OpenAI(api_key=key, max_retries=0)
    try:
        model = client.models.list().data[0].id
        client.chat.completions.create(model=COURSE_MODEL, messages=[{"role": "user", "content": "Summarise: ok"}])
    except openai.AuthenticationError as error:
        return error.message.split(". Check")[0]
    return f"ok ({model} listed, one summary written)"


@exercise("07.3", names=["JOB_SCOPES"],
          hint="Restricted keys list their scopes: one to read the model list, one to request a model")
def check_job_scopes(fb: Feedback, JOB_SCOPES: object) -> None:
    fb.require(isinstance(JOB_SCOPES, (list, tuple)) and all(isinstance(s, str) for s in JOB_SCOPES),
               "JOB_SCOPES is a list of scope names", f"JOB_SCOPES should be a list of strings, got {describe(JOB_SCOPES)}")
    scopes = list(JOB_SCOPES)  # type: ignore[arg-type]
    fb.require(bool(scopes), "not All permissions",
               "an empty list means All permissions: name only the scopes the job needs")
    extra = sorted(set(scopes) - ACCEPTABLE)
    fb.expect(not extra, "no permission the job does not use", f"the job does not need {', '.join(extra)}")
    for action, options in NEEDED.items():
        fb.expect(any(s in scopes for s in options), f"the job may {action}",
                  f"the job cannot {action}: add {options[0]!r}")
    if fb.failed or mode() != "sandbox":
        return
    from openai import OpenAI

    from keylab.sandbox.client import ControlClient

    practice = ControlClient.from_env().create_account(credits_usd="1")
    admin = OpenAI(admin_api_key=practice["admin_key"], max_retries=0)
    accounts = admin.admin.organization.projects.service_accounts
    bot = accounts.create(practice["project_id"], name="nightly-summary", create_service_account_only=True)
    key = accounts.api_keys.create(bot.id, project_id=practice["project_id"], scopes=scopes).value
    outcome = _run_job(key)
    fb.expect(outcome.startswith("ok"), "the job ran with a key restricted to JOB_SCOPES",
              f"with a key restricted to JOB_SCOPES the job failed: {outcome}")


# ---------------------------------------------------------------- 07.4 scan a project

def practice_project(root: Path, seed: int = 7) -> set[str]:
    """A project with real-shaped keys (working nowhere), sandbox keys and decoys; returns the files
    that hold a real-shaped key."""
    from keylab.scan.corpus import build_corpus

    planted = build_corpus(root, seed=seed)
    return {p.path for p in planted if p.key and not p.sandbox}


@exercise("07.4", names=["find_real_keys"],
          hint="scan_paths([folder], folder) gives findings; keep those whose kind is 'real'")
def check_find_real_keys(fb: Feedback, find_real_keys: Callable[..., Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="keylab-lab07-") as folder:
        root = Path(folder)
        expected = practice_project(root)
        found = fb.call(find_real_keys, root)
        fb.require(isinstance(found, (list, set, tuple)), "returns a list",
                   f"find_real_keys should return a list of (path, line) pairs, got {describe(found)}")
        try:
            paths = {str(path) for path, line in found}  # type: ignore[union-attr]
            lines_ok = all(isinstance(line, int) and line >= 1 for _, line in found)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            fb.fail("each item should be a (path, line) pair")
            return
        missed, extra = expected - paths, paths - expected
        fb.expect(not missed, f"all {len(expected)} files with a real key found",
                  f"{len(missed)} of {len(expected)} files with a real key were missed")
        fb.expect(not extra, "no sandbox key, placeholder or masked key reported",
                  f"{len(extra)} files reported hold no real key (sandbox keys or decoys)")
        fb.expect(lines_ok, "every finding has its line number", "line numbers should be whole numbers from 1")
        fb.expect(all(not Path(p).is_absolute() for p in paths), "paths are relative to the project",
                  "give paths relative to the folder (scan_paths(paths, base) does it)")
