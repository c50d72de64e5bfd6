"""`keylab.lessons.failures`: the table learners keep, and `explain()`, generated from the error catalogue."""

from __future__ import annotations

import openai
import pytest

from keylab.lessons.failures import (
    ADVICE,
    CATEGORIES,
    FIX_BILLING,
    FIX_KEY,
    FIX_REQUEST,
    RETRY,
    category,
    explain,
    failure_table,
    find_spec,
    make_error,
)
from keylab.sandbox.errors import CATALOGUE

NAMES = sorted(CATALOGUE)


def test_every_catalogue_entry_has_advice() -> None:
    """A new catalogue entry needs a line in ADVICE, or lesson 04's table would give it generic advice."""
    assert NAMES, "the catalogue is empty: nothing would be checked"
    missing = sorted(set(CATALOGUE) - set(ADVICE))
    assert not missing, f"add these to keylab.lessons.failures.ADVICE: {missing}"
    assert not set(ADVICE) - set(CATALOGUE), "ADVICE names cases the catalogue no longer has"
    assert {advice.category for advice in ADVICE.values()} <= set(CATEGORIES)


def test_table_has_one_row_per_catalogue_entry() -> None:
    rows = failure_table()
    assert sorted(row.case for row in rows) == NAMES
    for row in rows:
        spec = CATALOGUE[row.case]
        assert (row.status, row.code) == (spec.status, spec.code)
        assert row.todo == ADVICE[row.case].todo
    text = str(rows)
    assert all((CATALOGUE[name].code or "(no code)") in text for name in NAMES)
    assert all(f"{row.category}: {row.todo}".split()[0] in text for row in rows)


def test_the_table_fits_a_notebooks_width() -> None:
    """Lesson 04 prints it: lines wider than the notebook made learners scroll sideways."""
    table = failure_table()
    lines = str(table).splitlines()
    assert len(lines) > 20
    too_wide = [line for line in lines if len(line) > table.WIDTH]
    assert not too_wide, too_wide
    narrow = failure_table()
    narrow.WIDTH = 60
    assert all(len(line) <= 60 for line in str(narrow).splitlines()[2:] if not line[0].isdigit())


@pytest.mark.parametrize(
    ("status", "exception"),
    [(400, "BadRequestError"), (401, "AuthenticationError"), (404, "NotFoundError"),
     (429, "RateLimitError"), (500, "InternalServerError"), (503, "InternalServerError")],
)
def test_table_names_the_class_the_sdk_raises(status: int, exception: str) -> None:
    rows = [row for row in failure_table() if row.status == status]
    assert rows, f"no catalogued error with status {status}"
    assert {row.exception for row in rows} == {exception}


@pytest.mark.parametrize("name", NAMES)
def test_each_built_error_is_recognised(name: str) -> None:
    error = make_error(name)
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == CATALOGUE[name].status
    assert find_spec(error).name == name
    line = explain(error)
    assert "\n" not in line
    assert ADVICE[name].next_step in line


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing_api_key", FIX_KEY),
        ("invalid_api_key", FIX_KEY),
        ("real_key_in_sandbox", FIX_KEY),
        ("missing_scopes", FIX_KEY),
        ("insufficient_quota", FIX_BILLING),
        ("credit_balance_exhausted", FIX_BILLING),
        ("project_spend_limit_exceeded", FIX_BILLING),
        ("rate_limit_requests", RETRY),
        ("rate_limit_tokens", RETRY),
        ("request_too_large", FIX_REQUEST),
        ("model_not_found", FIX_REQUEST),
        ("unknown_parameter", FIX_REQUEST),
        ("server_error", RETRY),
        ("overloaded", RETRY),
    ],
)
def test_next_step_per_case(name: str, expected: str) -> None:
    assert category(make_error(name)) == expected


def test_quota_advice_says_do_not_retry() -> None:
    line = explain(make_error("insufficient_quota"))
    assert "add credit" in line and "retrying will not help" in line
    assert "Retry-After" in explain(make_error("rate_limit_requests"))


def test_errors_outside_the_catalogue_get_advice_by_status() -> None:
    odd = make_error("server_error")
    odd.body = {"message": "Something new", "type": "server_error", "param": None, "code": "new_code"}
    odd.code = "new_code"
    assert category(odd) == RETRY
    assert explain(odd).startswith("InternalServerError 500 new_code:")


def test_sdk_side_errors() -> None:
    with pytest.raises(openai.OpenAIError) as missing:
        openai.OpenAI(api_key="")
    assert category(missing.value) == FIX_KEY
    assert "load_env() before OpenAI()" in explain(missing.value)
    request = make_error("server_error").request
    assert "whitespace" in explain(openai.APIConnectionError(request=request))


def test_masked_keys_stay_masked_in_show(capsys: pytest.CaptureFixture[str]) -> None:
    from keylab.keys import generate_sandbox_key, mask_like_openai
    from keylab.lessons.failures import show

    key = generate_sandbox_key()
    show(make_error("invalid_api_key", masked=mask_like_openai(key)))
    out = capsys.readouterr().out
    assert "AuthenticationError 401 invalid_api_key" in out
    assert key not in out and key[-4:] in out


def test_building_errors_leaves_no_client_behind(tmp_path) -> None:
    """make_error() borrows the SDK's mapping without a client: a client left alive would make
    load_env() warn about stale clients and the doctor report KD003 in lesson 04."""
    import gc

    from keylab.doctor.clients import live_clients
    from keylab.environment import load_env
    from keylab.keys import generate_sandbox_key

    failure_table()
    gc.collect()
    assert live_clients() == []
    env_file = tmp_path / ".env"
    env_file.write_text(f"OPENAI_API_KEY={generate_sandbox_key()}\nOPENAI_BASE_URL=http://127.0.0.1:8765/v1\n")
    assert "created before this load" not in str(load_env(env_file))


def test_show_redacts_an_unmasked_key(capsys: pytest.CaptureFixture[str]) -> None:
    from keylab.keys import generate_sandbox_key
    from keylab.lessons.failures import show

    key = generate_sandbox_key()
    show(make_error("invalid_api_key", masked=key))
    assert key not in capsys.readouterr().out
