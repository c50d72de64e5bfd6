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

# ---- added for lesson 07, keeping a key safe (append-only) ----
ADMIN_KEYS_URL = "https://platform.openai.com/settings/organization/admin-keys"
PRODUCTION_BEST_PRACTICES_URL = "https://platform.openai.com/docs/guides/production-best-practices"
GITHUB_PUSH_PROTECTION_URL = "https://docs.github.com/en/code-security/secret-scanning/introduction/about-push-protection"
GITHUB_SECRET_PATTERNS_URL = (
    "https://docs.github.com/en/code-security/secret-scanning/introduction/supported-secret-scanning-patterns"
)
GITHUB_HISTORY_REMOVAL_URL = (
    "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/removing-sensitive-data-from-a-repository"
)


@dataclass(frozen=True)
class SourcedFact(Fact):
    """A Fact a lesson prints whole: str() shows the fact, then where to read it and when it was checked."""

    def __str__(self) -> str:
        return f"{self.value}.\n  (source: {self.source}, checked {self.checked})"


GITHUB_SCANS_OPENAI_KEYS = SourcedFact(
    "GitHub's secret scanning knows OpenAI API keys: it alerts OpenAI when one is pushed to a public "
    "repository (partner alert), alerts the repository's owner, checks whether the key is still valid, "
    "and push protection blocks a push that contains one",
    GITHUB_SECRET_PATTERNS_URL, _CHECKED,
)
OPENAI_DISABLES_LEAKED_KEYS = SourcedFact(
    "When OpenAI learns that a key was published, it disables the key and emails the organization's "
    "owner; OpenAI asks you to rotate a leaked key at once and contact support",
    KEY_SAFETY_URL, _CHECKED,
)
ADMIN_API_CANNOT_CREATE_USER_KEYS = SourcedFact(
    "The admin API lists, restricts and deletes project API keys but cannot create a key owned by a "
    "person; it creates service accounts and their keys (sk-svcacct-…), which is what automated "
    "rotation uses",
    "https://platform.openai.com/docs/api-reference/project-service-accounts", _CHECKED,
)
KEY_PERMISSION_LEVELS = SourcedFact(
    "A key's permissions are All, Restricted (per resource: None, Read, Write or Request) or Read only; "
    "a Restricted key that may only write Responses also needs Model capabilities: Request",
    "https://help.openai.com/en/articles/8867743", _CHECKED,
)
KEY_SAFETY_PRACTICES = SourcedFact(
    "One key per person and environment, never in browser or mobile code, keys in environment variables "
    "or a key management service, watch usage and rotate; set an expiry and check that the new key works "
    "before revoking the old one",
    KEY_SAFETY_URL, _CHECKED,
)
CREDITS_REFUNDED_FOR_UNAUTHORIZED_USE = SourcedFact(
    "Purchased credits are non-refundable, except for billing errors or confirmed unauthorized use: "
    "if the usage report shows requests you did not make, contact OpenAI's help center",
    "https://help.openai.com/en/articles/8264644", _CHECKED,
)
