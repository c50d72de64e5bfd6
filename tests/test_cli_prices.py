"""`keylab prices`: the table, its rules and sources, and a plain warning once it is old."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from keylab.cli import main
from keylab.pricing import PRICES_AS_OF, PRICING_URL, STALE_AFTER_DAYS
from keylab.sandbox import serve_in_background
from keylab.sandbox.client import ControlClient


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path: Path) -> None:
    """`--clock sandbox` loads `.env` as the lessons do: give it an empty one, never the learner's."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    os.environ["KEYLAB_ENV_FILE"] = str(empty)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["prices", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(("days", "stale"), [(0, False), (STALE_AFTER_DAYS, False), (STALE_AFTER_DAYS + 1, True),
                                             (400, True)])
def test_age_and_warning(capsys: pytest.CaptureFixture[str], days: int, stale: bool) -> None:
    today = PRICES_AS_OF + dt.timedelta(days=days)
    status, out, _ = run(capsys, "--today", str(today))
    assert status == 0
    first = out.splitlines()[0]
    assert f"as listed on {PRICES_AS_OF}" in first
    assert ("today" if days == 0 else f"({days} days ago)") in first
    assert ("WARNING" in out) is stale
    if stale:
        assert f"{days} days old" in out and PRICING_URL in out


def test_table_rules_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--today", str(PRICES_AS_OF))
    assert "gpt-6-luna      0.10    0.01    0.50" in out
    assert "gpt-5.4-mini    0.75   0.075    4.50" in out
    assert "o1 " not in out  # shut down before the table's date
    for text in ("batch    0.5x", "flex     0.5x", "fast       2x", "272,000 input tokens", "1.5x output",
                 "reasoning tokens", "https://developers.openai.com/api/docs/pricing"):
        assert text in out
    assert "facts.md" not in out and "seed" not in out
    _, everything, _ = run(capsys, "--today", str(PRICES_AS_OF), "--all")
    assert "shut down 2026-10-23" in everything


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--today", "2027-06-01", "--format", "json")
    data = json.loads(out)
    assert data["stale"] is True and data["age_days"] == (dt.date(2027, 6, 1) - PRICES_AS_OF).days
    luna = next(m for m in data["models"] if m["id"] == "gpt-6-luna")
    assert luna["input"] == "0.10" and luna["long_context_rule"] is True
    assert data["tiers"]["fast"] == {"multiplier": "2", "service_tier": "priority", "as_of": str(PRICES_AS_OF),
                                     "source": "OpenAI Fast mode; genai-prices"}
    assert "gpt-5" not in {m["id"] for m in data["models"]}  # shut down by then


def test_sandbox_clock(capsys: pytest.CaptureFixture[str]) -> None:
    """Judged on the sandbox's clock, which lessons move: 90 days on, the table is stale there."""
    data_dir = Path(os.environ["KEYLAB_HOME"]) / "sandbox"
    with serve_in_background(data_dir) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        control = ControlClient(server.url, server.operator_token)
        sandbox_today = dt.date.fromisoformat(control.clock()["today"])
        assert control.today() == sandbox_today
        _, out, _ = run(capsys, "--clock", "sandbox", "--format", "json")
        assert json.loads(out)["today"] == str(sandbox_today)
        control.advance_clock(90 * 86400)
        _, out, _ = run(capsys, "--clock", "sandbox")
        assert "WARNING" in out
        assert f"({(sandbox_today + dt.timedelta(days=90) - PRICES_AS_OF).days} days ago)" in out


def test_sandbox_clock_without_a_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--clock", "sandbox")
    assert status == 1 and out == ""
    assert "OPENAI_BASE_URL is not set" in err and "course.py start" in err


def test_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["prices", "--today", "31/12/2026"])
    assert caught.value.code == 2
    assert "write it as YYYY-MM-DD" in capsys.readouterr().err
