"""The sandbox's platform dashboard over HTTP: sign-up, verification, sessions, keys, billing, limits.

Each test drives a real sandbox (its own, on a free port: these tests move its clock) with httpx,
as a browser without JavaScript would: GET a page, read its CSRF token, POST the form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from conftest import make_client
from keylab.pricing import from_pico
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.client import ControlClient

PASSWORD = "correct horse battery staple"
TEST_CARD = "4242 4242 4242 4242"
KEY_RE = re.compile(r"sk-proj-[A-Za-z0-9_-]{100,}")
CHAT = {"model": "gpt-6-luna", "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("dashboard-data")) as server:
        yield server


@pytest.fixture(scope="module")
def ops(site: SandboxServer) -> ControlClient:
    return ControlClient(site.url, site.operator_token)


@pytest.fixture(autouse=True)
def _clock(ops: ControlClient) -> Iterator[None]:
    yield
    ops.reset_clock()


class Visitor:
    """One browser session: a cookie jar, and forms posted with the CSRF token of the last page."""

    def __init__(self, site: SandboxServer) -> None:
        self.site = site
        self.http = httpx.Client(base_url=site.url, follow_redirects=False, timeout=10)
        self.csrf = ""
        self.email = f"learner-{uuid.uuid4().hex[:10]}@example.com"
        self.phone = "+1 555 010 " + str(uuid.uuid4().int % 10000).zfill(4)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        while response.is_redirect:
            response = self.http.get(response.headers["location"])
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if match:
            self.csrf = match[1]
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, follow: bool = True,
             csrf: str | None = None) -> httpx.Response:
        form = {"csrf_token": self.csrf if csrf is None else csrf, **(data or {})}
        response = self.http.post(path, data=form)
        if follow and response.is_redirect:
            return self.get(response.headers["location"])
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if match:
            self.csrf = match[1]
        return response

    def outbox(self) -> str:
        return self.get("/outbox").text

    def sign_up(self) -> httpx.Response:
        self.get("/signup")
        return self.post("/signup", {"email": self.email, "password": PASSWORD, "name": "Ada"})

    def verify_email(self) -> httpx.Response:
        link = re.search(r'href="(http[^"]+/verify-email\?token=[^"]+)"', self.outbox())[1]
        return self.get(link.replace("&amp;", "&"))

    def send_code(self) -> str:
        self.post("/verify-phone/send", {"phone": self.phone})
        return re.findall(r"verification code is (\d{6})", self.outbox())[0]

    def finish(self, org: str = "Personal") -> httpx.Response:
        self.sign_up()
        self.verify_email()
        self.post("/verify-phone", {"code": self.send_code()})
        return self.post("/onboarding", {"name": org})

    def new_key_form(self) -> str:
        page = self.get("/api-keys/new").text
        return re.search(r'name="form_nonce" value="([^"]+)"', page)[1]

    def create_key(self, **fields: str) -> tuple[httpx.Response, str | None]:
        form = self.get("/api-keys/new").text
        nonce = re.search(r'name="form_nonce" value="([^"]+)"', form)[1]
        project = re.search(r'<option value="(proj_[^"]+)"', form)[1]
        response = self.post("/api-keys", {"form_nonce": nonce, "name": "Development_Testing",
                                           "project_id": project, "permission": "all", **fields})
        match = KEY_RE.search(response.text)
        return response, match[0] if match else None

    def buy(self, amount: str = "10", card: str = TEST_CARD, auto: bool = False) -> httpx.Response:
        self.get("/billing")
        data = {"amount": amount, "card_number": card, "expiry": "12/39", "cvc": "123"}
        if auto:
            data["auto_recharge"] = "on"
        return self.post("/billing/credit", data)


@pytest.fixture
def visitor(site: SandboxServer) -> Visitor:
    return Visitor(site)


@pytest.fixture
def member(visitor: Visitor) -> Visitor:
    """A visitor with a finished account: verified email and phone, organization, Default project."""
    assert "/dashboard" in str(visitor.finish().url)
    return visitor


# -- sessions, cookies, CSRF -----------------------------------------------------------------------------


def test_every_form_needs_the_csrf_token(visitor: Visitor) -> None:
    page = visitor.get("/signup")
    assert page.status_code == 200 and visitor.csrf
    data = {"email": visitor.email, "password": PASSWORD}
    assert visitor.post("/signup", data, csrf="").status_code == 403
    assert visitor.post("/signup", data, csrf="forged-" + visitor.csrf[7:]).status_code == 403
    other = Visitor(visitor.site)
    other.get("/signup")
    assert visitor.post("/signup", data, csrf=other.csrf).status_code == 403  # another session's token
    cross_site = visitor.http.post("/signup", data={"csrf_token": visitor.csrf, **data},
                                   headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    no_cookie = httpx.post(visitor.site.url + "/signup", data={"csrf_token": visitor.csrf, **data})
    assert no_cookie.status_code == 403
    # Nothing was created by the refused posts; the real one works.
    assert visitor.post("/signup", data).status_code == 200
    assert "Verify your email" in visitor.get("/verify-email").text


def test_session_cookie_flags_and_rotation(visitor: Visitor) -> None:
    first = visitor.http.get("/signup")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("keylab_session=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert "secure" not in cookie.lower()  # plain http on 127.0.0.1
    anonymous = visitor.http.cookies["keylab_session"]
    visitor.csrf = re.search(r'name="csrf_token" value="([^"]+)"', first.text)[1]
    signed_up = visitor.http.post("/signup", data={"csrf_token": visitor.csrf, "email": visitor.email,
                                                    "password": PASSWORD})
    assert signed_up.status_code == 303
    assert "HttpOnly" in signed_up.headers["set-cookie"]
    assert visitor.http.cookies["keylab_session"] != anonymous  # a new session id on sign-up
    for header in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert header in signed_up.headers
    # The old (anonymous) session id no longer opens anything.
    stale = httpx.get(visitor.site.url + "/verify-email", cookies={"keylab_session": anonymous})
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")


def test_sessions_and_passwords_are_stored_hashed(member: Visitor) -> None:
    data_dir = member.site.data_dir
    token = member.http.cookies["keylab_session"]
    store = member.site.app.state.sandbox.store
    row = store.query_one("SELECT password_hash FROM users WHERE email = ?", (member.email,))
    assert row["password_hash"].startswith("scrypt$32768$8$1$")
    assert PASSWORD not in row["password_hash"]
    assert not any(token in str(tuple(r)) for r in store.query("SELECT * FROM sessions"))
    _assert_not_on_disk(data_dir, PASSWORD, token)


def test_pages_need_a_finished_account(visitor: Visitor) -> None:
    anonymous = visitor.http.get("/api-keys")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/api-keys"
    visitor.sign_up()
    halfway = visitor.http.get("/billing")  # email not verified yet
    assert halfway.headers["location"] == "/verify-email"
    visitor.verify_email()
    assert visitor.http.get("/billing").headers["location"] == "/verify-phone"


def test_simulated_providers_are_marked(visitor: Visitor) -> None:
    page = visitor.get("/signup").text
    for provider in ("Google", "Microsoft", "Apple"):
        assert f'aria-label="Continue with {provider} (simulated)"' in page
    answer = visitor.post("/auth/simulated/google")
    assert answer.status_code == 200 and "simulated in the sandbox" in answer.text


def test_dashboard_does_not_shadow_the_api(site: SandboxServer) -> None:
    unknown = httpx.get(site.url + "/v1/nope")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
    assert httpx.get(site.url + "/sandbox/health").json()["status"] == "ok"
    assert httpx.get(site.url + "/static/dashboard.css").status_code == 200
    assert httpx.get(site.url + "/").headers["location"] == "/login"


# -- sign-up, verification codes, log-in ------------------------------------------------------------------


def test_sign_up_verify_and_onboard(visitor: Visitor) -> None:
    page = visitor.sign_up()
    assert "We sent a confirmation link" in page.text
    mail = visitor.outbox()
    assert "Verify your email address" in mail and visitor.email in mail
    assert "Verify your phone number" in visitor.verify_email().text
    code = visitor.send_code()
    assert "+1555010" in visitor.outbox()
    assert "Create your organization" in visitor.post("/verify-phone", {"code": code}).text
    dashboard = visitor.post("/onboarding", {"name": "Acme Research"})
    assert "/dashboard" in str(dashboard.url)
    assert "Acme Research" in dashboard.text
    assert "Your API keys are inactive until you add credit" in dashboard.text
    projects = visitor.get("/projects").text
    assert "Default project" in projects


def test_email_link_is_single_use_and_expires(visitor: Visitor, ops: ControlClient) -> None:
    visitor.sign_up()
    link = re.search(r'href="(http[^"]+/verify-email\?token=[^"]+)"', visitor.outbox())[1].replace("&amp;", "&")
    visitor.post("/verify-email/resend")  # a new link: the first one stops working
    old = visitor.get(link)
    assert old.status_code == 400 and "not valid" in old.text
    fresh = re.findall(r'href="(http[^"]+/verify-email\?token=[^"]+)"', visitor.outbox())[0].replace("&amp;", "&")
    ops.advance_clock(24 * 3600 + 60)
    expired = visitor.get(fresh)
    assert expired.status_code == 400 and "expired" in expired.text


def test_sms_code_expires(visitor: Visitor, ops: ControlClient) -> None:
    visitor.sign_up()
    visitor.verify_email()
    code = visitor.send_code()
    ops.advance_clock(10 * 60 + 1)
    answer = visitor.post("/verify-phone", {"code": code})
    assert answer.status_code == 400 and "expired" in answer.text
    assert "Create your organization" in visitor.post("/verify-phone", {"code": visitor.send_code()}).text


def test_sms_code_allows_five_tries(visitor: Visitor) -> None:
    visitor.sign_up()
    visitor.verify_email()
    code = visitor.send_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        answer = visitor.post("/verify-phone", {"code": wrong})
        assert answer.status_code == 400 and f"{left} tr" in answer.text
    assert visitor.post("/verify-phone", {"code": wrong}).status_code == 429
    locked = visitor.post("/verify-phone", {"code": code})  # even the right code: this one is used up
    assert locked.status_code == 429 and "Send a new code" in locked.text
    assert "Create your organization" in visitor.post("/verify-phone", {"code": visitor.send_code()}).text


def test_log_in_is_rate_limited(member: Visitor, ops: ControlClient) -> None:
    member.post("/logout")
    member.get("/login")
    for _ in range(5):
        failed = member.post("/login", {"email": member.email, "password": "wrong password!"})
        assert failed.status_code == 401 and "Incorrect email or password" in failed.text
    blocked = member.post("/login", {"email": member.email, "password": PASSWORD})
    assert blocked.status_code == 429 and "Too many failed log-in attempts" in blocked.text
    ops.advance_clock(15 * 60 + 1)
    assert "/dashboard" in str(member.post("/login", {"email": member.email, "password": PASSWORD}).url)


def test_log_out_ends_the_session(member: Visitor) -> None:
    token = member.http.cookies["keylab_session"]
    assert "Log in" in member.post("/logout").text
    again = httpx.get(member.site.url + "/dashboard", cookies={"keylab_session": token})
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


# -- API keys ----------------------------------------------------------------------------------------------


def _assert_not_on_disk(data_dir: Path, *secrets: str) -> None:
    for path in data_dir.iterdir():
        if path.is_file():
            blob = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in blob, f"{secret[:12]}… found in {path.name}"


def test_the_key_is_shown_exactly_once(member: Visitor) -> None:
    response, key = member.create_key()
    assert key is not None and response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    assert "It will not be shown again" in response.text
    assert response.text.count(key) == 1
    masked = f"sk-proj-...{key[-4:]}"
    listing = member.get("/api-keys").text
    assert masked in listing and key not in listing and KEY_RE.search(listing) is None
    for page in ("/dashboard", "/usage", "/outbox", "/billing", "/limits", "/api-keys/new"):
        assert key not in member.get(page).text
    # Sending the same form again (a reload of the POST) makes no second key and shows no key.
    nonce = member.new_key_form()
    first = member.post("/api-keys", {"form_nonce": nonce, "name": "once", "permission": "all",
                                      "project_id": _default_project(member)})
    assert KEY_RE.search(first.text)
    replay = member.post("/api-keys", {"form_nonce": nonce, "name": "twice", "permission": "all",
                                       "project_id": _default_project(member)}, follow=False)
    assert replay.status_code == 303 and "key_form_used" in replay.headers["location"]
    assert "twice" not in member.get("/api-keys").text
    member.site.app.state.sandbox.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    _assert_not_on_disk(member.site.data_dir, key, key[8:40])


def _default_project(member: Visitor) -> str:
    return re.search(r'<option value="(proj_[^"]+)"', member.get("/api-keys/new").text)[1]


def test_revoked_key_answers_401(member: Visitor, site: SandboxServer) -> None:
    member.buy()
    _, key = member.create_key()
    client = make_client(site, key)
    assert client.chat.completions.create(**CHAT).choices
    key_id = re.search(r'/api-keys/(key_[^/]+)/revoke', member.get("/api-keys").text)[1]
    confirm = member.get(f"/api-keys/{key_id}/revoke")
    assert "Revoke secret key" in confirm.text and "cannot be undone" in confirm.text
    assert "The key was revoked" in member.post(f"/api-keys/{key_id}/revoke").text
    with pytest.raises(openai.AuthenticationError) as error:
        client.chat.completions.create(**CHAT)
    assert error.value.code == "invalid_api_key"


def test_restricted_keys_get_the_scopes_of_the_form(member: Visitor, site: SandboxServer) -> None:
    member.buy()
    nothing = member.create_key(permission="restricted")[0]
    assert nothing.status_code == 400 and "at least one permission" in nothing.text
    page, responses_only = member.create_key(permission="restricted", perm_responses="Write")
    assert "api.responses.write" in page.text
    with pytest.raises(openai.AuthenticationError) as error:
        make_client(site, responses_only).chat.completions.create(**CHAT)
    assert "Missing scopes: model.request" in str(error.value)
    _, requester = member.create_key(permission="restricted", perm_model_capabilities="Request")
    assert make_client(site, requester).chat.completions.create(**CHAT).choices
    store = site.app.state.sandbox.store
    row = store.query_one("SELECT scopes, permission FROM api_keys WHERE redacted = ?",
                          (f"sk-proj-...{requester[-4:]}",))
    assert row["permission"] == "restricted" and row["scopes"] == '["model.request", "api.model.request"]'
    _, reader = member.create_key(permission="read_only")
    assert make_client(site, reader).models.list().data
    with pytest.raises(openai.AuthenticationError):
        make_client(site, reader).chat.completions.create(**CHAT)


# -- billing ----------------------------------------------------------------------------------------------


def test_unfunded_then_funded(member: Visitor, site: SandboxServer) -> None:
    created, key = member.create_key()
    assert "inactive until you add credit" in created.text
    assert "Inactive (no credit)" in member.get("/api-keys").text
    client = make_client(site, key)
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(**CHAT)
    assert error.value.code == "insufficient_quota"
    declined = member.buy(card="4000 0000 0000 0002")
    assert declined.status_code == 402 and "Your card was declined" in declined.text
    assert "4000 0000 0000 0002" not in declined.text and "4000000000000002" not in declined.text
    too_little = member.buy(amount="4.99")
    assert too_little.status_code == 402 and "The minimum purchase is $5.00" in too_little.text
    funded = member.buy(amount="10")
    assert "Payment accepted" in funded.text and "$10.00" in funded.text
    assert "inactive until you add credit" not in funded.text
    assert client.chat.completions.create(**CHAT).choices
    usage = member.get("/usage").text
    assert "gpt-6-luna" in usage and f"sk-proj-...{key[-4:]}" in usage and "<svg" in usage


def test_auto_recharge_tops_up_the_balance(member: Visitor, site: SandboxServer) -> None:
    member.buy(amount="5", auto=True)  # threshold $5.00, target $10.00 by default
    billing = member.get("/billing").text
    assert "On: below $5.00, back to $10.00" in billing
    _, key = member.create_key()
    make_client(site, key).chat.completions.create(**CHAT)  # the balance drops under $5
    billing = member.get("/billing").text
    assert "Auto-recharge" in billing and re.search(r'class="value balance">\$10\.00<', billing)
    bad = member.post("/billing/auto-recharge", {"enabled": "on", "threshold": "8", "target": "10"})
    assert bad.status_code == 400 and "at least $5.00 above" in bad.text


def test_auto_recharge_works_after_a_restart_without_the_dashboard(tmp_path: Path) -> None:
    """Auto-recharge is the platform's job, not the dashboard's: it must run after a restart even
    if nobody has opened a dashboard page since."""
    with serve_in_background(tmp_path) as first:
        member = Visitor(first)
        member.finish()
        member.buy(amount="5", auto=True)
        _, key = member.create_key()
    with serve_in_background(tmp_path) as second:
        make_client(second, key).chat.completions.create(**CHAT)  # the balance drops under $5
        org_id = second.app.state.sandbox.store.query_one("SELECT org_id FROM api_keys WHERE kind = 'project'"
                                                          " AND name != 'Admin key'")[0]
        balance = from_pico(second.app.state.sandbox.billing.balance_pico(org_id))
    assert Decimal("9.99") < balance <= Decimal("10.00")  # topped back up to the $10 target (in whole cents)


# -- limits ------------------------------------------------------------------------------------------------


def test_budgets_block_and_alerts_mail(member: Visitor, site: SandboxServer) -> None:
    member.buy(amount="20")
    _, key = member.create_key()
    client = make_client(site, key)
    member.get("/limits")
    project = _default_project(member)
    saved = member.post("/limits/budget", {"scope": f"project:{project}", "budget_amount": "0.01"})
    assert "Monthly budget saved" in saved.text and "$0.01" in saved.text
    refused = member.post("/limits/alerts", {"scope": "organization", "alert_amount": "0.00",
                                             "recipients": f"{member.email}, ops@example.com"})
    assert refused.status_code == 400 and "ops@example.com is not a verified member" in refused.text
    member.post("/limits/alerts", {"scope": "organization", "alert_amount": "0.00", "recipients": member.email})
    big = {"model": "gpt-6-astra", "messages": [{"role": "user", "content": "word " * 3000}]}
    assert client.chat.completions.create(**big).choices  # spends ~$0.03: over the budget
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(**CHAT)
    assert error.value.code == "project_spend_limit_exceeded"
    assert "Reached" in member.get("/limits").text
    outbox = member.outbox()
    assert "spend has reached $0.00" in outbox
    member.post("/limits/budget/delete", {"scope": f"project:{project}"})
    member.post("/limits/budget", {"scope": "organization", "budget_amount": "0.02"})
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(**CHAT)
    assert error.value.code == "organization_spend_limit_exceeded"
    refused = member.post("/limits/budget", {"scope": "project:proj_of_someone_else", "budget_amount": "5"})
    assert refused.status_code == 400


def test_alerts_are_removed_only_by_their_organization(member: Visitor, site: SandboxServer) -> None:
    member.get("/limits")
    project = _default_project(member)
    member.post("/limits/alerts", {"scope": f"project:{project}", "alert_amount": "3",
                                   "recipients": member.email})
    page = member.get("/limits").text
    assert "$3.00" in page and member.email in page
    [alert_id] = re.findall(r"/limits/alerts/(alert_[^/]+)/delete", page)
    stranger = Visitor(site)
    stranger.finish()
    stranger.get("/limits")
    assert stranger.post(f"/limits/alerts/{alert_id}/delete").status_code == 404
    assert "Notification threshold removed" in member.post(f"/limits/alerts/{alert_id}/delete").text
    assert "$3.00" not in member.get("/limits").text
    assert member.post(f"/limits/alerts/{alert_id}/delete").status_code == 404


def test_projects_create_and_archive(member: Visitor, site: SandboxServer) -> None:
    assert "Project created" in member.post("/projects", {"name": "Production_App"}).text
    page = member.get("/projects").text
    project_id = re.findall(r"/projects/(proj_[^/]+)/archive", page)[0]
    nonce = member.new_key_form()
    created = member.post("/api-keys", {"form_nonce": nonce, "name": "prod", "permission": "all",
                                        "project_id": project_id})
    key = KEY_RE.search(created.text)[0]
    member.buy()
    assert make_client(site, key).chat.completions.create(**CHAT).choices
    assert "Archive project" in member.get(f"/projects/{project_id}/archive").text
    assert "Project archived" in member.post(f"/projects/{project_id}/archive").text
    with pytest.raises(openai.AuthenticationError):
        make_client(site, key).chat.completions.create(**CHAT)
    default = _default_project(member)
    assert member.post(f"/projects/{default}/archive").status_code == 400


# -- the CLI --------------------------------------------------------------------------------------------


def test_cli_open_prints_the_url(site: SandboxServer, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from keylab.cli import main, sandbox_platform

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    assert main(["sandbox", "open", "--port", str(site.port)]) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{site.port}/" in out and "No browser is available" in out
    assert opened == [] and not sandbox_platform.browser_available()
    assert main(["sandbox", "open", "--port", "1", "--no-browser"]) == 1


def test_log_in_goes_back_only_to_this_site(member: Visitor) -> None:
    member.post("/logout")
    member.get("/login")
    for target, expected in (("//evil.example/x", "/dashboard"), ("/\\evil.example", "/dashboard"),
                             ("https://evil.example", "/dashboard"), ("/usage", "/usage")):
        answer = member.post("/login", {"email": member.email, "password": PASSWORD, "next": target}, follow=False)
        assert answer.status_code == 303 and answer.headers["location"] == expected
        member.post("/logout")
        member.get("/login")
