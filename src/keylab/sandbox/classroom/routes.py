"""The class sandbox's two HTTP surfaces.

    POST /sandbox/progress   {"exercise_id", "status"}   a check cell's result, sent with the student's own
                                                          key (Authorization: Bearer): stored for their organization
    GET  /classroom           the instructor's page (after entering the operator token once)
    POST /classroom           log in with the operator token, or reset a student
    GET  /classroom.csv       the report as CSV

The instructor's page shows redacted keys only. Its links and forms are relative, so it works under
a path prefix (JupyterHub's `/user/NAME/keylab/`). Its cookie holds an HMAC of the operator token,
never the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from keylab.sandbox.api.common import Call, authenticate, new_request_id
from keylab.sandbox.classroom.activity import PROGRESS_STATUSES, record_progress
from keylab.sandbox.classroom.report import class_report, report_csv
from keylab.sandbox.classroom.students import ClassroomError, reset_student, student_row
from keylab.sandbox.errors import ApiError, error_response
from keylab.sandbox.state import SandboxState

COOKIE = "keylab_instructor"
EXERCISE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'self'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


# ---------------------------------------------------------------- check cells


async def progress(request: Request) -> Response:
    state = _state(request)
    call = Call(request, state, new_request_id(), time.perf_counter())
    try:
        call.key = authenticate(call)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        exercise, status = body.get("exercise_id"), body.get("status")
        if not isinstance(exercise, str) or not EXERCISE.match(exercise) or status not in PROGRESS_STATUSES:
            raise ApiError("admin_invalid_request", message='Send {"exercise_id": "03.1", "status": "passed" | '
                                                            '"failed" | "not-attempted"}.')
        return JSONResponse(record_progress(state.store, state.clock, call.key.org_id, exercise, status))
    except ApiError as error:
        return error_response(error, call.base_headers())


# ---------------------------------------------------------------- the instructor's page


def _proof(state: SandboxState, purpose: str) -> str:
    return hmac.new(state.store.operator_token.encode(), f"keylab-instructor:{purpose}".encode(),
                    hashlib.sha256).hexdigest()


def _signed_in(request: Request) -> bool:
    return hmac.compare_digest(request.cookies.get(COOKIE, ""), _proof(_state(request), "session"))


def _page(template: str, status: int = 200, **values: object) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(**values), status_code=status, headers=HEADERS)


def _view(request: Request, *, notice: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    state = _state(request)
    if not _signed_in(request):
        return _page("instructor_login.html", status, error=error)
    return _page("instructor.html", status, students=class_report(state.store), notice=notice, error=error,
                 csrf=_proof(state, "csrf"))


async def instructor(request: Request) -> Response:
    state = _state(request)
    if request.method == "GET":
        notice = {"reset": "Student reset: usage, errors and lab progress cleared, credit back to the budget."}
        return _view(request, notice=notice.get(request.query_params.get("done", ""), ""))
    form = await request.form()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    await form.close()
    if "operator_token" in fields:
        if not hmac.compare_digest(fields["operator_token"].strip(), state.store.operator_token):
            return _page("instructor_login.html", 403,
                         error="That is not this sandbox's operator token. Copy it from the file operator_token "
                               "in the sandbox's data dir.")
        response = RedirectResponse("classroom", status_code=303)
        response.set_cookie(COOKIE, _proof(state, "session"), httponly=True, samesite="strict")
        return response
    if not _signed_in(request) or not hmac.compare_digest(fields.get("csrf", ""), _proof(state, "csrf")):
        return _view(request, error="This form has expired. Reload the page and try again.", status=403)
    try:
        org_id = student_row(state.store, fields.get("email", ""))["org_id"]
        reset_student(state.store, state.clock, fields.get("email", ""))
    except ClassroomError as problem:
        return _view(request, error=str(problem), status=404)
    state.faults.clear(org_id)  # what they had staged (in this server's memory, which the CLI cannot reach)
    return RedirectResponse("classroom?done=reset", status_code=303)


async def export_csv(request: Request) -> Response:
    if not _signed_in(request):
        return RedirectResponse("classroom", status_code=303)
    return Response(report_csv(class_report(_state(request).store)), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition": 'attachment; filename="classroom.csv"'})


ROUTES = [
    Route("/sandbox/progress", progress, methods=["POST"]),
    Route("/classroom", instructor, methods=["GET", "POST"]),
    Route("/classroom.csv", export_csv, methods=["GET"]),
]
