"""Facts about the OpenAI platform that age: URLs, UI labels and paths, billing and limit rules.

Lessons import these instead of restating them, and the sandbox's dashboard uses the same labels.
Each fact carries the date it was checked and its source: public URLs, separated by "; " (lessons print
them, so a learner can check the fact; docs/sources.md lists them all). Re-check them when a lesson is
revised; change them here only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Fact:
    value: str
    source: str
    checked: dt.date


_CHECKED = dt.date(2026, 11, 28)
_HELP = "https://help.openai.com/en/articles"
_APIDECK_GUIDE = "https://www.apideck.com/blog/how-to-get-your-chatgpt-openai-api-key"

PLATFORM_URL = "https://platform.openai.com"
API_KEYS_URL = "https://platform.openai.com/api-keys"
BILLING_URL = "https://platform.openai.com/settings/organization/billing/overview"
LIMITS_URL = "https://platform.openai.com/settings/organization/limits"
USAGE_URL = "https://platform.openai.com/usage"
KEY_SAFETY_URL = "https://help.openai.com/en/articles/5112595"

UI = {
    "create_key_button": Fact("Create new secret key", f"{_APIDECK_GUIDE}; {_HELP}/4936850", _CHECKED),
    "create_key_confirm": Fact("Create secret key", _APIDECK_GUIDE, _CHECKED),
    "permissions": Fact("All / Restricted / Read only", f"{_HELP}/8867743", _CHECKED),
    "restricted_levels": Fact("None / Read / Write / Request", f"{_HELP}/8867743", _CHECKED),
    "api_keys_page": Fact("Dashboard → API keys (left sidebar)", _APIDECK_GUIDE, _CHECKED),
    "billing_page": Fact("Settings → Organization → Billing", f"{_HELP}/8264644", _CHECKED),
    "limits_page": Fact("Settings → Organization → Limits", f"{_HELP}/6614457", _CHECKED),
}

MIN_CREDIT_PURCHASE_USD = Decimal("5")   # help.openai.com 8264644 (2026): minimum purchase $5
DEFAULT_CREDIT_PURCHASE_USD = Decimal("10")  # same article: default $10
CREDIT_EXPIRY_DAYS = 365                 # same article: purchased credits expire after 1 year
AUTO_RECHARGE_DEFAULT_ON = True          # same article: auto-reload is on by default during setup
KEY_SHOWN_ONCE = Fact("The full key is shown only once, when it is created", f"{_HELP}/4936850", _CHECKED)
SPEND_ALERTS_ONLY_NOTIFY = Fact(
    "Spend alerts only notify; hard organization and project spend limits make calls fail with 429 "
    "organization_spend_limit_exceeded / project_spend_limit_exceeded, monthly, not instantly enforced",
    "https://developers.openai.com/api/docs/guides/spend-limits", _CHECKED,
)

# ---- added for lessons 01-02 (append-only) ----
SIGN_UP = Fact(
    "Sign up with an email address and a password, or with a Google, Microsoft or Apple account; "
    "then confirm the email address (a link) and a phone number (a code sent by SMS)",
    _APIDECK_GUIDE, _CHECKED,
)
API_BILLING_SEPARATE = Fact(
    "API usage is prepaid and billed per token; a ChatGPT Plus subscription does not include API credit",
    f"{_HELP}/8264644", _CHECKED,
)
LEAKED_KEYS_DISABLED = Fact(
    "OpenAI disables keys it finds published (GitHub secret scanning partner) and emails the owner",
    "https://docs.github.com/en/code-security/secret-scanning/introduction/supported-secret-scanning-patterns; "
    "https://community.openai.com/t/841689", _CHECKED,
)
