"""The sandbox's platform dashboard: server-rendered pages that imitate platform.openai.com.

`routes.ROUTES` is mounted by `keylab.sandbox.app` after the `/v1` API and the `/sandbox` control plane,
at fixed paths (`/api-keys`, `/billing`, …) so it never shadows either. Templates are Jinja2, the CSS
is one static file, and no page needs JavaScript (one small script adds the Copy button).
"""
