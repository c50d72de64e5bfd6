"""Prices and tokens: one table for the sandbox's bills and the widgets' estimates."""

from keylab.pricing.cost import (
    Cost,
    UnknownModelError,
    cost_of,
    format_usd,
    format_usd_cents,
    from_pico,
    to_pico,
)
from keylab.pricing.table import (
    COURSE_MODEL,
    DEPRECATIONS_URL,
    MODELS,
    PRICES_AS_OF,
    PRICING_URL,
    ModelPrice,
    current_models,
    get_model,
)
from keylab.pricing.tokens import TokenCount, count_messages, count_text, encoding_available

__all__ = [
    "COURSE_MODEL",
    "DEPRECATIONS_URL",
    "MODELS",
    "PRICES_AS_OF",
    "PRICING_URL",
    "Cost",
    "ModelPrice",
    "TokenCount",
    "UnknownModelError",
    "cost_of",
    "count_messages",
    "count_text",
    "current_models",
    "encoding_available",
    "format_usd",
    "format_usd_cents",
    "from_pico",
    "get_model",
    "to_pico",
]
