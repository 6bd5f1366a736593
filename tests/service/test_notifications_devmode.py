"""What a newcomer gets from ``make run``: the notifications service on the embedded
SQLite store (no DATABASE_URL) writing to the development mail catcher
(``scripts/mailcatcher.py``), whose ``list`` / ``show`` read the mails in a terminal."""
import importlib.util
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from common.migrations import upgrade
from services.notifications.service import NotificationsService
from tests.service.test_notifications_service import (  # noqa: F401  (helpers)
    proposal_event, publish, service_config, tag, wait)
from tests.smtp import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mailcatcher.py"


@pytest.fixture(scope="module")
def mailcatcher():
    spec = importlib.util.spec_from_file_location("mailcatcher", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def catcher(mailcatcher, tmp_path):
    port = free_port()
    controller = mailcatcher.start_server(tmp_path / "mail", "127.0.0.1", port)
    yield port, tmp_path / "mail"
    controller.stop()


def test_mail_catcher_stores_and_lists_newest_first(mailcatcher, catcher, capsys):
    port, directory = catcher
    for n in (1, 2):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@civic.test", f"zoé{n}@example.org", f"Résumé n°{n}"
        msg.set_content(f"Bonjour n°{n} — ça marche")
        msg.add_alternative(f"<p>Bonjour n°{n}</p>", subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(msg)
    wait(lambda: len(mailcatcher.mails(directory)) == 2, what="two .eml files")
    assert mailcatcher.main(["--dir", str(directory), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Résumé n°2" in lines[0] and "Résumé n°1" in lines[1]
    assert mailcatcher.main(["show", "2", "--dir", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "Subject: Résumé n°1" in out and "Bonjour n°1 — ça marche" in out
    assert mailcatcher.main(["show", "1", "--html", "--dir", str(directory)]) == 0
    assert "<p>Bonjour n°2</p>" in capsys.readouterr().out
    assert mailcatcher.main(["show", "9", "--dir", str(directory)]) == 1
    assert mailcatcher.main(["clear", "--dir", str(directory)]) == 0
    assert mailcatcher.mails(directory) == []


def test_service_on_sqlite_mails_the_catcher(run_service, mailcatcher, catcher, amqp_uri, rpc, tmp_path, capsys):
    port, directory = catcher
    url = f"sqlite:///{tmp_path / 'notifications.sqlite3'}"
    upgrade("notifications", url)

    class Smtp:
        pass

    Smtp.port = port
    run_service(NotificationsService, {"DATABASE_URLS": {"notifications": url},
                                       "NOTIFICATIONS": service_config(Smtp)})
    user_id = f"user-{tag()}"
    publish(amqp_uri, "accounts", "user_registered", {"user_id": user_id, "email": f"{user_id}@example.org",
                                                      "display_name": "Zoé", "country": "FR", "language": "fr"})
    wait(lambda: rpc.notifications.get_preferences(user_id), what="service up")
    wait(lambda: _known(url, user_id), what="recipient")
    publish(amqp_uri, "proposals", "proposal_refused", proposal_event(user_id, "refused", refusal_reason="rudeness"))
    wait(lambda: mailcatcher.mails(directory), what="the mail in the catcher")
    assert mailcatcher.main(["--dir", str(directory), "show", "1"]) == 0
    out = capsys.readouterr().out
    assert f"To: Zoé <{user_id}@example.org>" in out
    assert "Subject: Votre proposition n'a pas été retenue" in out
    assert "La raison : elle contient des propos irrespectueux." in out
    assert "List-Unsubscribe: <http://civic.test/api/v1/unsubscribe/" in out
    page = rpc.notifications.list_notifications(user_id, {"unread": True})
    assert page["total"] == 1 and page["items"][0]["kind"] == "proposal_refused"
    report = rpc.notifications.delivery_report({"status": "sent"})
    assert report["items"][0]["to"] == f"{user_id}@example.org" and report["counts"]["sent"] == 1


def _known(url, user_id):
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT email FROM recipients WHERE user_id = :u"), {"u": user_id}).scalar()
    finally:
        engine.dispose()


def test_smtp_connection_logs_in_with_the_configured_credentials(tmp_path):
    """``username`` / ``password`` from the configuration are used (SMTP AUTH), and a
    refused login is a temporary failure to retry, not a bounce."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from services.notifications import domain
    from services.notifications.mailer import SmtpConnection, SmtpSettings

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((session.authenticated, list(envelope.rcpt_tos)))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.login == b"civic" and auth_data.password == b"s3cret")

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "no-reply@civic.test", "zoe@example.org", "hello"
        msg.set_content("hello")
        good = SmtpSettings.from_config({"host": "127.0.0.1", "port": port, "username": "civic", "password": "s3cret",
                                         "from": "Civic <no-reply@civic.test>"}, {})
        with SmtpConnection(good) as connection:
            connection.send(msg, "zoe@example.org")
            connection.send(msg, "zoe@example.org")  # the same session
        assert received == [(True, ["zoe@example.org"])] * 2
        bad = SmtpSettings.from_config({"host": "127.0.0.1", "port": port, "username": "civic", "password": "nope",
                                        "timeout": 1}, {})
        # (aiosmtpd stalls a failed login rather than answering 535: either way it is refused)
        with SmtpConnection(bad) as connection, pytest.raises((smtplib.SMTPException, OSError)) as err:
            connection.send(msg, "zoe@example.org")
        assert not received[2:]
        assert domain.classify_smtp_error(err.value, "zoe@example.org")[0] == "retry"
    finally:
        controller.stop()
