"""The sandbox's OpenAI-compatible `/v1` API, one module per resource."""
