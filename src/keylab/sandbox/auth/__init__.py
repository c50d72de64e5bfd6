"""Sign-up, verification and sessions of the sandbox's platform dashboard.

The flow mirrors the real platform's (seed article; facts.md §4): an email and a password, a
confirmation link by email, a one-time code by SMS, then an organization with its Default project.
Mail and SMS go to the sandbox Outbox (`keylab.sandbox.platform.outbox`), never to the internet.

- `passwords`  scrypt hashing with a per-user salt
- `sessions`   server-side sessions in an HttpOnly, SameSite=Lax cookie, a CSRF token per session,
               one-time form ids (so a reloaded "Create secret key" page cannot make a second key)
- `flow`       sign-up, email link, SMS code (expiring, few attempts), log-in rate limit, onboarding
"""
