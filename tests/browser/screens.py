"""Where the browser tests run: the browser binary, the two screen sizes, and the
screenshots they keep of the main screens."""
import os
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's `chromium` package
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot(page, name):
    """Refresh the picture of a main screen in docs/screenshots/ with ``make screenshots``
    (BROWSER_SCREENSHOTS=1); a plain ``make test`` leaves the tracked pictures alone."""
    if os.environ.get("BROWSER_SCREENSHOTS", "0") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")
