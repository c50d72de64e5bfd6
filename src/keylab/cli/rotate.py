"""`keylab rotate`: replace the key in `.env` with a new one, prove it works, and only then revoke the old one.

Works against the sandbox or the live API (whichever `OPENAI_BASE_URL` in `.env` points at), with the
admin key from `OPENAI_ADMIN_KEY` (environment or `.env`). Exit 0 when done, 1 when rotation stopped
(the message says what `.env` holds), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rotate",
        help="replace the key in .env with a new one, check it works, then revoke the old one",
        description="Rotate the OPENAI_API_KEY in .env through the admin API: create a replacement "
        "(a service-account key in the same project; the admin API cannot create keys owned by a person), "
        "check that it works, write it into .env atomically (backup kept, mode 600), and only then revoke "
        "the old key. Keys are only ever shown masked.",
    )
    parser.add_argument("--env-file", type=Path, default=None, metavar="FILE",
                        help="the .env holding the key to rotate (default: $KEYLAB_ENV_FILE, else the nearest "
                        ".env upwards, as keylab doctor finds it)")
    parser.add_argument("--project", metavar="ID", help="the project the key belongs to (default: search all)")
    parser.add_argument("--key-id", metavar="ID", help="the old key's id, when its masked form is ambiguous")
    parser.add_argument("--scope", action="append", dest="scopes", metavar="SCOPE",
                        help="give the new key only this permission (repeatable), e.g. model.request "
                        "and api.model.request; default: All permissions")
    parser.add_argument("--expires-in-days", type=int, metavar="N", help="the new key stops working after N days")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--revoke-only", metavar="KEY_ID",
                        help="only revoke this key (with --project), e.g. after an interrupted rotation")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    import openai

    from keylab.rotation import RotationError, make_plan, read_settings, rotate

    if args.expires_in_days is not None and args.expires_in_days < 1:
        print("keylab rotate: --expires-in-days must be 1 or more", file=sys.stderr)
        return 2
    if args.revoke_only and not args.project:
        print("keylab rotate: --revoke-only needs --project (the key's project id)", file=sys.stderr)
        return 2
    from keylab.environment import locate_env_file

    location = locate_env_file(args.env_file)
    env_file = location.path or location.searched[0]  # a missing file gets read_settings' message
    try:
        key, admin_key, base_url = read_settings(env_file, os.environ)
        admin = openai.OpenAI(admin_api_key=admin_key, base_url=base_url, max_retries=2)
        if args.revoke_only:
            admin.admin.organization.projects.api_keys.delete(args.revoke_only, project_id=args.project)
            print(f"Revoked key {args.revoke_only}.")
            return 0
        plan = make_plan(admin, env_file, key, base_url, project_id=args.project, key_id=args.key_id,
                         scopes=args.scopes, expires_in_days=args.expires_in_days)
        print("\n".join(plan.lines()))
        if args.dry_run:
            print("Dry run: nothing changed.")
            return 0
        result = rotate(admin, plan, client_factory=openai.OpenAI)
    except RotationError as error:
        print(f"keylab rotate: {error}", file=sys.stderr)
        return 1
    except openai.APIError as error:
        print(f"keylab rotate: the admin API refused ({type(error).__name__}: {error.message}). "
              f"Nothing changed. Check OPENAI_ADMIN_KEY and OPENAI_BASE_URL.", file=sys.stderr)
        return 1
    print(f"Done: {env_file} holds {result.new_masked}. Restart your notebook kernels and servers "
          "so they read the new key.")
    return 0
