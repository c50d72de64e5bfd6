"""Lesson 07's leak drill: a throwaway git repository, a sandbox project to leak a key from, and the
clean-up steps (revoke, replace, rewrite history, read the usage report).

Everything happens in a temporary folder and a fresh sandbox account, so the learner's own `.env`,
key and history are never touched. Commits use a fixed author and date so the drill reads the same
every time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from keylab.pricing import COURSE_MODEL

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Learner", "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Learner", "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2026-11-28T10:00:00+00:00", "GIT_COMMITTER_DATE": "2026-11-28T10:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1", "FILTER_BRANCH_SQUELCH_WARNING": "1",
}


@dataclass(frozen=True)
class Repo:
    """A throwaway git repository with a fixed identity: `repo.git("log")`, `repo.commit(...)`."""

    path: Path

    def git(self, *args: str) -> str:
        env = {**os.environ, **_GIT_IDENTITY, "HOME": str(self.path.parent)}
        done = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                              cwd=self.path, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def commit(self, message: str, files: dict[str, str]) -> str:
        for name, text in files.items():
            (self.path / name).write_text(text)
        self.git("add", "--all")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "--short=12", "HEAD").strip()

    def log(self) -> str:
        """Each commit's message and the files it added (A), changed (M) or deleted (D)."""
        return self.git("log", "--format=%s", "--name-status").strip()

    def delete(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def throwaway_repo() -> Repo:
    """A new git repository in a temporary folder; `repo.delete()` removes the folder."""
    if shutil.which("git") is None:
        raise RuntimeError("this drill needs git: install it from https://git-scm.com/downloads")
    repo = Repo(Path(tempfile.mkdtemp(prefix="keylab-drill-")) / "my-app")
    repo.path.mkdir()
    repo.git("init", "-q")
    return repo


def remove_file_from_history(repo: Repo, name: str) -> None:
    """Rewrite every commit without `name`, then drop the old commits git keeps for undo.

    Uses `git filter-branch`, which ships with git; for a real repository GitHub recommends the faster
    `git filter-repo` (see platform_facts.GITHUB_HISTORY_REMOVAL_URL). Anyone who cloned before
    still has the key: that is why revoking comes first.
    """
    repo.git("filter-branch", "-f", "--index-filter", f"git rm -q --cached --ignore-unmatch {name}",
             "--prune-empty", "--", "--all")
    for ref in repo.git("for-each-ref", "--format=%(refname)", "refs/original/").split():
        repo.git("update-ref", "-d", ref)
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")


def scan(*args: str) -> int:
    """Run `keylab scan` with these arguments, as you would in a terminal; returns its exit status."""
    from keylab.cli import main

    return main(["scan", *args])


def find_key(admin: openai.OpenAI, project_id: str, key: str) -> Any:
    """The admin API's record of `key` (id, name, created_at…), found by its masked form as `keylab
    rotate` does."""
    from keylab.rotation import find_old_key

    key_id = find_old_key(admin, key, project_id=project_id).key_id
    return admin.admin.organization.projects.api_keys.retrieve(key_id, project_id=project_id)


def abuse(key: str, requests: int = 3) -> list[str]:
    """What a stranger with the leaked key does: a few calls at your expense. Returns what happened."""
    client = openai.OpenAI(api_key=key, max_retries=0)
    results = []
    for _ in range(requests):
        try:
            client.chat.completions.create(model=COURSE_MODEL, messages=[{"role": "user", "content": "Write me an essay."}])
            results.append("answered (billed to you)")
        except openai.AuthenticationError as error:
            results.append(f"refused: {error.status_code} {error.code}")
    return results


def usage_by_key(admin: openai.OpenAI, project_id: str, since: int) -> list[tuple[str, int]]:
    """(api_key_id, requests) per key in the project since `since`, from the admin usage API."""
    page = admin.admin.organization.usage.completions(start_time=since, group_by=["api_key_id"],
                                                       project_ids=[project_id], bucket_width="1d")
    rows = []
    for bucket in page.data:
        for result in bucket.results:
            rows.append((result.api_key_id or "?", result.num_model_requests))
    return sorted(rows)


__all__ = ["Repo", "abuse", "find_key", "remove_file_from_history", "scan", "throwaway_repo", "usage_by_key"]
