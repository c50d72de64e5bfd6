"""Which `Host` headers the sandbox answers, and the URL its emails link to.

DNS rebinding: a web page at evil.example can point its own name at the sandbox's address
(127.0.0.1, or a classroom machine's) and then read the sandbox's answers from the learner's
browser, as same-origin requests to evil.example. Every such request carries `Host: evil.example`,
so the sandbox answers only these hosts:

- an IP address literal (a browser sends one only when the page itself is at that address);
- `localhost` and names under `.localhost`;
- the names it was given (`allowed_hosts`, e.g. `--allowed-host class.example.org`, or the
  comma-separated `KEYLAB_SANDBOX_ALLOWED_HOSTS`), and, when it listens on every interface
  (`--host 0.0.0.0`), this machine's own host name.

`*` allows every host. Only a sandbox behind a logged-in proxy needs it: under JupyterHub the
browser's Host is the hub's name, the sandbox listens on the hub machine's loopback, and no browser
runs on that machine to be rebound to it (keylab.hub sets it for the user's sandbox).

Links in emails (verification) come from the configured public URL, never from a request's Host.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable

WILDCARD_HOSTS = ("0.0.0.0", "::", "")
ALLOWED_HOSTS_VAR = "KEYLAB_SANDBOX_ALLOWED_HOSTS"
ANY_HOST = "*"


def default_names(bind_host: str) -> set[str]:
    """The names a sandbox bound to `bind_host` answers besides IP literals and localhost."""
    names = {n.strip().lower() for n in os.environ.get(ALLOWED_HOSTS_VAR, "").split(",") if n.strip()}
    if bind_host in WILDCARD_HOSTS:
        name = socket.gethostname().lower()
        names.update({name, name.split(".")[0], name.split(".")[0] + ".local"})
    elif not _is_ip(bind_host):
        names.add(bind_host.lower())
    return names


def public_url(bind_host: str, port: int, configured: str | None = None) -> str:
    """The base URL for links: the configured one, else the bound address (this machine's host
    name when it listens on every interface)."""
    if configured:
        return configured.rstrip("/")
    host = socket.gethostname().lower() if bind_host in WILDCARD_HOSTS else bind_host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostCheck:
    """`allowed(raw Host header)`; answers are memoised per header value (the hot path pays one
    dict lookup)."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = frozenset(n.strip().lower().rstrip(".") for n in names if n.strip())
        self._seen: dict[bytes, bool] = {}
        self.any_host = ANY_HOST in self.names

    def allowed(self, header: bytes | None) -> bool:
        if header is None or self.any_host:
            return True  # HTTP/1.0 without Host: no browser sends that
        known = self._seen.get(header)
        if known is None:
            known = self._check(header)
            if len(self._seen) < 1024:
                self._seen[header] = known
        return known

    def _check(self, header: bytes) -> bool:
        try:
            text = header.decode("ascii").strip().lower()
        except UnicodeDecodeError:
            return False
        if text.startswith("["):  # [IPv6]:port
            host = text[1:text.find("]")] if "]" in text else ""
        else:
            host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
        host = host.rstrip(".")
        if not host:
            return False
        return (_is_ip(host) or host == "localhost" or host.endswith(".localhost") or host in self.names)
