"""The platform's domain services: pure functions over (store, clock), shared by the admin API
(`keylab.sandbox.admin`) and the dashboard.

- `limits`   monthly hard spend limits (org and project)
- `alerts`   spend alerts, and the Billing listener that mails them once a month
- `outbox`   the mail and text messages the platform "sends"
- `projects` projects, project keys, service accounts, admin keys, project rate limits
- `usage`    usage and costs buckets from the usage rows

Functions return plain dicts shaped as the API objects (JSON-ready) and raise
`keylab.sandbox.errors.ApiError` for what the API answers with an error.
"""
