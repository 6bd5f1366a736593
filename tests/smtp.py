"""A real SMTP server in-process for the tests (aiosmtpd, not a mock)."""
import socket
import time
from email import policy
from email.parser import BytesParser


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on a fixed port; ``refuse`` maps an address to the SMTP reply its RCPT
    gets (e.g. "550 5.1.1 no such user"); ``stop()`` / ``start()`` take it down and up."""

    def __init__(self):
        self.port = free_port()
        self.received = []  # (rcpt_tos, parsed message)
        self.refuse = {}
        self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        return [m for rcpts, m in self.received if address in rcpts]

    def wait_for(self, address, count=1, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} mail(s) to {address} expected; got {len(self.to(address))}")
