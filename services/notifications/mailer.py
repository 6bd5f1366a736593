"""E-mail over SMTP: settings (host, port, TLS, credentials, sender), MIME composition
(plain text + HTML, RFC 8058 one-click unsubscribe headers) and a reusable connection.

Under eventlet ``smtplib`` is green (its sockets are patched), so a slow server does not
stall the service; each operation has a timeout.
"""
from __future__ import annotations

import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Mapping

TLS_MODES = ("none", "starttls", "ssl")


def _text(value):
    return None if value is None else str(value)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    tls: str = "none"                 # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    sender: str = "Civic platform <no-reply@civic.localhost>"
    timeout: float = 10.0

    #: config key (in ``NOTIFICATIONS.smtp``) -> environment variable read when the key is absent
    ENV = {"host": "SMTP_HOST", "port": "SMTP_PORT", "tls": "SMTP_TLS", "username": "SMTP_USERNAME",
           "password": "SMTP_PASSWORD", "from": "MAIL_FROM", "timeout": "SMTP_TIMEOUT"}

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, environ: Mapping[str, str] = os.environ) -> "SmtpSettings":
        """``NOTIFICATIONS.smtp`` {host, port, tls, username, password, from, timeout}; a key
        that is absent or empty falls back to its environment variable, then the default."""
        section, defaults = dict(section or {}), cls()

        def pick(key, default):
            value = section.get(key)
            if _blank(value):
                value = environ.get(cls.ENV[key])
            return default if _blank(value) else value

        tls = str(pick("tls", defaults.tls)).strip().lower()
        if tls not in TLS_MODES:
            raise ValueError(f"NOTIFICATIONS.smtp.tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        return cls(host=str(pick("host", defaults.host)), port=int(pick("port", defaults.port)), tls=tls,
                   username=_text(pick("username", None)), password=_text(pick("password", None)),
                   sender=str(pick("from", defaults.sender)), timeout=float(pick("timeout", defaults.timeout)))

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.sender)[1] or self.sender

    @property
    def domain(self) -> str:
        return self.envelope_from.rpartition("@")[2] or "localhost"


def build_message(*, sender: str, to: str, display_name: str | None, subject: str, text: str, html: str,
                  language: str, unsubscribe_url: str | None, kind: str, reference: str,
                  domain: str = "localhost") -> EmailMessage:
    """A multipart/alternative mail. ``List-Unsubscribe`` + ``List-Unsubscribe-Post``
    (RFC 8058) let mail clients unsubscribe in one click."""
    msg = EmailMessage()
    msg["From"] = sender
    try:
        msg["To"] = Address(display_name=" ".join((display_name or "").split())[:100], addr_spec=to)
    except (ValueError, IndexError):
        msg["To"] = to
    msg["Subject"] = re.sub(r"[ \t\r\n\f\v]+", " ", subject).strip()
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=reference, domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Civic-Kind"] = kind
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg["Content-Language"] = language  # after the parts: making them moves Content-* headers down
    return msg


class SmtpConnection:
    """One SMTP session reused for several mails; reconnects after an error. ``send``
    raises smtplib's exceptions (see ``domain.classify_smtp_error``)."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp = None
        self.unreachable = False  # the last try could not even open a session (server down, refused)

    def _connect(self):
        s = self.settings
        if s.tls == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            self._close(smtp)
            raise
        return smtp

    def send(self, message: EmailMessage, to: str) -> None:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except BaseException:
                self.unreachable = True
                raise
            self.unreachable = False
        try:
            self._smtp.send_message(message, from_addr=self.settings.envelope_from, to_addrs=[to])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
            raise  # the session is still good (smtplib reset it)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            self._close(smtp)

    @staticmethod
    def _close(smtp):
        try:
            smtp.quit()
        except Exception:
            try:
                smtp.close()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
