"""`keylab sandbox …`: run the sandbox, and the instructor's shortcuts around it."""

from __future__ import annotations

import argparse
import json
import sys

from keylab.cli.options import data_dir, parse_usd


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="run the offline OpenAI-compatible sandbox (and manage it)",
        description="Run the sandbox in the foreground. Its first line on stdout is the base URL for "
                    "OPENAI_BASE_URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--data", metavar="DIR", help="data dir (default: .keylab/sandbox in the course folder)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help="a host name the sandbox answers to besides its IP addresses and localhost "
                             "(repeat for more; a defence against DNS rebinding)")
    parser.add_argument("--public-url", metavar="URL",
                        help="base URL for links in its emails (default: the address it listens on)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other than this machine (serving a room): other computers can then "
                             "reach the API and the dashboard")
    parser.set_defaults(handler=_serve)
    actions = parser.add_subparsers(dest="sandbox_command", metavar="ACTION")

    account = actions.add_parser("account", help="accounts (the instructor's and the tests' shortcut)")
    account_actions = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)
    create = account_actions.add_parser(
        "create", help="create a verified organization with a project key and an admin key, printed once",
    )
    create.add_argument("--data", metavar="DIR", help="data dir of the sandbox (works while it runs)")
    create.add_argument("--email", help="the account's email (default: a generated one)")
    create.add_argument("--credits", default="0", metavar="USD", help="prepaid balance in US dollars (default 0)")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(handler=_account_create)

    from keylab.cli import sandbox_platform  # `keylab sandbox open`

    sandbox_platform.register(actions)


def _serve(args: argparse.Namespace) -> int:
    from keylab.environment import is_loopback_url
    from keylab.sandbox.server import _url, run_foreground

    if not is_loopback_url(_url(args.host, args.port)):
        if not args.allow_remote:
            print(f"error: --host {args.host} would let other computers reach this sandbox. To serve a room, "
                  f"add --allow-remote (see `keylab sandbox --help`); to keep it on this machine, leave --host out.",
                  file=sys.stderr)
            return 2
        print(REMOTE_WARNING.format(host=args.host), file=sys.stderr, flush=True)
    try:
        return run_foreground(data_dir(args.data), args.host, args.port,
                              allowed_hosts=tuple(args.allowed_host), public=args.public_url)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


REMOTE_WARNING = """\
warning: serving on {host}, beyond this machine. Anyone who can reach this address on your network can:
  - call the API with a key of this sandbox (students' keys, or keys they create), spending sandbox credit;
  - open the dashboard: sign up, log in, create keys, read the sandbox Outbox of their own accounts;
  - send check results to /sandbox/progress with a student's key;
  - with a student's key, stage that student's own lessons on the control plane (/sandbox/…): practice
    accounts, their own clock and faults, mail about their own accounts.
  The rest of the control plane and the instructor page (/classroom) still need the operator token.
  Nothing here is real money, but use it on a classroom network only, and stop it (Ctrl-C) after class.
  Students set OPENAI_BASE_URL=http://THIS-MACHINE'S-ADDRESS:PORT/v1 (`keylab classroom create --base-url`)."""


def _account_create(args: argparse.Namespace) -> int:
    from keylab.sandbox.accounts import create_account
    from keylab.sandbox.clock import Clock
    from keylab.sandbox.store import Store

    amount = parse_usd(args.credits, "--credits")
    if amount is None:
        return 2
    store = Store(data_dir(args.data))
    try:
        if args.email and store.query_one("SELECT 1 FROM users WHERE email = ?", (args.email,)):
            print(f"error: an account with the email {args.email} already exists in this sandbox; "
                  "pick another --email or leave it out", file=sys.stderr)
            return 1
        account = create_account(store, Clock(store), email=args.email, credits_usd=amount)
    finally:
        store.close()
    if args.json:
        print(json.dumps(account.as_json()))
        return 0
    print(f"Organization: {account.organization_id}  (Default project: {account.project_id})")
    print(f"Email:        {account.email}")
    print(f"Credit:       ${account.credits_usd}")
    print()
    print("These keys are shown once. Copy them now; the sandbox keeps only their hashes.")
    print(f"  Project key (All permissions): {account.api_key}")
    print(f"  Admin key:                     {account.admin_key}")
    return 0
