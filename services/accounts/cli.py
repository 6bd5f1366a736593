"""Operator commands for accounts, over RPC to the running service.

    python -m services.accounts.cli grant --email a@b.c --role moderator --questions ID,ID
    python -m services.accounts.cli revoke --email a@b.c --role admin
"""
import argparse
import json
import sys

from common import config as settings
from common.rpc_client import RemoteError, RpcClient, ServiceUnavailable


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.accounts.cli")
    parser.add_argument("action", choices=["grant", "revoke"])
    parser.add_argument("--email", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--questions", default="", help="comma-separated question ids (moderators)")
    parser.add_argument("--actor", default=None, help="public actor id (officials)")
    args = parser.parse_args(argv)
    request = {"email": args.email, "role": args.role,
               "question_ids": [q for q in args.questions.split(",") if q], "actor_id": args.actor}
    method = "grant_role" if args.action == "grant" else "revoke_role"
    try:
        with RpcClient(settings.amqp_uri()) as client:
            user = client.call("accounts", method, request)
    except RemoteError as exc:
        print(f"refused: {exc.exc_type}: {exc.exc_args[0] if exc.exc_args else exc.value}", file=sys.stderr)
        return 2
    except ServiceUnavailable as exc:
        print(f"accounts service unavailable ({exc}); is `make run` running?", file=sys.stderr)
        return 3
    print(json.dumps(user, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
