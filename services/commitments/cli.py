"""Operator command for commitments, over RPC to the running service.

    python -m services.commitments.cli import-actors FILE.csv [--dry-run] [--batch-size N]

The CSV file has a header line with the columns external_id, name, kind, party,
mandate, level, country, constituency, contact_emails (addresses separated by ";"),
locale (see services/commitments/examples/fr_deputies_sample.csv). The import is an
idempotent upsert on external_id: running it again with the same file changes nothing and
says so. Every row is accounted for; rows with errors are listed with their file line.

Exit status: 0 all rows imported, 1 some rows had errors, 2 the file or the request was
refused, 3 the service is unavailable.
"""
import argparse
import csv
import json
import sys

from common import config as settings
from common.rpc_client import RemoteError, RpcClient, ServiceUnavailable
from services.commitments.domain import CSV_COLUMNS

OPERATOR = {"user_id": "operator", "roles": ["admin"], "moderated_questions": [], "actor_id": None}
REQUIRED_COLUMNS = ("external_id", "name", "kind", "level", "country")


def read_rows(path):
    """The data rows of a CSV file (UTF-8, optional BOM) as dicts; ValueError when the
    header lacks a required column or names an unknown one."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        unknown = [h for h in header if h not in CSV_COLUMNS]
        if missing or unknown:
            problems = []
            if missing:
                problems.append("missing columns: " + ", ".join(missing))
            if unknown:
                problems.append("unknown columns: " + ", ".join(unknown))
            raise ValueError(f"{path}: " + "; ".join(problems) + " (expected " + ",".join(CSV_COLUMNS) + ")")
        return list(reader)


def import_actors(client, rows, dry_run=False, batch_size=5000, timeout=120.0):
    """Send the rows in batches; returns the summed report (row numbers are data rows of
    the whole file)."""
    total = {"total": 0, "created": 0, "updated": 0, "unchanged": 0, "errors": [], "dry_run": dry_run}
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        report = client.call("commitments", "import_actors", OPERATOR, batch, dry_run=dry_run,
                             start_row=start + 1, timeout=timeout)
        for key in ("total", "created", "updated", "unchanged"):
            total[key] += report[key]
        total["errors"].extend(report["errors"])
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.commitments.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-actors", help="create or update public actors from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    imp.add_argument("--batch-size", type=int, default=5000, help="rows per RPC call (default 5000)")
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args.file)
    except (OSError, ValueError, csv.Error) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        with RpcClient(settings.amqp_uri(), timeout=120.0) as client:
            report = import_actors(client, rows, args.dry_run, max(1, args.batch_size))
    except RemoteError as exc:
        print(f"refused: {exc.exc_type}: {exc.exc_args[0] if exc.exc_args else exc.value}", file=sys.stderr)
        return 2
    except ServiceUnavailable as exc:
        print(f"commitments service unavailable ({exc}); is `make run` running?", file=sys.stderr)
        return 3
    for error in report["errors"]:
        fields = "; ".join(f"{k}: {v}" for k, v in error["fields"].items())
        print(f"line {error['row'] + 1} (row {error['row']}): {fields}", file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
