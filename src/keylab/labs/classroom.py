"""Check cells report their result to the class sandbox, so the instructor sees lab progress.

The result goes to `POST /sandbox/progress` on the sandbox the learner's OPENAI_BASE_URL names,
authenticated with the learner's own sandbox key: that key is what identifies the student. Nothing
is sent when the base URL is not a sandbox (never to api.openai.com), when the key looks like a real
one, or when no sandbox answers; a failure never disturbs the check cell.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from keylab.environment import BASE_URL_VAR, KEY_VAR, mode
from keylab.keys import looks_real

TIMEOUT_S = 2.0


def report_check(exercise_id: str, status: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one check's result to the sandbox; True if the sandbox recorded it."""
    env = os.environ if environ is None else environ
    key = (env.get(KEY_VAR) or "").strip()
    base_url = (env.get(BASE_URL_VAR) or "").strip()
    if not key or not base_url or looks_real(key) or mode(env) != "sandbox":
        return False
    import httpx

    from keylab.sandbox.client import root_url
    from keylab.sandbox_probe import tls_verify

    try:
        response = httpx.post(root_url(base_url) + "/sandbox/progress", timeout=TIMEOUT_S, verify=tls_verify(base_url),
                              json={"exercise_id": exercise_id, "status": status},
                              headers={"Authorization": f"Bearer {key}"})
    except (httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200
