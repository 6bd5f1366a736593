"""Playwright's sync API on an OS thread of its own, for a test process patched by eventlet.

tests/conftest.py monkey-patches the process for nameko: every "thread" is then a greenlet
of the main OS thread. Two things collide there with Playwright's sync API, which runs an
asyncio loop in a greenlet:

* asyncio's "running loop" is kept per OS thread, and tests/e2e's SMTP server (aiosmtpd,
  an asyncio loop on a green thread) leaves its loop marked as running on the main thread:
  Playwright then refuses to start ("inside the asyncio loop"), and would confuse that
  server's loop with its own;
* eventlet's hub re-parents every greenlet that yields to it, so Playwright's dispatcher
  greenlet ends inside the hub and ``stop()`` would wait forever.

So Playwright lives on one real thread (started with eventlet's *original* threading),
which gets its own running loop and its own eventlet hub. The tests keep writing ordinary
Playwright code: they hold proxies whose method calls run on that thread while the test's
greenlet waits cooperatively (on a pipe, through the hub), so the platform's green threads
in the test process — the SMTP catcher, event recorders — keep running meanwhile.
Without eventlet the same code runs on a plain thread.
"""
import os
import time

try:
    import eventlet
    from eventlet import hubs, patcher, semaphore
    PATCHED = patcher.is_monkey_patched("thread")
except ImportError:  # pragma: no cover
    PATCHED = False

if PATCHED:
    _threading = patcher.original("threading")
    _queue = patcher.original("queue")
    _os = patcher.original("os")
else:  # pragma: no cover
    import queue as _queue
    import threading as _threading
    _os = os

CALL_TIMEOUT = 180  # seconds: a hung call fails the test instead of hanging the run


class Remote:
    """One OS thread that owns Playwright; ``call(fn, ...)`` runs fn there."""

    def __init__(self):
        self._jobs = _queue.Queue()
        self._read, self._write = _os.pipe()
        self._lock = semaphore.Semaphore() if PATCHED else _threading.Lock()
        self._thread = _threading.Thread(target=self._serve, name="playwright", daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, kwargs, slot = job
            try:
                slot.append((True, fn(*args, **kwargs)))
            except BaseException as exc:  # handed to the caller
                slot.append((False, exc))
            _os.write(self._write, b"x")

    def call(self, fn, *args, **kwargs):
        slot = []
        with self._lock:
            self._jobs.put((fn, args, kwargs, slot))
            if PATCHED:
                hubs.trampoline(self._read, read=True, timeout=CALL_TIMEOUT,
                                timeout_exc=TimeoutError(f"browser call {fn!r} took over {CALL_TIMEOUT}s"))
            _os.read(self._read, 1)
        ok, value = slot[0]
        if ok:
            return value
        raise value

    def close(self):
        self._jobs.put(None)
        deadline = time.monotonic() + 10
        while self._thread.is_alive() and time.monotonic() < deadline:
            eventlet.sleep(0.02) if PATCHED else time.sleep(0.02)
        _os.close(self._read)
        _os.close(self._write)


def _playwright_object(value):
    return type(value).__module__.startswith("playwright.") and not isinstance(value, BaseException)


def wrap(value, remote):
    if isinstance(value, list):
        return [wrap(v, remote) for v in value]
    if isinstance(value, tuple):
        return tuple(wrap(v, remote) for v in value)
    return Proxy(value, remote) if _playwright_object(value) else value


def unwrap(value):
    if isinstance(value, Proxy):
        return object.__getattribute__(value, "_obj")
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    return value


class Proxy:
    """A Playwright object whose methods run on the Playwright thread. Attributes and
    properties are read directly (they hold no I/O); callbacks given to it (page.on,
    page.route) run on the Playwright thread with the real objects."""

    __slots__ = ("_obj", "_remote")

    def __init__(self, obj, remote):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_remote", remote)

    def __getattr__(self, name):
        obj = object.__getattribute__(self, "_obj")
        remote = object.__getattribute__(self, "_remote")
        value = getattr(obj, name)
        if not callable(value):
            return wrap(value, remote)

        def method(*args, **kwargs):
            return wrap(remote.call(value, *unwrap(args), **unwrap(kwargs)), remote)
        method.__name__ = name
        return method

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_obj')!r} on the playwright thread>"


class Browser:
    """Playwright and a Chromium, started on their own thread: ``start()``, then
    ``.browser`` (a proxy) and ``expect()``; ``stop()`` at the end."""

    def __init__(self, executable_path, args):
        self.executable_path, self.args = executable_path, args
        self.remote = None
        self._pw = None
        self.browser = None

    def start(self):
        from playwright.sync_api import sync_playwright

        self.remote = Remote()
        try:
            self._pw = self.remote.call(lambda: sync_playwright().start())
            self.browser = wrap(self.remote.call(self._pw.chromium.launch, executable_path=self.executable_path,
                                                 args=self.args), self.remote)
        except BaseException:
            self.stop()
            raise
        return self

    def expect(self, target, message=None):
        from playwright.sync_api import expect

        return wrap(self.remote.call(expect, unwrap(target), message), self.remote)

    def stop(self):
        if self.remote is None:
            return
        try:
            if self.browser is not None:
                self.browser.close()
            if self._pw is not None:
                self.remote.call(_stop_playwright, self._pw)
        finally:
            self.remote.close()
            self.remote = None


active = None  # the Browser the fixtures started


def expect(target, message=None):
    """Playwright's expect(), on the Playwright thread: expect(page.locator(...)).to_be_visible()."""
    return active.expect(target, message)


def _stop_playwright(pw):
    """Stop Playwright's driver (on its thread). Under eventlet the dispatcher greenlet has
    been re-parented to the hub: let the hub run it to its end, then let Playwright close
    its loop. Without monkey-patching this is a plain stop()."""
    manager = getattr(pw.stop, "__self__", None)
    if not PATCHED or manager is None or not hasattr(manager, "_dispatcher_fiber"):
        pw.stop()
        return
    fiber = manager._dispatcher_fiber
    client = manager._client
    if client is not None and not client._close_promise.done():
        client._transport.request_stop()
    if not fiber.dead:
        hubs.get_hub().schedule_call_global(0, fiber.switch)
        deadline = time.monotonic() + 15
        while not fiber.dead and time.monotonic() < deadline:
            eventlet.sleep(0.02)
    manager._client = None  # the dispatcher is done: stop() only closes the loop now
    pw.stop()
