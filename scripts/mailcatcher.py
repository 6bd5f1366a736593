"""A development mail catcher: an SMTP server that keeps every mail it receives as an
``.eml`` file instead of delivering it, and a terminal reader for them.

    python scripts/mailcatcher.py serve --port 1025 --dir var/mail   # what `make run` starts
    python scripts/mailcatcher.py list [--limit 20]                  # newest first
    python scripts/mailcatcher.py show 1 [--html | --raw]           # 1 = the newest
    python scripts/mailcatcher.py clear

Point the notifications service at it with SMTP_HOST=127.0.0.1 SMTP_PORT=1025
SMTP_TLS=none (the defaults). Needs ``aiosmtpd`` to serve (not to read).
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("MAILCATCHER_DIR", ROOT / "var" / "mail"))


class MailStore:
    """aiosmtpd handler writing each received mail to ``<dir>/<utc time>-<n>.eml`` (written
    to a temporary name, then renamed: a reader never sees half a mail)."""

    def __init__(self, directory: Path | str, echo=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        self.save(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def save(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        if isinstance(content, str):
            content = content.encode("utf-8")
        header = (f"X-Mailcatcher-From: {mail_from}\r\nX-Mailcatcher-To: {', '.join(rcpt_tos)}\r\n"
                  f"X-Mailcatcher-Received: {datetime.now(timezone.utc).isoformat()}\r\n").encode()
        with self._lock:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            name = f"{stamp}-{os.getpid()}-{next(self._counter):06d}.eml"
            tmp = self.directory / f".{name}.tmp"
            tmp.write_bytes(header + content)
            path = self.directory / name
            tmp.rename(path)
        if self.echo:
            message = parse(path)
            self.echo(f"[mail] {message['From']} -> {', '.join(rcpt_tos)}: {message['Subject']}  ({path.name})")
        return path


def start_server(directory: Path | str, host: str = "127.0.0.1", port: int = 1025, echo=None):
    """Start the SMTP server in a background thread; returns the aiosmtpd controller
    (``.stop()`` it)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:  # pragma: no cover - depends on the environment
        raise SystemExit("the mail catcher needs aiosmtpd: pip install aiosmtpd==1.4.6") from None
    controller = Controller(MailStore(directory, echo), hostname=host, port=port)
    controller.start()
    return controller


def mails(directory: Path | str) -> list[Path]:
    """Stored mails, newest first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.eml")), key=lambda p: p.name, reverse=True)


def parse(path: Path):
    with open(path, "rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


def text_part(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return part.get_content()
    html = message.get_body(preferencelist=("html",))
    return html.get_content() if html is not None else ""


def html_part(message) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


def cmd_serve(args) -> int:
    controller = start_server(args.dir, args.host, args.port, echo=lambda line: print(line, flush=True))
    print(f"mail catcher listening on smtp://{args.host}:{args.port}, storing mails in {Path(args.dir).resolve()}\n"
          f"  read them: python scripts/mailcatcher.py list | show N", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set():
            stop.wait(1.0)
    finally:
        controller.stop()
    return 0


def cmd_list(args) -> int:
    found = mails(args.dir)
    if not found:
        print(f"no mail in {args.dir}")
        return 0
    for number, path in enumerate(found[:args.limit], start=1):
        message = parse(path)
        received = message.get("X-Mailcatcher-Received", "")[:19].replace("T", " ")
        print(f"{number:>4}  {received}  {str(message['To'] or '')[:40]:<40}  {message['Subject'] or ''}")
    if len(found) > args.limit:
        print(f"... and {len(found) - args.limit} older (--limit)")
    return 0


def cmd_show(args) -> int:
    found = mails(args.dir)
    if not 1 <= args.number <= len(found):
        print(f"no mail number {args.number} (there are {len(found)}; 1 is the newest)", file=sys.stderr)
        return 1
    path = found[args.number - 1]
    if args.raw:
        sys.stdout.write(path.read_bytes().decode("utf-8", "replace"))
        return 0
    message = parse(path)
    for name in ("Date", "From", "To", "Subject", "List-Unsubscribe"):
        if message[name]:
            print(f"{name}: {message[name]}")
    print(f"File: {path}\n")
    print(html_part(message) if args.html else text_part(message))
    return 0


def cmd_clear(args) -> int:
    found = mails(args.dir)
    for path in found:
        path.unlink()
    print(f"removed {len(found)} mail(s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/mailcatcher.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="where mails are kept (default var/mail)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the SMTP server in the foreground")
    serve.add_argument("--host", default=os.environ.get("MAILCATCHER_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("MAILCATCHER_PORT", "1025")))
    serve.add_argument("--dir", default=argparse.SUPPRESS, help="where to store mails")
    listing = sub.add_parser("list", help="the stored mails, newest first")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--dir", default=argparse.SUPPRESS)
    show = sub.add_parser("show", help="one mail: headers and text part (1 = newest)")
    show.add_argument("number", type=int)
    show.add_argument("--html", action="store_true", help="the HTML part instead of the text")
    show.add_argument("--raw", action="store_true", help="the whole .eml as received")
    show.add_argument("--dir", default=argparse.SUPPRESS)
    clear = sub.add_parser("clear", help="delete every stored mail")
    clear.add_argument("--dir", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return {"serve": cmd_serve, "list": cmd_list, "show": cmd_show, "clear": cmd_clear}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
