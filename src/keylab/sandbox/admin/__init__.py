"""The platform's admin API, `/v1/organization/…`, as `client.admin.organization` calls it (admin keys only)."""
