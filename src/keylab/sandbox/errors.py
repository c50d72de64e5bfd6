"""The sandbox's error catalogue: every error it sends, as the real API sends it, with a source.

Each entry fixes the HTTP status, `type`, `code`, `param` and message template of one case. The
server raises `ApiError(entry, **fields)` anywhere; one exception handler turns it into the
`{"error": {"message", "type", "param", "code"}}` envelope (key order as seen live), so the
official SDK raises the same exception class with the same attributes as against api.openai.com.
Each source names the public threads the wording was copied from (see docs/sources.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

KEYS_URL = "https://platform.openai.com/account/api-keys"
BILLING_URL = "https://platform.openai.com/settings/organization/billing/"
LIMITS_URL = "https://platform.openai.com/settings/organization/limits"
RATE_LIMITS_URL = "https://platform.openai.com/account/rate-limits"
ERROR_CODES_URL = "https://platform.openai.com/docs/guides/error-codes/api-errors"


@dataclass(frozen=True)
class ErrorSpec:
    """One catalogued error case."""

    name: str
    status: int
    type: str
    code: str | None
    message: str
    source: str
    param: str | None = None
    retry_after: bool = False

    def body(self, **fields: Any) -> dict[str, Any]:
        """The error envelope. `param` (and `type`) in `fields` override the entry's and may also
        appear in the message template ("Unknown parameter: '{param}'.")."""
        return {
            "error": {
                "message": self.message.format(**fields),
                "type": fields.get("type", self.type),
                "param": fields.get("param", self.param),
                "code": self.code,
            }
        }


_SCOPE_HINT = (
    "Check that you have the correct role in your organization (Reader, Writer, Owner) and project "
    "(Member, Owner), and if you're using a restricted API key, that it has the necessary scopes."
)


def _catalogue(specs: tuple[ErrorSpec, ...]) -> dict[str, ErrorSpec]:
    """The entries by name; a name entered twice is a mistake (the later would silently win)."""
    twice = [name for name, count in Counter(spec.name for spec in specs).items() if count > 1]
    if twice:
        raise ValueError(f"error catalogue: {twice} entered twice")
    return {spec.name: spec for spec in specs}


CATALOGUE: dict[str, ErrorSpec] = _catalogue(
    (
        ErrorSpec(
            "missing_api_key", 401, "invalid_request_error", None,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
            "username) if you're accessing the API from your browser and are prompted for a username and "
            f"password. You can obtain an API key from {KEYS_URL}.",
            source="2026 log wording; docs/sources.md",
        ),
        ErrorSpec(
            "invalid_api_key", 401, "invalid_request_error", "invalid_api_key",
            "Incorrect API key provided: {masked}. You can find your API key at " + KEYS_URL + ".",
            source="masking from openai-python#715, continuedev/continue#9634; docs/sources.md",
        ),
        ErrorSpec(
            "real_key_in_sandbox", 401, "invalid_request_error", "invalid_api_key",
            "This looks like a real OpenAI API key ({masked}), sent to the keylab sandbox. The sandbox "
            "neither stores nor forwards it and no call was made with it. To practise, put the sandbox key "
            "from `keylab sandbox account create` in OPENAI_API_KEY; to call the real API, remove "
            "OPENAI_BASE_URL so the SDK talks to api.openai.com. If this key was shared by accident, revoke it "
            "at " + KEYS_URL + ".",
            source="keylab only: the real API never sees this case",
        ),
        ErrorSpec(
            "missing_scopes", 401, "invalid_request_error", None,
            "You have insufficient permissions for this operation. Missing scopes: {scopes}. " + _SCOPE_HINT,
            source="PowerToys#32989, continue#10059, community threads 1378804, 1345041; docs/sources.md",
        ),
        ErrorSpec(
            "missing_admin_scopes", 401, "invalid_request_error", None,
            "You have insufficient permissions for this operation. Missing scopes: {scopes}. Check that you "
            "have the correct role in your organization, and if you're using a restricted API key, that it "
            "has the necessary scopes.",
            source="community thread 'Introducing the Usage API'; docs/sources.md",
        ),
        ErrorSpec(
            "mismatched_organization", 401, "invalid_request_error", "mismatched_organization",
            "OpenAI-Organization header should match organization for API key",
            source="openai/codex#1000, fish-ai#62; docs/sources.md",
        ),
        ErrorSpec(
            "mismatched_project", 401, "invalid_request_error", "mismatched_project",
            "OpenAI-Project header should match project for API key",
            source="inferred from the organization case, not seen verbatim; docs/sources.md",
        ),
        ErrorSpec(
            "model_not_found", 404, "invalid_request_error", "model_not_found",
            "The model `{model}` does not exist or you do not have access to it.",
            source="screenshot-to-code#332; LiteLLM#39457 for /v1/responses; docs/sources.md",
        ),
        ErrorSpec(
            "invalid_json", 400, "invalid_request_error", None,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
            "JSON. If you have trouble figuring out how to fix this, please contact us through our help center "
            "at help.openai.com.)",
            source="NextChat#4064; docs/sources.md",
        ),
        ErrorSpec(
            "missing_model", 400, "invalid_request_error", None,
            "you must provide a model parameter",
            source="docs/sources.md",
        ),
        ErrorSpec(
            "missing_required_parameter", 400, "invalid_request_error", "missing_required_parameter",
            "Missing required parameter: '{param}'.",
            source="docs/sources.md",
        ),
        ErrorSpec(
            "unknown_parameter", 400, "invalid_request_error", "unknown_parameter",
            "Unknown parameter: '{param}'.",
            source="openai-ui#127; docs/sources.md",
        ),
        ErrorSpec(
            "invalid_type", 400, "invalid_request_error", "invalid_type",
            "Invalid type for '{param}': expected {expected}, but got {got} instead.",
            source="real API wording for a JSON value of the wrong type (widely reported)",
        ),
        ErrorSpec(
            "invalid_value", 400, "invalid_request_error", "invalid_value",
            "Invalid value: '{value}'. Supported values are: {supported}.",
            source="real API wording for an enum value it does not know (widely reported)",
        ),
        ErrorSpec(
            "empty_array", 400, "invalid_request_error", "empty_array",
            "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array "
            "instead.",
            source="real API wording for messages=[] (widely reported)",
        ),
        ErrorSpec(
            "integer_below_minimum", 400, "invalid_request_error", "integer_below_min_value",
            "Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, but got {got} "
            "instead.",
            source="real API wording for max_tokens/n below their minimum (widely reported)",
        ),
        ErrorSpec(
            "integer_above_maximum", 400, "invalid_request_error", "integer_above_max_value",
            "Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, but got {got} "
            "instead.",
            source="real API wording for n above 128 (the integer form of decimal_above_max_value)",
        ),
        ErrorSpec(
            "number_below_minimum", 400, "invalid_request_error", "decimal_below_min_value",
            "Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, but got {got} "
            "instead.",
            source="real API wording for temperature below 0 (the decimal form of integer_below_min_value)",
        ),
        ErrorSpec(
            "number_out_of_range", 400, "invalid_request_error", "decimal_above_max_value",
            "Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, but got {got} "
            "instead.",
            source="real API wording for temperature above 2 (widely reported)",
        ),
        ErrorSpec(
            "context_length_exceeded", 400, "invalid_request_error", "context_length_exceeded",
            "This model's maximum context length is {limit} tokens. However, your messages resulted in "
            "{tokens} tokens. Please reduce the length of the messages.",
            source="real API wording (widely reported)", param="messages",
        ),
        ErrorSpec(
            "unknown_url", 404, "invalid_request_error", "unknown_url",
            "Unknown request URL: {method} {path}. Please check the URL for typos, or see the docs at "
            "https://platform.openai.com/docs/api-reference/.",
            source="a known path with the wrong method is answered the same way "
            "(openai-python#263, #271: 'Invalid URL (POST /v1/chat/completions)'); docs/sources.md",
        ),
        ErrorSpec(
            "response_not_found", 404, "invalid_request_error", None,
            "Response with id '{id}' not found.",
            source="real API wording for GET /v1/responses/{id} (widely reported)", param="response_id",
        ),
        ErrorSpec(
            "previous_response_not_found", 400, "invalid_request_error", "previous_response_not_found",
            "Previous response with id '{id}' not found.",
            source="maximhq/bifrost#2441 (verbatim message and code), bigduu/Bamboo-agent#513 (400, param)",
            param="previous_response_id",
        ),
        ErrorSpec(
            "input_context_length_exceeded", 400, "invalid_request_error", "context_length_exceeded",
            "Your input exceeds the context window of this model. Please adjust your input and try again.",
            source="Responses API wording, in openai/codex test fixtures and 2026 clients (find_string); "
            "param 'input' is keylab's guess",
            param="input",
        ),
        ErrorSpec(
            "project_not_found", 404, "invalid_request_error", None,
            "The project {project_id} was not found",
            source="official spec: error_response example of /organization/projects/{project_id}/rate_limits",
        ),
        ErrorSpec(
            "admin_object_not_found", 404, "invalid_request_error", None,
            "{kind} with id '{id}' not found.",
            source="keylab wording after the real 'Response with id ... not found.'; unverified for admin objects",
        ),
        ErrorSpec(
            "admin_invalid_request", 400, "invalid_request_error", None,
            "{message}",
            source="keylab wording for admin requests the platform refuses (unverified)",
        ),
        ErrorSpec(
            "insufficient_quota", 429, "insufficient_quota", "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details. For more "
            f"information on this error, read the docs: {ERROR_CODES_URL}.",
            source="simonw/llm#494, NextChat#3664; docs/sources.md",
        ),
        ErrorSpec(
            "credit_balance_exhausted", 429, "insufficient_quota", "credit_balance_exhausted",
            f"You have no credits remaining. Add credits to continue using the API at {BILLING_URL}",
            source="inspect_ai#5340, dyad#4184 (2026 variant); docs/sources.md",
        ),
        ErrorSpec(
            "organization_spend_limit_exceeded", 429, "insufficient_quota", "organization_spend_limit_exceeded",
            "Your organization has reached its monthly spend limit of {limit}. Raise the limit or wait until "
            f"next month: {LIMITS_URL}",
            source="code from help.openai.com 6614457; message written by keylab, unverified; docs/sources.md",
        ),
        ErrorSpec(
            "project_spend_limit_exceeded", 429, "insufficient_quota", "project_spend_limit_exceeded",
            "Your project has reached its monthly spend limit of {limit}. Raise the project's limit or wait "
            "until next month: " + LIMITS_URL,
            source="code from help.openai.com 6614457; message written by keylab, unverified; docs/sources.md",
        ),
        ErrorSpec(
            "rate_limit_requests", 429, "requests", "rate_limit_exceeded",
            "Rate limit reached for {model} in organization {org} on requests per min (RPM): Limit {limit}, "
            "Used {used}, Requested 1. Please try again in {wait}. Visit " + RATE_LIMITS_URL
            + " to learn more.",
            source="BuilderIO/micro-agent#86, MetaGPT#523; docs/sources.md", retry_after=True,
        ),
        ErrorSpec(
            "rate_limit_tokens", 429, "tokens", "rate_limit_exceeded",
            "Rate limit reached for {model} in organization {org} on tokens per min (TPM): Limit {limit}, "
            "Used {used}, Requested {requested}. Please try again in {wait}. Visit " + RATE_LIMITS_URL
            + " to learn more.",
            source="docs/sources.md", retry_after=True,
        ),
        ErrorSpec(
            "request_too_large", 429, "tokens", "rate_limit_exceeded",
            "Request too large for {model} in organization {org} on tokens per min (TPM): Limit {limit}, "
            "Requested {requested}. The input or output tokens must be reduced in order to run successfully. "
            "Visit " + RATE_LIMITS_URL + " to learn more.",
            source="shell_gpt#653; docs/sources.md",
        ),
        ErrorSpec(
            "request_body_too_large", 413, "invalid_request_error", None,
            "Request body too large: the limit is {limit} bytes. Send less text, or split the work over "
            "several requests.",
            source="keylab wording (unverified): the real API answers an oversized body with 413 "
            "(openai/codex#18316 '413 Payload Too Large'), wording not recorded",
        ),
        ErrorSpec(
            "server_error", 500, "server_error", None,
            "The server had an error while processing your request. Sorry about that!",
            source="real API wording for a 500 (widely reported)",
        ),
        ErrorSpec(
            "overloaded", 503, "server_error", None,
            "The server is overloaded or not ready yet.",
            source="real API wording for a 503 (widely reported)",
        ),
    )
)


class ApiError(Exception):
    """Raised anywhere in the sandbox; rendered by `error_response` as the real API would."""

    def __init__(self, name: str, *, headers: dict[str, str] | None = None, **fields: Any) -> None:
        self.spec = CATALOGUE[name]
        self.fields = fields
        self.headers = headers or {}
        super().__init__(name)

    @property
    def status(self) -> int:
        return self.spec.status

    def body(self) -> dict[str, Any]:
        return self.spec.body(**self.fields)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    merged = {**(headers or {}), **error.headers}
    return JSONResponse(error.body(), status_code=error.status, headers=merged)
