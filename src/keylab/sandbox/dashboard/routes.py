"""The dashboard's pages and forms (mounted at "/" after `/v1` and `/sandbox`, so it shadows neither).

    GET  /                    → /dashboard, or /login
    GET|POST /signup, /login; POST /logout; POST /auth/simulated/{provider}
    GET  /verify-email[?token=…]; POST /verify-email/resend
    GET  /verify-phone; POST /verify-phone/send; POST /verify-phone
    GET|POST /onboarding      organization + Default project
    GET  /dashboard
    GET  /api-keys; GET /api-keys/new; POST /api-keys (shows the new key, once);
    GET|POST /api-keys/{id}/revoke
    GET|POST /projects; GET|POST /projects/{id}/archive
    GET  /billing; POST /billing/credit; POST /billing/auto-recharge
    GET  /limits; POST /limits/budget; POST /limits/budget/delete; POST /limits/alerts;
    POST /limits/alerts/{id}/delete
    GET  /usage; GET /outbox; GET /favicon.ico; /static/… (CSS, the Copy button script, the icon)

Every POST needs the session's CSRF token; pages are server-rendered Jinja2 with autoescaping.
The full key of a new secret key exists only in the response to POST /api-keys: it is not put in
the session, the database, a redirect or a log, and that response is sent with Cache-Control: no-store.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from keylab import platform_facts
from keylab.pricing import format_usd, from_pico
from keylab.sandbox.accounts import create_key
from keylab.sandbox.auth import flow, sessions
from keylab.sandbox.auth.flow import FlowError
from keylab.sandbox.dashboard import payments, permissions, usage
from keylab.sandbox.platform import alerts as platform_alerts
from keylab.sandbox.platform import limits as platform_limits
from keylab.sandbox.platform import outbox as platform_outbox
from keylab.sandbox.platform import projects as platform_projects
from keylab.sandbox.state import SandboxState

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
KEY_FORM = "create_key"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # the email link carries a token: never send it to another site
    "Cache-Control": "no-store",
}

# Notices after a redirect: a fixed vocabulary, so no text from the URL is ever shown.
NOTICES = {
    "signed_up": "Account created. We sent a confirmation link to your email: open it from the Outbox.",
    "email_sent": "We sent a new confirmation link. Open it from the Outbox.",
    "email_verified": "Email verified. Now verify your phone number.",
    "phone_verified": "Phone verified. One last step: name your organization.",
    "welcome": "Your organization and its Default project are ready.",
    "logged_out": "You are logged out.",
    "key_revoked": "The key was revoked. Requests made with it now fail with 401 invalid_api_key.",
    "key_form_used": "That form was already used, so no new key was made. A key's full value is shown only "
                     "once: if you did not save it, revoke that key and create a new one.",
    "project_created": "Project created.",
    "project_archived": "Project archived. Its keys stop working.",
    "credit_added": "Payment accepted: the credit is on your balance and your API keys are active.",
    "auto_recharge_saved": "Auto-recharge settings saved.",
    "budget_saved": "Monthly budget saved. Calls fail with 429 once this month's spend reaches it.",
    "budget_removed": "Monthly budget removed.",
    "alert_saved": "Notification threshold saved. An email goes to the Outbox when spend crosses it.",
    "alert_removed": "Notification threshold removed.",
    "verified_log_in": "Email verified. Log in to continue.",
}

SIMULATED_PROVIDERS = {"google": "Google", "microsoft": "Microsoft", "apple": "Apple"}


def _ts(value: int | None) -> str:
    if value is None:
        return "Never"
    return dt.datetime.fromtimestamp(int(value), dt.timezone.utc).strftime("%b %d, %Y %H:%M UTC")


def _linkify(text: str, base_url: str) -> Markup:
    """Escape a message body and make links to this sandbox clickable (other URLs stay text)."""
    escaped = str(escape(text))
    prefix = re.escape(str(escape(base_url.rstrip("/"))))

    def link(match: re.Match[str]) -> str:
        return f'<a href="{match[0]}">{match[0]}</a>'

    return Markup(re.sub(prefix + r"/[^\s<]*", link, escaped))


_env.filters["ts"] = _ts


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


@dataclass
class Ctx:
    """One dashboard request: the sandbox, the session, the user and their organization."""

    request: Request
    state: SandboxState
    session: sessions.Session
    form: dict[str, str] = field(default_factory=dict)
    user: sqlite3.Row | None = None
    org: sqlite3.Row | None = None
    clear_cookie: bool = False

    @property
    def store(self) -> Any:
        return self.state.store

    @property
    def clock(self) -> Any:
        return self.state.clock

    @property
    def base_url(self) -> str:
        """This sandbox's configured URL (links in emails; never the request's Host header)."""
        return self.state.public_url or str(self.request.base_url).rstrip("/")

    @property
    def new_session(self) -> bool:
        """The session was started by this request (its cookie must be set)."""
        return self.session.is_new

    def switch_session(self, user_id: str | None) -> None:
        self.session = sessions.start(self.store, self.clock, user_id, replace=self.session)
        self.user = flow.get_user(self.store, user_id)

    def projects(self, include_archived: bool = False) -> list[sqlite3.Row]:
        if self.org is None:
            return []
        sql = "SELECT * FROM projects WHERE org_id = ?"
        if not include_archived:
            sql += " AND archived_at IS NULL"
        return self.store.query(sql + " ORDER BY is_default DESC, created_at, id", (self.org["id"],))

    def project(self, project_id: str, *, active: bool = True) -> sqlite3.Row | None:
        if self.org is None:
            return None
        row = self.store.query_one("SELECT * FROM projects WHERE id = ? AND org_id = ?",
                                   (project_id, self.org["id"]))
        if row is None or (active and row["archived_at"] is not None):
            return None
        return row

    @functools.cached_property
    def balance(self) -> Decimal:
        """The organization's balance, read once per request (no page changes it before it renders)."""
        return payments.balance_usd(self.store, self.org["id"]) if self.org is not None else Decimal(0)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        notice = NOTICES.get(self.request.query_params.get("notice", ""))
        balance = self.balance if self.org is not None else None
        budget_reached = None
        if self.org is not None:
            limit = platform_limits.get_spend_limit(self.store, "organization", self.org["id"])
            if limit and self.state.billing.month_spend_pico("organization", self.org["id"]) >= (
                    limit["threshold_amount"] * platform_limits.PICO_PER_CENT):
                budget_reached = _cents_text(limit["threshold_amount"])
        html = _env.get_template(template).render(
            request=self.request, user=self.user, org=self.org, csrf=self.session.csrf_token,
            notice=notice, ui={name: fact.value for name, fact in platform_facts.UI.items()},
            balance=balance, balance_text=usage.money(balance) if balance is not None else "",
            unfunded=balance is not None and balance <= 0, budget_reached=budget_reached, base_url=self.base_url,
            linkify=lambda text: _linkify(text, self.base_url), **values,
        )
        return HTMLResponse(html, status_code=status)


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%?=&-]*")


def _safe_next(value: str | None) -> str:
    """Where to go after log-in: a path on this site only (never //host, /\\host or a control character)."""
    if value and _LOCAL_PATH.fullmatch(value):
        return value
    return "/dashboard"


def _same_origin(request: Request) -> bool:
    """False only for a POST that names another site as its origin (the CSRF token is checked anyway)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":  # older browsers send none; privacy settings send "null"
        return True
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


def page(handler: Callable[[Ctx], Awaitable[Response]], *, access: str = "account") -> Callable[
    [Request], Awaitable[Response]
]:
    """Wrap a page: session, CSRF on POST, who may see it (anyone / a user / a finished account)."""

    async def route(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        session = sessions.load(state.store, state.clock, request.cookies.get(sessions.COOKIE_NAME))
        ctx = Ctx(request, state, session or sessions.start(state.store, state.clock))
        try:
            if request.method == "POST":
                try:
                    form = await request.form()
                except ClientDisconnect:  # or a body over the cap (app._bounded)
                    return PlainTextResponse("Request body too large.", status_code=413)
                ctx.form = {k: v for k, v in form.items() if isinstance(v, str)}
                await form.close()
                if session is None or not _same_origin(request) or not ctx.session.csrf_ok(
                        ctx.form.get(sessions.CSRF_FIELD)):
                    response: Response = _forbidden(ctx)
                    return _finish(ctx, response)
            ctx.user = flow.get_user(state.store, ctx.session.user_id)
            if ctx.user is not None:
                ctx.org = flow.organization_of(state.store, ctx.user["id"])
            if access != "anyone" and ctx.user is None:
                raise Redirect("/login?next=" + quote(request.url.path))
            if access == "account":
                step = flow.next_step(state.store, ctx.user)
                if step is not None:
                    raise Redirect(step)
            response = await handler(ctx)
        except Redirect as redirect:
            response = RedirectResponse(redirect.location, status_code=303)
        return _finish(ctx, response)

    return route


def _forbidden(ctx: Ctx) -> Response:
    return ctx.render("error.html", status=403, title="This form has expired",
                      message="The form was missing its security token, or it came from another site. "
                              "Go back, reload the page and try again.")


def _finish(ctx: Ctx, response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Pragma"] = "no-cache"
    if ctx.new_session:
        response.set_cookie(
            sessions.COOKIE_NAME, ctx.session.token, max_age=ctx.session.expires_at - ctx.clock.now_s(),
            path="/", httponly=True, samesite="lax", secure=ctx.request.url.scheme == "https",
        )
    elif ctx.clear_cookie:
        response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


def _go(path: str, notice: str | None = None) -> Redirect:
    return Redirect(path + (f"?notice={notice}" if notice else ""))


# -- sign up, log in, verification, onboarding --------------------------------------------------------


async def home(ctx: Ctx) -> Response:
    raise Redirect("/dashboard" if ctx.user is not None else "/login")


async def signup(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        if ctx.user is not None:
            raise Redirect("/dashboard")
        return ctx.render("signup.html", providers=SIMULATED_PROVIDERS, values={})
    values = {"email": ctx.form.get("email", ""), "name": ctx.form.get("name", "")}
    try:
        user_id = await run_in_threadpool(  # scrypt takes ~0.1 s: keep the event loop free
            flow.sign_up, ctx.store, ctx.clock, email=values["email"], password=ctx.form.get("password", ""),
            name=values["name"])
        ctx.switch_session(user_id)
        flow.send_email_verification(ctx.store, ctx.clock, user_id, ctx.base_url)
    except FlowError as error:
        return ctx.render("signup.html", status=error.status, error=error.message,
                          providers=SIMULATED_PROVIDERS, values=values)
    raise _go("/verify-email", "signed_up")


async def simulated_provider(ctx: Ctx) -> Response:
    provider = SIMULATED_PROVIDERS.get(ctx.request.path_params["provider"])
    if provider is None:
        raise Redirect("/signup")
    return ctx.render(
        "signup.html", providers=SIMULATED_PROVIDERS, values={},
        simulated=f"“Continue with {provider}” is simulated in the sandbox: no {provider} account is used and "
                  f"nothing leaves your computer. On platform.openai.com it sends you to {provider} to sign in "
                  "instead of choosing a password. Here, sign up with an email and a password below.",
    )


async def login(ctx: Ctx) -> Response:
    next_path = _safe_next(ctx.request.query_params.get("next") or ctx.form.get("next"))
    if ctx.request.method == "GET":
        if ctx.user is not None:
            raise Redirect(next_path)
        return ctx.render("login.html", next=next_path, values={}, providers=SIMULATED_PROVIDERS)
    email = ctx.form.get("email", "")
    client = ctx.request.client.host if ctx.request.client else "unknown"
    try:
        user_id = await run_in_threadpool(flow.log_in, ctx.store, ctx.clock, email=email,
                                          password=ctx.form.get("password", ""), client=client)
    except FlowError as error:
        return ctx.render("login.html", status=error.status, error=error.message, next=next_path,
                          values={"email": email}, providers=SIMULATED_PROVIDERS)
    ctx.switch_session(user_id)
    raise Redirect(next_path)


async def logout(ctx: Ctx) -> Response:
    sessions.end(ctx.store, ctx.session)
    ctx.clear_cookie = True
    raise _go("/login", "logged_out")


async def verify_email(ctx: Ctx) -> Response:
    token = ctx.request.query_params.get("token")
    if token:
        try:
            user_id = flow.verify_email(ctx.store, ctx.clock, token)
        except FlowError as error:
            return ctx.render("verify_email.html", status=400, error=error.message)
        if ctx.user is None or ctx.user["id"] != user_id:
            raise _go("/login", "verified_log_in")
        raise _go("/verify-phone", "email_verified")
    if ctx.user is None:
        raise Redirect("/login?next=/verify-email")
    if ctx.user["email_verified_at"] is not None:
        raise Redirect(flow.next_step(ctx.store, ctx.user) or "/dashboard")
    return ctx.render("verify_email.html")


async def resend_email(ctx: Ctx) -> Response:
    assert ctx.user is not None
    try:
        flow.send_email_verification(ctx.store, ctx.clock, ctx.user["id"], ctx.base_url)
    except FlowError as error:
        return ctx.render("verify_email.html", status=error.status, error=error.message)
    raise _go("/verify-email", "email_sent")


def _phone_gate(ctx: Ctx) -> None:
    assert ctx.user is not None
    if ctx.user["email_verified_at"] is None:
        raise Redirect("/verify-email")
    if ctx.user["phone_verified_at"] is not None:
        raise Redirect(flow.next_step(ctx.store, ctx.user) or "/dashboard")


def _pending_phone(ctx: Ctx) -> str | None:
    assert ctx.user is not None
    row = ctx.store.query_one("SELECT phone FROM sms_codes WHERE user_id = ? AND used_at IS NULL"
                              " ORDER BY id DESC LIMIT 1", (ctx.user["id"],))
    return row["phone"] if row else None


async def verify_phone(ctx: Ctx) -> Response:
    _phone_gate(ctx)
    if ctx.request.method == "GET":
        return ctx.render("verify_phone.html", phone=_pending_phone(ctx))
    try:
        flow.verify_sms_code(ctx.store, ctx.clock, ctx.user["id"], ctx.form.get("code", ""))
    except FlowError as error:
        return ctx.render("verify_phone.html", status=error.status, error=error.message, phone=_pending_phone(ctx))
    raise _go("/onboarding", "phone_verified")


async def send_phone_code(ctx: Ctx) -> Response:
    _phone_gate(ctx)
    try:
        phone = flow.send_sms_code(ctx.store, ctx.clock, ctx.user["id"], ctx.form.get("phone", ""))
    except FlowError as error:
        return ctx.render("verify_phone.html", status=error.status, error=error.message, phone=None,
                          typed=ctx.form.get("phone", ""))
    return ctx.render("verify_phone.html", phone=phone, sent=True)


async def onboarding(ctx: Ctx) -> Response:
    assert ctx.user is not None
    step = flow.next_step(ctx.store, ctx.user)
    if step != "/onboarding":
        raise Redirect(step or "/dashboard")
    if ctx.request.method == "GET":
        return ctx.render("onboarding.html", values={"name": "Personal"})
    try:
        flow.create_first_organization(ctx.store, ctx.clock, ctx.user["id"], ctx.form.get("name", ""))
    except FlowError as error:
        return ctx.render("onboarding.html", status=error.status, error=error.message,
                          values={"name": ctx.form.get("name", "")})
    raise _go("/dashboard", "welcome")


# -- the dashboard --------------------------------------------------------------------------------------


def _keys(ctx: Ctx) -> list[dict[str, Any]]:
    assert ctx.org is not None
    rows = ctx.store.query(
        "SELECT k.*, p.name AS project_name, p.archived_at AS project_archived FROM api_keys k"
        " LEFT JOIN projects p ON p.id = k.project_id WHERE k.org_id = ? AND k.kind != 'admin'"
        " AND k.revoked_at IS NULL ORDER BY k.created_at, k.id", (ctx.org["id"],))
    funded = ctx.balance > 0
    keys = []
    for row in rows:
        scopes = json.loads(row["scopes"])
        status = "Active"
        if row["project_archived"] is not None:
            status = "Inactive (project archived)"
        elif not funded:
            status = "Inactive (no credit)"
        keys.append({
            "id": row["id"], "name": row["name"], "redacted": row["redacted"], "project_id": row["project_id"],
            "project": row["project_name"] or "—",
            "permission": permissions.PERMISSION_LABELS.get(row["permission"], row["permission"]),
            "scopes": scopes if row["permission"] == "restricted" else [],
            "created_at": row["created_at"], "last_used_at": row["last_used_at"], "status": status,
        })
    return keys


async def dashboard(ctx: Ctx) -> Response:
    assert ctx.org is not None
    keys = _keys(ctx)
    report = usage.report(ctx.store, ctx.clock, ctx.org["id"])
    limit = platform_limits.get_spend_limit(ctx.store, "organization", ctx.org["id"])
    steps = [
        ("Verify your email and phone", True, "/outbox"),
        ("Create a secret key", bool(keys), "/api-keys"),
        ("Add credit to your balance", ctx.balance > 0, "/billing"),
        ("Set a monthly budget", limit is not None, "/limits"),
        ("Make your first API call", report.requests > 0, "/usage"),
    ]
    return ctx.render("dashboard.html", active="dashboard", keys=keys, report=report, steps=steps,
                      projects=ctx.projects())


async def api_keys(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        return await _create_key(ctx)
    return ctx.render("api_keys.html", active="api-keys", keys=_keys(ctx))


def _key_form(ctx: Ctx, status: int = 200, error: str | None = None, values: dict[str, str] | None = None
              ) -> HTMLResponse:
    nonce = sessions.issue_form_nonce(ctx.store, ctx.clock, ctx.session, KEY_FORM)
    return ctx.render("key_new.html", status=status, active="api-keys", error=error, nonce=nonce,
                      projects=ctx.projects(), resources=permissions.RESOURCES, values=values or {})


async def new_key(ctx: Ctx) -> Response:
    return _key_form(ctx)


async def _create_key(ctx: Ctx) -> Response:
    assert ctx.org is not None and ctx.user is not None
    if not sessions.use_form_nonce(ctx.store, ctx.clock, ctx.session, KEY_FORM, ctx.form.get("form_nonce")):
        raise _go("/api-keys", "key_form_used")
    values = dict(ctx.form)
    values.pop(sessions.CSRF_FIELD, None)
    name = ctx.form.get("name", "").strip()[:100] or "Secret key"
    permission = ctx.form.get("permission", "all")
    project = ctx.project(ctx.form.get("project_id", ""))
    scopes: list[str] | None = None
    try:
        if project is None:
            raise ValueError("Choose one of your active projects.")
        if permission not in permissions.PERMISSION_LABELS:
            raise ValueError("Choose All, Restricted or Read only.")
        if permission == "restricted":
            scopes = permissions.scopes_for({r.field: ctx.form.get("perm_" + r.field, "None")
                                             for r in permissions.RESOURCES})
    except ValueError as error:
        return _key_form(ctx, status=400, error=str(error), values=values)
    key_id, full_key = create_key(
        ctx.store, ctx.clock, org_id=ctx.org["id"], project_id=project["id"], name=name, permission=permission,
        scopes=scopes, owner_id=ctx.user["id"],
    )
    response = ctx.render("key_created.html", active="api-keys", full_key=full_key, name=name,
                          project=project["name"], permission=permissions.describe(permission, scopes or []),
                          funded=ctx.balance > 0)
    del full_key
    return response


async def revoke_key(ctx: Ctx) -> Response:
    assert ctx.org is not None
    key_id = ctx.request.path_params["key_id"]
    key = next((k for k in _keys(ctx) if k["id"] == key_id), None)
    if key is None:
        return ctx.render("error.html", status=404, title="No such key",
                          message="This key does not exist or was already revoked.")
    if ctx.request.method == "GET":
        return ctx.render("confirm.html", active="api-keys", title="Revoke secret key",
                          message=f"Revoke the key “{key['name']}” ({key['redacted']})? Every request made with it "
                                  "will fail with 401 at once. This cannot be undone.",
                          action=f"/api-keys/{key_id}/revoke", button="Revoke key", cancel="/api-keys")
    platform_projects.delete_project_key(ctx.store, ctx.clock, ctx.org["id"], key["project_id"], key_id)
    raise _go("/api-keys", "key_revoked")


# -- projects -----------------------------------------------------------------------------------------------


async def projects(ctx: Ctx) -> Response:
    assert ctx.org is not None
    if ctx.request.method == "POST":
        name = ctx.form.get("name", "").strip()[:80]
        if not name:
            return _projects_page(ctx, status=400, error="Give the project a name.")
        platform_projects.create_project(ctx.store, ctx.clock, ctx.org["id"], name=name)
        raise _go("/projects", "project_created")
    return _projects_page(ctx)


def _projects_page(ctx: Ctx, status: int = 200, error: str | None = None) -> HTMLResponse:
    assert ctx.org is not None
    counts = {row[0]: row[1] for row in ctx.store.query(
        "SELECT project_id, COUNT(*) FROM api_keys WHERE org_id = ? AND revoked_at IS NULL GROUP BY project_id",
        (ctx.org["id"],))}
    return ctx.render("projects.html", status=status, active="projects", error=error,
                      projects=ctx.projects(include_archived=True), counts=counts)


async def archive_project(ctx: Ctx) -> Response:
    project = ctx.project(ctx.request.path_params["project_id"])
    if project is None:
        return ctx.render("error.html", status=404, title="No such project",
                          message="This project does not exist or is already archived.")
    if project["is_default"]:
        return ctx.render("error.html", status=400, title="The Default project stays",
                          message="The Default project cannot be archived. Archive the other projects you made.")
    if ctx.request.method == "GET":
        return ctx.render("confirm.html", active="projects", title="Archive project",
                          message=f"Archive “{project['name']}”? Its API keys stop working at once, and the "
                                  "project can no longer be used.",
                          action=f"/projects/{project['id']}/archive", button="Archive project", cancel="/projects")
    platform_projects.archive_project(ctx.store, ctx.clock, ctx.org["id"], project["id"])
    raise _go("/projects", "project_archived")


# -- billing ---------------------------------------------------------------------------------------------------


def _billing_page(ctx: Ctx, status: int = 200, error: str | None = None, recharge_error: str | None = None,
                  values: dict[str, str] | None = None) -> HTMLResponse:
    assert ctx.org is not None
    current = payments.settings(ctx.store, ctx.org["id"])
    return ctx.render(
        "billing.html", status=status, active="billing", error=error, recharge_error=recharge_error,
        settings=current, payments=payments.payments(ctx.store, ctx.org["id"]),
        min_purchase=format_usd(platform_facts.MIN_CREDIT_PURCHASE_USD),
        default_amount=str(platform_facts.DEFAULT_CREDIT_PURCHASE_USD),
        auto_default=platform_facts.AUTO_RECHARGE_DEFAULT_ON if not current.has_card else current.auto_recharge,
        expiry_days=platform_facts.CREDIT_EXPIRY_DAYS, values=values or {},
        cents=lambda cents: format(Decimal(cents) / 100, ".2f"),
    )


async def billing(ctx: Ctx) -> Response:
    return _billing_page(ctx)


async def add_credit(ctx: Ctx) -> Response:
    assert ctx.org is not None
    try:
        payments.purchase(ctx.store, ctx.clock, ctx.org["id"], card_number=ctx.form.get("card_number", ""),
                          expiry=ctx.form.get("expiry", ""), cvc=ctx.form.get("cvc", ""),
                          amount=ctx.form.get("amount", ""), auto_recharge=ctx.form.get("auto_recharge") == "on")
    except payments.PaymentError as error:
        # The card number is not sent back into the page.
        return _billing_page(ctx, status=402, error=str(error),
                             values={"amount": ctx.form.get("amount", ""), "expiry": ctx.form.get("expiry", "")})
    raise _go("/billing", "credit_added")


async def auto_recharge(ctx: Ctx) -> Response:
    assert ctx.org is not None
    try:
        payments.save_auto_recharge(ctx.store, ctx.clock, ctx.org["id"], enabled=ctx.form.get("enabled") == "on",
                                    threshold=ctx.form.get("threshold", ""), target=ctx.form.get("target", ""))
    except payments.PaymentError as error:
        return _billing_page(ctx, status=400, recharge_error=str(error))
    raise _go("/billing", "auto_recharge_saved")


# -- limits ------------------------------------------------------------------------------------------------------


def _scopes(ctx: Ctx) -> list[tuple[str, str, str]]:
    """(scope, scope_id, label) of the organization and of each of its active projects."""
    assert ctx.org is not None
    return [("organization", ctx.org["id"], f"Organization ({ctx.org['name']})")] + [
        ("project", p["id"], f"Project {p['name']}") for p in ctx.projects()]


def _form_value(scope: str, scope_id: str) -> str:
    """A scope as the forms' scope choice sends it: "organization" or "project:<id>"."""
    return "organization" if scope == "organization" else f"project:{scope_id}"


def _scope(ctx: Ctx, value: str) -> tuple[str, str, str]:
    """(scope, scope_id, label) from a form's "organization" / "project:<id>"."""
    for scope, scope_id, label in _scopes(ctx):
        if _form_value(scope, scope_id) == value:
            return scope, scope_id, label
    raise ValueError("Choose the organization or one of its active projects.")


def _alerts(ctx: Ctx) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(scope, scope_id, label, alert) for each alert of the organization and of its active projects."""
    return [(scope, scope_id, label, alert) for scope, scope_id, label in _scopes(ctx)
            for alert in platform_alerts.list_alerts(ctx.store, ctx.clock, scope, scope_id, limit=None)["data"]]


def _limits_page(ctx: Ctx, status: int = 200, error: str | None = None, alert_error: str | None = None,
                 values: dict[str, str] | None = None) -> HTMLResponse:
    rows = []
    for scope, scope_id, label in _scopes(ctx):
        limit = platform_limits.get_spend_limit(ctx.store, scope, scope_id)
        spent = from_pico(ctx.state.billing.month_spend_pico(scope, scope_id))
        rows.append({"label": label, "value": _form_value(scope, scope_id), "spent": usage.money(spent),
                     "limit": _cents_text(limit["threshold_amount"]) if limit else None,
                     "reached": limit is not None and spent * 100 >= limit["threshold_amount"]})
    all_alerts = [{"id": alert["id"], "label": label, "value": _form_value(scope, scope_id),
                   "threshold": _cents_text(alert["threshold_amount"]),
                   "recipients": ", ".join(alert["notification_channel"]["recipients"])}
                  for scope, scope_id, label, alert in _alerts(ctx)]
    return ctx.render("limits.html", status=status, active="limits", error=error, alert_error=alert_error,
                      rows=rows, alerts=all_alerts, values=values or {},
                      alerts_only_notify=platform_facts.SPEND_ALERTS_ONLY_NOTIFY.value)


async def limits_page(ctx: Ctx) -> Response:
    return _limits_page(ctx)


def _cents_text(cents: int) -> str:
    return format_usd(Decimal(int(cents)) / 100, places=2)


def _cents(text: str, label: str, minimum: int) -> int:
    try:
        amount = payments.parse_usd(text, label)
    except payments.PaymentError as error:
        raise ValueError(str(error)) from None
    cents = payments.to_cents(amount)
    if cents < minimum:
        raise ValueError(f"{label}: enter at least {_cents_text(minimum)}.")
    return cents


async def set_budget(ctx: Ctx) -> Response:
    try:
        scope, scope_id, _ = _scope(ctx, ctx.form.get("scope", ""))
        cents = _cents(ctx.form.get("budget_amount", ""), "Monthly budget", 1)
    except ValueError as error:
        return _limits_page(ctx, status=400, error=str(error), values=dict(ctx.form))
    platform_limits.set_spend_limit(ctx.store, ctx.clock, scope, scope_id, cents, site_url=ctx.base_url)
    raise _go("/limits", "budget_saved")


async def delete_budget(ctx: Ctx) -> Response:
    try:
        scope, scope_id, _ = _scope(ctx, ctx.form.get("scope", ""))
    except ValueError as error:
        return _limits_page(ctx, status=400, error=str(error))
    platform_limits.delete_spend_limit(ctx.store, scope, scope_id)
    raise _go("/limits", "budget_removed")


async def create_alert(ctx: Ctx) -> Response:
    try:
        scope, scope_id, _ = _scope(ctx, ctx.form.get("scope", ""))
        cents = _cents(ctx.form.get("alert_amount", ""), "Notification threshold", 0)
        recipients = [r.strip().lower() for r in re.split(r"[,\s;]+", ctx.form.get("recipients", "")) if r.strip()]
        if not recipients or not all(flow.EMAIL_RE.match(r) for r in recipients) or len(recipients) > 10:
            raise ValueError("Recipients: enter one to ten email addresses, separated by commas.")
        members = flow.verified_member_emails(ctx.store, ctx.org["id"])
        strangers = [r for r in recipients if r not in members]
        if strangers:
            raise ValueError(f"Recipients: {', '.join(strangers)} is not a verified member of this organization. "
                             f"Alerts go only to verified members: {', '.join(sorted(members))}.")
    except ValueError as error:
        return _limits_page(ctx, status=400, alert_error=str(error), values=dict(ctx.form))
    platform_alerts.create_alert(ctx.store, ctx.clock, scope, scope_id, threshold_cents=cents, recipients=recipients)
    raise _go("/limits", "alert_saved")


async def delete_alert(ctx: Ctx) -> Response:
    alert_id = ctx.request.path_params["alert_id"]
    for scope, scope_id, _, alert in _alerts(ctx):
        if alert["id"] == alert_id:
            platform_alerts.delete_alert(ctx.store, ctx.clock, scope, scope_id, alert_id)
            raise _go("/limits", "alert_removed")
    return ctx.render("error.html", status=404, title="No such alert", message="This alert does not exist.")


# -- usage and outbox -----------------------------------------------------------------------------------------


async def usage_page(ctx: Ctx) -> Response:
    assert ctx.org is not None
    project_id = ctx.request.query_params.get("project") or None
    if project_id and ctx.project(project_id, active=False) is None:
        project_id = None
    report = usage.report(ctx.store, ctx.clock, ctx.org["id"], project_id)
    return ctx.render("usage.html", active="usage", report=report, chart=Markup(usage.bar_chart(report.days)),
                      projects=ctx.projects(include_archived=True), project_id=project_id)


async def outbox_page(ctx: Ctx) -> Response:
    assert ctx.user is not None
    verified = ctx.user["email"] if ctx.user["email_verified_at"] is not None else None
    messages = platform_outbox.messages_of_user(ctx.store, ctx.user["id"], verified)
    return ctx.render("outbox.html", active="outbox", messages=messages)


async def favicon(request: Request) -> Response:
    """/favicon.ico, which browsers and tools ask for on their own (pages name favicon.svg)."""
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


ROUTES: list[BaseRoute] = [
    Route("/", page(home, access="anyone"), methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
    Route("/signup", page(signup, access="anyone"), methods=["GET", "POST"]),
    Route("/auth/simulated/{provider}", page(simulated_provider, access="anyone"), methods=["POST"]),
    Route("/login", page(login, access="anyone"), methods=["GET", "POST"]),
    Route("/logout", page(logout, access="user"), methods=["POST"]),
    Route("/verify-email", page(verify_email, access="anyone"), methods=["GET"]),
    Route("/verify-email/resend", page(resend_email, access="user"), methods=["POST"]),
    Route("/verify-phone", page(verify_phone, access="user"), methods=["GET", "POST"]),
    Route("/verify-phone/send", page(send_phone_code, access="user"), methods=["POST"]),
    Route("/onboarding", page(onboarding, access="user"), methods=["GET", "POST"]),
    Route("/dashboard", page(dashboard), methods=["GET"]),
    Route("/api-keys", page(api_keys), methods=["GET", "POST"]),
    Route("/api-keys/new", page(new_key), methods=["GET"]),
    Route("/api-keys/{key_id}/revoke", page(revoke_key), methods=["GET", "POST"]),
    Route("/projects", page(projects), methods=["GET", "POST"]),
    Route("/projects/{project_id}/archive", page(archive_project), methods=["GET", "POST"]),
    Route("/billing", page(billing), methods=["GET"]),
    Route("/billing/credit", page(add_credit), methods=["POST"]),
    Route("/billing/auto-recharge", page(auto_recharge), methods=["POST"]),
    Route("/limits", page(limits_page), methods=["GET"]),
    Route("/limits/budget", page(set_budget), methods=["POST"]),
    Route("/limits/budget/delete", page(delete_budget), methods=["POST"]),
    Route("/limits/alerts", page(create_alert), methods=["POST"]),
    Route("/limits/alerts/{alert_id}/delete", page(delete_alert), methods=["POST"]),
    Route("/usage", page(usage_page), methods=["GET"]),
    Route("/outbox", page(outbox_page, access="user"), methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
