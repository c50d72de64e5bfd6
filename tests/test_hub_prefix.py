"""The dashboard behind JupyterHub's proxy: every link, form, asset and redirect keeps the prefix."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx

from keylab.hub.proxy import setup_keylab
from keylab.sandbox import SandboxServer

PREFIX = "/user/ada/keylab"


def test_pages_and_redirects_carry_the_forwarded_prefix(sandbox: SandboxServer) -> None:
    headers = {"X-Forwarded-Context": PREFIX}  # what jupyter-server-proxy sends (absolute_url False)
    with httpx.Client(base_url=sandbox.url, headers=headers) as browser:
        home = browser.get("/")
        assert home.status_code in (302, 303, 307) and not home.headers["location"].startswith("/")
        assert urljoin(f"http://hub{PREFIX}/", home.headers["location"]) == f"http://hub{PREFIX}/login"
        deep = browser.get("/api-keys/key_x/revoke")  # not logged in: to the login page, from two levels down
        assert urljoin(f"http://hub{PREFIX}/api-keys/key_x/revoke", deep.headers["location"]).startswith(
            f"http://hub{PREFIX}/login?next=")
        signup = browser.get("/signup")
        links = re.findall(r'(?:href|action|src)="(/[^"]*)"', signup.text)
        assert links and all(link.startswith(PREFIX + "/") for link in links), links
        assert int(signup.headers["content-length"]) == len(signup.content)
        css = browser.get("/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        models = browser.get("/v1/models")  # the API is untouched
        assert models.status_code == 401 and models.headers["content-type"] == "application/json"


def test_without_the_header_or_with_a_bad_one_nothing_changes(sandbox: SandboxServer) -> None:
    plain = httpx.get(sandbox.url + "/signup")
    assert 'href="/static/dashboard.css"' in plain.text
    for bad in ("not-a-path", "/a b", "//evil.example", "/x\"><script>"):
        page = httpx.get(sandbox.url + "/signup", headers={"X-Forwarded-Prefix": bad})
        assert 'href="/static/dashboard.css"' in page.text


def test_the_launcher_entry_is_named_keylab_and_strips_the_prefix() -> None:
    settings = setup_keylab()
    assert settings["absolute_url"] is False and settings["launcher_entry"]["title"] == "keylab sandbox"
    assert settings["command"][-2:] == ["--port", "{port}"] and settings["port"] == 8765


def test_the_proxy_command_keeps_using_a_running_sandbox_while_it_answers(monkeypatch, capsys) -> None:
    """A user who started `keylab start` already: the launcher entry uses that sandbox (no second
    server on the same data dir), and ends when it stops answering."""
    from keylab.hub import proxy

    answers = iter([True, True, False])
    monkeypatch.setattr(proxy, "_health", lambda port: next(answers))
    monkeypatch.setattr(proxy.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(proxy.signal, "signal", lambda *args: None)
    assert proxy.main(["--port", "8765"]) == 0
    assert "using the sandbox already running on 127.0.0.1:8765" in capsys.readouterr().out


def test_the_proxy_command_serves_the_users_sandbox_when_none_runs(monkeypatch, tmp_path) -> None:
    from keylab.hub import proxy
    from keylab.sandbox import server

    served = []
    monkeypatch.setenv("KEYLAB_HOME", str(tmp_path))
    monkeypatch.setattr(proxy, "_health", lambda port: False)
    monkeypatch.setattr(server, "run_foreground", lambda data, host, port: served.append((data, host, port)) or 0)
    assert proxy.main(["--port", "8766"]) == 0
    assert served == [(tmp_path / "sandbox", "127.0.0.1", 8766)]  # loopback only: the hub's login is in front
