"""The whole seed article in a real (headless) Chromium: sign up, verify, key, credit, limits, usage.

Walks the dashboard as a learner would and saves one screenshot per page (1280x800) in
tests/artifacts/screenshots/. The lessons show the copies in docs/screenshots/: refresh those with
`UPDATE_SCREENSHOTS=1` (every run differs in ports, times and keys, so a plain test run
leaves the committed ones alone). On failure, the last page's screenshot and HTML are kept in
tests/artifacts/ (git-ignored). Needs Debian's Chromium at /usr/bin/chromium (`apt-get install
chromium`); Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from conftest import make_client
from keylab.sandbox import SandboxServer, serve_in_background

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SHOTS = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else ARTIFACTS / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
PHONE = "+1 555 010 0199"
KEY_RE = re.compile(r"sk-proj-[A-Za-z0-9_-]{100,}")
SMALL = {"model": "gpt-6-luna", "messages": [{"role": "user", "content": "Say hello"}]}
BIG = {"model": "gpt-6-astra", "messages": [{"role": "user", "content": "word " * 3000}]}  # about $0.03


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path / "sandbox") as server:
        yield server


@pytest.fixture
def page(site: SandboxServer, request: pytest.FixtureRequest) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=site.url,
                                      locale="en-US", timezone_id="UTC")
        page = context.new_page()
        page.set_default_timeout(10_000)
        failed_before = request.session.testsfailed
        try:
            yield page
        finally:
            # A hook in a test module is never called, so failure is read from the session's count
            # (the call's report is logged before this teardown runs).
            if request.session.testsfailed > failed_before:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                try:
                    page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
                    (ARTIFACTS / "browser-failure.html").write_text(page.content())
                except Exception:  # noqa: BLE001 - keep the original failure visible
                    pass
            context.close()
            browser.close()


def nav(page: object, label: str) -> None:
    """Follow a sidebar link and wait until the new page has loaded (a click alone returns as soon as
    the navigation starts, and reading the page then can still see the old one)."""
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click(f"nav a:has-text('{label}')")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_the_seed_walkthrough(page: object, site: SandboxServer) -> None:  # noqa: PLR0915
    p = page  # a playwright Page
    # 1. Sign up with an email and a password (the social buttons are simulated).
    p.goto("/signup")
    assert p.get_by_role("button", name="Continue with Google (simulated)").is_visible()
    p.fill("input[name=email]", EMAIL)
    p.fill("input[name=name]", "Ada")
    p.fill("input[name=password]", PASSWORD)
    shot(p, "01-sign-up")
    p.click("form[action='/signup'] button[type=submit]")
    p.wait_for_url("**/verify-email*")

    # 2. The confirmation link arrives in the Outbox.
    p.click("a:has-text('Outbox')")
    assert p.get_by_text("Verify your email address").is_visible()
    shot(p, "02-outbox-verify-email")
    p.click("a[href*='/verify-email?token=']")
    p.wait_for_url("**/verify-phone*")

    # 3. The phone: a one-time 6-digit code by SMS (to the Outbox).
    p.fill("input[name=phone]", PHONE)
    p.click("form[action='/verify-phone/send'] button[type=submit]")
    p.goto("/outbox")
    code = re.search(r"verification code is (\d{6})", p.content())[1]
    p.goto("/verify-phone")
    p.fill("input[name=code]", code)
    shot(p, "03-verify-phone")
    p.click("form[action='/verify-phone'] button[type=submit]")

    # 4. Onboarding: the organization and its Default project.
    p.wait_for_url("**/onboarding*")
    p.fill("input[name=name]", "Personal")
    p.click("button:has-text('Create organization')")
    p.wait_for_url("**/dashboard*")
    assert p.get_by_text("Your API keys are inactive until you add credit.").is_visible()
    shot(p, "04-dashboard")

    # 5. API keys: empty, then the Create new secret key form.
    nav(p, "API keys")
    assert p.get_by_text("You have no API keys yet.").is_visible()
    shot(p, "05-api-keys-empty")
    p.click("a:has-text('Create new secret key') >> nth=0")
    p.fill("input[name=name]", "Development_Testing")
    assert p.locator("select[name=perm_model_capabilities] option").all_inner_texts() == ["None", "Request"]
    shot(p, "06-create-key-form")
    p.click("button:has-text('Create secret key')")

    # 6. The key, shown once, with a Copy button; a reload shows only its masked form.
    key = p.input_value("#new-key")
    assert KEY_RE.fullmatch(key)
    assert p.get_by_text("It will not be shown again.").is_visible()
    p.click("button[data-copy]")
    p.get_by_role("button", name="Copied").wait_for(state="visible", timeout=1500)  # shown for 2 s; the clipboard call may take a moment under load
    shot(p, "07-key-created-once")
    p.reload()
    html = p.content()
    assert key not in html and KEY_RE.search(html) is None
    p.goto("/api-keys")
    html = p.content()
    masked = f"sk-proj-...{key[-4:]}"
    assert key not in html and masked in html and "Development_Testing" in html
    shot(p, "08-api-keys-masked")

    # 7. The new key answers insufficient_quota until the organization has credit.
    client = make_client(site, key)
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(**SMALL)
    assert error.value.code == "insufficient_quota"
    nav(p, "Billing")
    assert p.get_by_text("Your API keys are inactive until you add credit.").is_visible()
    shot(p, "09-billing-unfunded")
    p.fill("input[name=amount]", "10")
    p.fill("input[name=card_number]", "4242 4242 4242 4242")
    p.fill("input[name=expiry]", "12/39")
    p.fill("input[name=cvc]", "123")
    p.click("form[action='/billing/credit'] button")
    p.wait_for_url("**/billing?notice=credit_added")
    assert p.locator(".value.balance").inner_text() == "$10.00"
    assert p.get_by_text("Your API keys are inactive").count() == 0
    shot(p, "10-billing-funded")

    # 8. Limits: a monthly budget (hard limit) and a notification threshold (alert).
    nav(p, "Limits")
    p.fill("input[name=budget_amount]", "0.02")
    p.click("button:has-text('Save budget')")
    p.wait_for_url("**/limits?notice=budget_saved")
    p.fill("input[name=alert_amount]", "0.01")
    p.click("button:has-text('Add alert')")
    p.wait_for_url("**/limits?notice=alert_saved")
    assert p.locator("table").first.inner_text().count("$0.02") == 1
    shot(p, "11-limits")

    # 9. Call the API with the key; the call shows up in Usage.
    answer = client.chat.completions.create(**SMALL)
    assert answer.choices[0].message.content.startswith("[sandbox]")
    nav(p, "Usage")
    assert "gpt-6-luna" in p.content() and masked in p.content()

    # 10. Spend past the budget: the next call fails with 429, and the alert email is in the Outbox.
    client.chat.completions.create(**BIG)
    with pytest.raises(openai.RateLimitError) as error:
        client.chat.completions.create(**SMALL)
    assert error.value.status_code == 429
    assert error.value.code in ("organization_spend_limit_exceeded", "project_spend_limit_exceeded")
    p.reload()
    assert "gpt-6-astra" in p.content()
    shot(p, "12-usage")
    nav(p, "Outbox")
    assert p.get_by_text("Your organization spend has reached $0.01 this month").is_visible()
    assert p.get_by_text("Your organization reached its monthly budget of $0.02.").is_visible()
    shot(p, "13-budget-exceeded-outbox")
    for name in sorted(SHOTS.glob("*.png")):
        assert key not in name.name
