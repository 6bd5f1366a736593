"""Browser tests: the web client (gateway/static) in headless Chromium — Debian's
`chromium` package, not a downloaded browser — driven by Playwright for Python, against
the real platform that tests/e2e starts (same `platform` fixture: every service, the
gateway, RabbitMQ, PostgreSQL)."""
import os

import pytest

from tests.browser.screens import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.e2e.conftest import platform, client  # noqa: F401  (the running platform; smtp below)


@pytest.fixture(scope="session")
def smtp():
    """tests/e2e's SMTP catcher (which `platform` sends mail to); tests.smtp runs it on an
    OS thread of its own, apart from tests/e2e's."""
    from tests.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the end of the platform's log (the services' side of the story)."""
    outcome = yield
    report = outcome.get_result()
    plat = getattr(item, "funcargs", {}).get("platform")
    if report.failed and plat is not None and getattr(plat, "log", None) is not None:
        try:
            plat.log.flush()
            with open(plat.log.name, encoding="utf-8", errors="replace") as log:
                report.sections.append(("platform log (end)", log.read()[-6000:]))
        except OSError:
            pass


@pytest.fixture(scope="session")
def browser(platform):
    """Chromium, driven by Playwright on a thread of its own (see driver.py)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    from tests.browser import driver

    started = driver.Browser(CHROMIUM, CHROMIUM_ARGS).start()
    driver.active = started
    yield started.browser
    driver.active = None
    started.stop()


@pytest.fixture
def open_page(browser, platform):
    """open_page(viewport=PHONE, locale="fr-FR") -> a page in a fresh context (its own
    cookies and storage: one person), at the platform's URL. Uncaught script errors fail
    the test."""
    contexts, errors = [], []

    def make(viewport=PHONE, locale="fr-FR"):
        context = browser.new_context(base_url=platform.url, viewport=viewport, locale=locale,
                                      reduced_motion="reduce")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"

