"""keylab.sandbox_probe: which answers are remembered and for how long; and the sandbox's port setting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from keylab import paths, sandbox_probe
from keylab.hub import proxy


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replaces the HTTP ask with a counter whose answer the test sets, and the clock with one it moves."""
    state: dict[str, object] = {"answer": False, "roots": [], "now": 1000.0}

    def ask(root: str, timeout: float = sandbox_probe.TIMEOUT_S) -> bool:
        state["roots"].append(root)  # type: ignore[union-attr]
        return bool(state["answer"])

    monkeypatch.setattr(sandbox_probe, "answers_as_sandbox", ask)
    monkeypatch.setattr(sandbox_probe, "time", SimpleNamespace(monotonic=lambda: state["now"]))
    return state


def test_a_yes_is_remembered(asked: dict[str, object]) -> None:
    asked["answer"] = True
    assert sandbox_probe.is_sandbox("http://192.0.2.10:8765/v1")
    asked["answer"] = False
    asked["now"] = 1000.0 + 10 * sandbox_probe.RETRY_AFTER_S
    assert sandbox_probe.is_sandbox("http://192.0.2.10:8765/v1/")  # the same server, still yes, not asked
    assert asked["roots"] == ["http://192.0.2.10:8765"]


def test_a_no_is_asked_again_only_after_retry_after(asked: dict[str, object]) -> None:
    url = "http://192.0.2.10:8765/v1"
    assert not sandbox_probe.is_sandbox(url)
    asked["answer"] = True  # the sandbox starts meanwhile
    asked["now"] = 1000.0 + sandbox_probe.RETRY_AFTER_S - 0.1
    assert not sandbox_probe.is_sandbox(url)
    assert len(asked["roots"]) == 1  # type: ignore[arg-type]
    asked["now"] = 1000.0 + sandbox_probe.RETRY_AFTER_S
    assert sandbox_probe.is_sandbox(url)
    assert len(asked["roots"]) == 2  # type: ignore[arg-type]


def test_forget_clears_the_answers(asked: dict[str, object]) -> None:
    asked["answer"] = True
    assert sandbox_probe.is_sandbox("http://192.0.2.10:8765/v1")
    sandbox_probe.forget()
    asked["answer"] = False
    assert not sandbox_probe.is_sandbox("http://192.0.2.10:8765/v1")
    assert len(asked["roots"]) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://API.openai.com/v1/", "", "  "])
def test_the_real_api_is_never_asked(asked: dict[str, object], url: str) -> None:
    asked["answer"] = True
    assert not sandbox_probe.is_sandbox(url)
    assert asked["roots"] == []


def test_answers_as_sandbox_says_no_when_nothing_listens() -> None:
    from keylab.cli.calculator import free_port

    assert not sandbox_probe.answers_as_sandbox(f"http://127.0.0.1:{free_port()}", timeout=0.5)


def test_answers_as_sandbox_says_yes_to_the_sandbox(sandbox) -> None:
    assert sandbox_probe.answers_as_sandbox(sandbox.base_url.removesuffix("/v1"))


@pytest.mark.parametrize(("value", "port"), [
    ("9000", 9000), (" 9001 ", 9001), ("", 8765), ("  ", 8765), ("abc", 8765), ("-1", 8765), ("80.5", 8765),
])
def test_sandbox_port_from_the_environment(value: str, port: int) -> None:
    assert paths.sandbox_port({paths.PORT_VAR: value}) == port


def test_sandbox_port_default_and_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.sandbox_port({}) == paths.DEFAULT_PORT == 8765
    monkeypatch.setenv("KEYLAB_SANDBOX_PORT", "9123")
    assert paths.sandbox_port() == 9123
    assert proxy.setup_keylab()["port"] == 9123  # JupyterLab's launcher entry uses the same setting
