"""A real SMTP server in-process for the tests (aiosmtpd, not a mock)."""
import socket
import time
from email import policy
from email.parser import BytesParser


def _eventlet_patcher():
    """eventlet's patcher when the process is monkey-patched (the nameko tests), else None."""
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return None
    return patcher if patcher.is_monkey_patched("thread") else None


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
        self._thread = None  # (OS thread, its stop event) under eventlet

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
        """Serve on an OS thread of its own when eventlet has patched the process.

        aiosmtpd runs an asyncio loop in a thread; under eventlet that thread is a greenlet
        of the main OS thread, and asyncio's "running loop" is per OS thread: once one
        catcher (tests/e2e's, say) runs there, a second cannot start ("Cannot run the event
        loop while another loop is running"). A real thread, whose own eventlet hub keeps
        the server's green thread going, keeps each catcher apart."""
        patcher = _eventlet_patcher()
        if patcher is None:
            self._start_controller()
            return
        import eventlet

        real_threading = patcher.original("threading")
        started, stopping, failures = real_threading.Event(), real_threading.Event(), []

        def serve():
            try:
                self._start_controller()
            except BaseException as exc:  # reported to the caller below
                failures.append(exc)
                started.set()
                return
            started.set()
            while not stopping.is_set():
                eventlet.sleep(0.05)  # this thread's hub runs the server's (green) thread
            self._stop_controller()

        thread = real_threading.Thread(target=serve, name=f"smtp-{self.port}", daemon=True)
        thread.start()
        while not started.is_set():
            eventlet.sleep(0.02)
        if failures:
            raise failures[0]
        self._thread = (thread, stopping)

    def stop(self):
        if self._thread is not None:
            thread, stopping = self._thread
            self._thread = None
            stopping.set()
            import eventlet

            while thread.is_alive():
                eventlet.sleep(0.02)
            return
        self._stop_controller()

    def _start_controller(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def _stop_controller(self):
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
