"""`/v1/organization/…`: the admin endpoints the SDK's `client.admin.organization` calls.

Each handler parses the request the way the real API does (bracket query arrays such as
`group_by[]=model`, JSON bodies checked for unknown, missing and mistyped parameters), calls the
domain services in `keylab.sandbox.platform` for the caller's organization, and answers the
object they return. Every route is `endpoint(..., admin=True)`: a project or service-account key
gets the real 401 "Missing scopes: api.management.read" (or `api.usage.read` on usage and costs).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from keylab.sandbox.api.common import Call, check_params, describe_type, endpoint, json_body
from keylab.sandbox.auth.flow import EMAIL_RE
from keylab.sandbox.errors import ApiError
from keylab.sandbox.platform import alerts, limits, projects, usage
from keylab.sandbox.platform._common import MAX_CENTS, MAX_RATE_LIMIT, MAX_UNIX_TIME, check_choice, check_int

PREFIX = "/v1/organization"


# ---------------------------------------------------------------- request parsing

def _org(call: Call) -> str:
    assert call.key is not None
    return call.key.org_id


def _param(call: Call, name: str) -> str:
    return call.request.path_params[name]


def _q(call: Call, name: str) -> str | None:
    return call.request.query_params.get(name)


def _qlist(call: Call, name: str) -> list[str]:
    """A query array, sent as `name[]=a&name[]=b` (the SDK's form) or `name=a&name=b`."""
    params = call.request.query_params
    return params.getlist(f"{name}[]") + params.getlist(name)


def _qint(call: Call, name: str) -> int | None:
    value = _q(call, name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError("invalid_type", param=name, expected="an integer", got="a string") from None


def _qbool(call: Call, name: str) -> bool | None:
    value = _q(call, name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ApiError("invalid_type", param=name, expected="a boolean", got="a string")


def _page_args(call: Call, *, limit_default: int = 20, minimum: int = 1, maximum: int = 100,
               before: bool = False, order: bool = False) -> dict[str, Any]:
    limit = _qint(call, "limit")
    args: dict[str, Any] = {
        "after": _q(call, "after") or None,
        "limit": check_int(limit, "limit", minimum=minimum, maximum=maximum) if limit is not None else limit_default,
    }
    if before:
        args["before"] = _q(call, "before") or None
    if order:
        args["order"] = check_choice(_q(call, "order") or "asc", "order", ("asc", "desc"))
    return args


# The longest name, id or address an admin request may store (the dashboard's forms cut names at
# 80-100 characters); the real API's limits are not documented, this only keeps rows small.
MAX_TEXT = 256
MAX_LIST = 100


def _check_length(value: str, param: str) -> None:
    if len(value) > MAX_TEXT:
        raise ApiError("admin_invalid_request", param=param,
                       message=f"Invalid '{param}': string too long. Expected a string with maximum length "
                               f"{MAX_TEXT}, but got a string with length {len(value)} instead.")


async def _body(call: Call, schema: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    body = await json_body(call)
    check_params(body, schema, required)
    for name, value in body.items():
        if isinstance(value, str):
            _check_length(value, name)
    return body


def _strings(value: Any, param: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError("invalid_type", param=param, expected="an array of strings", got=describe_type(value))
    if len(value) > MAX_LIST:
        raise ApiError("admin_invalid_request", param=param,
                       message=f"Invalid '{param}': array too long. Expected an array with maximum length "
                               f"{MAX_LIST}, but got an array with length {len(value)} instead.")
    for item in value:
        _check_length(item, param)
    return value


def _scopes_arg(body: dict[str, Any]) -> list[str] | None:
    """The body's `scopes` (an array of strings), or None when it is absent or null."""
    return _strings(body["scopes"], "scopes") if body.get("scopes") is not None else None


# The official spec's maximum for an admin key's expires_in_seconds (365 days); it states none for
# project and service-account keys, whose bound only keeps the expiry a storable time.
ADMIN_KEY_MAX_EXPIRES = 31_536_000


def _expires_arg(body: dict[str, Any], maximum: int = MAX_UNIX_TIME) -> int | None:
    """The body's `expires_in_seconds` (an integer >= 1), or None when it is absent or null."""
    expires = body.get("expires_in_seconds")
    return check_int(expires, "expires_in_seconds", minimum=1, maximum=maximum) if expires is not None else None


def _scope(call: Call) -> tuple[str, str]:
    """("organization", org_id) or ("project", project_id) for routes under /projects/{project_id}."""
    org_id = _org(call)
    project_id = call.request.path_params.get("project_id")
    if project_id is None:
        return "organization", org_id
    projects.get_project(call.state.store, org_id, project_id)
    return "project", project_id


# ---------------------------------------------------------------- spend limits

SPEND_LIMIT_PARAMS = {"threshold_amount": "integer", "currency": "string", "interval": "string"}


async def get_spend_limit(call: Call) -> Response:
    scope, ident = _scope(call)
    found = limits.get_spend_limit(call.state.store, scope, ident)
    return call.json(found if found is not None else limits.no_spend_limit(scope))


async def set_spend_limit(call: Call) -> Response:
    scope, ident = _scope(call)
    body = await _body(call, SPEND_LIMIT_PARAMS, ("currency", "interval", "threshold_amount"))
    check_choice(body["currency"], "currency", ("USD",))
    check_choice(body["interval"], "interval", ("month",))
    threshold = check_int(body["threshold_amount"], "threshold_amount", minimum=1, maximum=MAX_CENTS)
    return call.json(limits.set_spend_limit(call.state.store, call.state.clock, scope, ident, threshold,
                                            currency=body["currency"], interval=body["interval"],
                                            site_url=call.state.site_url))


async def delete_spend_limit(call: Call) -> Response:
    scope, ident = _scope(call)
    deleted = limits.delete_spend_limit(call.state.store, scope, ident)
    kind = "organization" if scope == "organization" else "project"
    return call.json({"object": f"{kind}.spend_limit.deleted", "deleted": deleted})


# ---------------------------------------------------------------- spend alerts

ALERT_PARAMS = {"threshold_amount": "integer", "currency": "string", "interval": "string",
                "notification_channel": "object"}
ALERT_REQUIRED = ("currency", "interval", "notification_channel", "threshold_amount")


async def _alert_args(call: Call) -> dict[str, Any]:
    body = await _body(call, ALERT_PARAMS, ALERT_REQUIRED)
    check_choice(body["currency"], "currency", ("USD",))
    check_choice(body["interval"], "interval", ("month",))
    threshold = check_int(body["threshold_amount"], "threshold_amount", minimum=0, maximum=MAX_CENTS)
    channel = body["notification_channel"]
    check_params(channel, {"type": "string", "recipients": "array", "subject_prefix": "string"},
                 ("type", "recipients"))
    check_choice(channel["type"], "notification_channel.type", ("email",))
    recipients = _strings(channel["recipients"], "notification_channel.recipients")
    if not recipients:
        raise ApiError("empty_array", param="notification_channel.recipients")
    if not all(EMAIL_RE.match(r) for r in recipients):
        raise ApiError("admin_invalid_request", param="notification_channel.recipients",
                       message="Invalid 'notification_channel.recipients': each recipient must be an email "
                               "address, such as owner@example.com.")
    if channel.get("subject_prefix") is not None:
        _check_length(channel["subject_prefix"], "notification_channel.subject_prefix")
    return {"threshold_cents": threshold, "recipients": recipients, "subject_prefix": channel.get("subject_prefix"),
            "currency": body["currency"], "interval": body["interval"]}


async def create_alert(call: Call) -> Response:
    scope, ident = _scope(call)
    args = await _alert_args(call)
    return call.json(alerts.create_alert(call.state.store, call.state.clock, scope, ident, **args))


async def list_alerts(call: Call) -> Response:
    scope, ident = _scope(call)
    args = _page_args(call, minimum=0, before=True, order=True)
    return call.json(alerts.list_alerts(call.state.store, call.state.clock, scope, ident, **args))


async def get_alert(call: Call) -> Response:
    scope, ident = _scope(call)
    return call.json(alerts.get_alert(call.state.store, call.state.clock, scope, ident, _param(call, "alert_id")))


async def update_alert(call: Call) -> Response:
    scope, ident = _scope(call)
    alerts.get_alert(call.state.store, call.state.clock, scope, ident, _param(call, "alert_id"))
    args = await _alert_args(call)
    return call.json(alerts.update_alert(call.state.store, call.state.clock, scope, ident,
                                         _param(call, "alert_id"), **args))


async def delete_alert(call: Call) -> Response:
    scope, ident = _scope(call)
    return call.json(alerts.delete_alert(call.state.store, call.state.clock, scope, ident,
                                         _param(call, "alert_id")))


# ---------------------------------------------------------------- projects

PROJECT_PARAMS = {"name": "string", "external_key_id": "string", "geography": "string", "residency": "any"}


async def create_project(call: Call) -> Response:
    body = await _body(call, PROJECT_PARAMS, ("name",))
    return call.json(projects.create_project(call.state.store, call.state.clock, _org(call), name=body["name"],
                                             external_key_id=body.get("external_key_id")))


async def list_projects(call: Call) -> Response:
    args = _page_args(call)
    return call.json(projects.list_projects(call.state.store, _org(call),
                                            include_archived=bool(_qbool(call, "include_archived")), **args))


async def get_project(call: Call) -> Response:
    return call.json(projects.get_project(call.state.store, _org(call), _param(call, "project_id")))


async def update_project(call: Call) -> Response:
    projects.get_project(call.state.store, _org(call), _param(call, "project_id"))
    body = await _body(call, {"name": "string", "external_key_id": "string", "geography": "string"})
    return call.json(projects.update_project(call.state.store, _org(call), _param(call, "project_id"),
                                             name=body.get("name"), external_key_id=body.get("external_key_id")))


async def archive_project(call: Call) -> Response:
    return call.json(projects.archive_project(call.state.store, call.state.clock, _org(call),
                                              _param(call, "project_id")))


# ---------------------------------------------------------------- project API keys

async def list_project_keys(call: Call) -> Response:
    access = _q(call, "owner_project_access")
    if access is not None:
        check_choice(access, "owner_project_access", ("active", "inactive", "any"))
    return call.json(projects.list_project_keys(call.state.store, _org(call), _param(call, "project_id"),
                                                owner_project_access=access, **_page_args(call)))


async def get_project_key(call: Call) -> Response:
    return call.json(projects.get_project_key(call.state.store, _org(call), _param(call, "project_id"),
                                              _param(call, "api_key_id")))


async def update_project_key(call: Call) -> Response:
    store, org_id = call.state.store, _org(call)
    projects.get_project_key(store, org_id, _param(call, "project_id"), _param(call, "api_key_id"))
    body = await _body(call, {"scopes": "array", "expires_in_seconds": "integer"})
    return call.json(projects.update_project_key(store, call.state.clock, org_id, _param(call, "project_id"),
                                                 _param(call, "api_key_id"), scopes=_scopes_arg(body),
                                                 expires_in_seconds=_expires_arg(body)))


async def delete_project_key(call: Call) -> Response:
    return call.json(projects.delete_project_key(call.state.store, call.state.clock, _org(call),
                                                 _param(call, "project_id"), _param(call, "api_key_id")))


# ---------------------------------------------------------------- service accounts

async def create_service_account(call: Call) -> Response:
    projects.get_project(call.state.store, _org(call), _param(call, "project_id"))
    body = await _body(call, {"name": "string", "create_service_account_only": "boolean",
                              "expires_in_seconds": "integer"}, ("name",))
    return call.json(projects.create_service_account(
        call.state.store, call.state.clock, _org(call), _param(call, "project_id"), name=body["name"],
        create_service_account_only=bool(body.get("create_service_account_only")),
        expires_in_seconds=_expires_arg(body)))


async def list_service_accounts(call: Call) -> Response:
    return call.json(projects.list_service_accounts(call.state.store, _org(call), _param(call, "project_id"),
                                                    **_page_args(call)))


async def get_service_account(call: Call) -> Response:
    return call.json(projects.get_service_account(call.state.store, _org(call), _param(call, "project_id"),
                                                  _param(call, "service_account_id")))


async def update_service_account(call: Call) -> Response:
    store, org_id = call.state.store, _org(call)
    projects.get_service_account(store, org_id, _param(call, "project_id"), _param(call, "service_account_id"))
    body = await _body(call, {"name": "string", "role": "string"})
    if body.get("role") is not None:
        check_choice(body["role"], "role", ("member", "owner"))
    return call.json(projects.update_service_account(store, org_id, _param(call, "project_id"),
                                                     _param(call, "service_account_id"), name=body.get("name"),
                                                     role=body.get("role")))


async def delete_service_account(call: Call) -> Response:
    return call.json(projects.delete_service_account(call.state.store, call.state.clock, _org(call),
                                                     _param(call, "project_id"), _param(call, "service_account_id")))


async def create_service_account_key(call: Call) -> Response:
    store, org_id = call.state.store, _org(call)
    projects.get_service_account(store, org_id, _param(call, "project_id"), _param(call, "service_account_id"))
    body = await _body(call, {"name": "string", "scopes": "array", "expires_in_seconds": "integer"})
    return call.json(projects.create_service_account_key(
        store, call.state.clock, org_id, _param(call, "project_id"), _param(call, "service_account_id"),
        name=body.get("name"), scopes=_scopes_arg(body), expires_in_seconds=_expires_arg(body)))


# ---------------------------------------------------------------- admin API keys

async def create_admin_key(call: Call) -> Response:
    body = await _body(call, {"name": "string", "expires_in_seconds": "integer"}, ("name",))
    return call.json(projects.create_admin_key(call.state.store, call.state.clock, _org(call), name=body["name"],
                                               expires_in_seconds=_expires_arg(body, ADMIN_KEY_MAX_EXPIRES)))


async def list_admin_keys(call: Call) -> Response:
    return call.json(projects.list_admin_keys(call.state.store, _org(call), **_page_args(call, order=True)))


async def get_admin_key(call: Call) -> Response:
    return call.json(projects.get_admin_key(call.state.store, _org(call), _param(call, "key_id")))


async def delete_admin_key(call: Call) -> Response:
    return call.json(projects.delete_admin_key(call.state.store, call.state.clock, _org(call),
                                               _param(call, "key_id")))


# ---------------------------------------------------------------- project rate limits

async def list_rate_limits(call: Call) -> Response:
    args = _page_args(call, limit_default=100, maximum=1000, before=True)
    return call.json(projects.list_rate_limits(call.state.store, call.state.clock, _org(call),
                                               _param(call, "project_id"), **args))


async def update_rate_limit(call: Call) -> Response:
    store, org_id, project_id = call.state.store, _org(call), _param(call, "project_id")
    projects.get_project(store, org_id, project_id)
    body = await _body(call, {name: "integer" for name in projects.RATE_LIMIT_FIELDS})
    values = {name: check_int(value, name, minimum=1, maximum=MAX_RATE_LIMIT) for name, value in body.items()
              if value is not None}
    return call.json(projects.update_rate_limit(store, call.state.clock, org_id, project_id,
                                                _param(call, "rate_limit_id"), **values))


# ---------------------------------------------------------------- usage and costs

def _start_time(call: Call) -> int:
    start = _qint(call, "start_time")
    if start is None:
        raise ApiError("missing_required_parameter", param="start_time")
    return start


async def usage_completions(call: Call) -> Response:
    return call.json(usage.completions_usage(
        call.state.store, call.state.clock, _org(call), start_time=_start_time(call),
        end_time=_qint(call, "end_time"), bucket_width=_q(call, "bucket_width") or "1d",
        group_by=_qlist(call, "group_by"), project_ids=_qlist(call, "project_ids"),
        user_ids=_qlist(call, "user_ids"), api_key_ids=_qlist(call, "api_key_ids"), models=_qlist(call, "models"),
        batch=_qbool(call, "batch"), limit=_qint(call, "limit"), page=_q(call, "page") or None,
    ))


async def usage_costs(call: Call) -> Response:
    return call.json(usage.costs(
        call.state.store, call.state.clock, _org(call), start_time=_start_time(call),
        end_time=_qint(call, "end_time"), bucket_width=_q(call, "bucket_width") or "1d",
        group_by=_qlist(call, "group_by"), project_ids=_qlist(call, "project_ids"),
        api_key_ids=_qlist(call, "api_key_ids"), line_items=_qlist(call, "line_items"),
        limit=_qint(call, "limit"), page=_q(call, "page") or None,
    ))


def _route(path: str, methods: dict[str, Any]) -> list[Route]:
    return [Route(PREFIX + path, endpoint(handler, admin=True), methods=[method])
            for method, handler in methods.items()]


_P = "/projects/{project_id}"
ROUTES: list[Route] = [
    *_route("/spend_limit", {"GET": get_spend_limit, "POST": set_spend_limit, "DELETE": delete_spend_limit}),
    *_route("/spend_alerts", {"GET": list_alerts, "POST": create_alert}),
    *_route("/spend_alerts/{alert_id}", {"GET": get_alert, "POST": update_alert, "DELETE": delete_alert}),
    *_route("/projects", {"GET": list_projects, "POST": create_project}),
    *_route(_P, {"GET": get_project, "POST": update_project}),
    *_route(_P + "/archive", {"POST": archive_project}),
    *_route(_P + "/spend_limit", {"GET": get_spend_limit, "POST": set_spend_limit, "DELETE": delete_spend_limit}),
    *_route(_P + "/spend_alerts", {"GET": list_alerts, "POST": create_alert}),
    *_route(_P + "/spend_alerts/{alert_id}", {"GET": get_alert, "POST": update_alert, "DELETE": delete_alert}),
    *_route(_P + "/api_keys", {"GET": list_project_keys}),
    *_route(_P + "/api_keys/{api_key_id}", {"GET": get_project_key, "POST": update_project_key,
                                            "DELETE": delete_project_key}),
    *_route(_P + "/service_accounts", {"GET": list_service_accounts, "POST": create_service_account}),
    *_route(_P + "/service_accounts/{service_account_id}", {"GET": get_service_account,
                                                            "POST": update_service_account,
                                                            "DELETE": delete_service_account}),
    *_route(_P + "/service_accounts/{service_account_id}/api_keys", {"POST": create_service_account_key}),
    *_route(_P + "/rate_limits", {"GET": list_rate_limits}),
    *_route(_P + "/rate_limits/{rate_limit_id}", {"POST": update_rate_limit}),
    *_route("/admin_api_keys", {"GET": list_admin_keys, "POST": create_admin_key}),
    *_route("/admin_api_keys/{key_id}", {"GET": get_admin_key, "DELETE": delete_admin_key}),
    *_route("/usage/completions", {"GET": usage_completions}),
    *_route("/costs", {"GET": usage_costs}),
]
