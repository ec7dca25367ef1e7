"""Opens a dupkey HTML report in headless Chromium and says what a reader would see.

    python scripts/browser_check.py REPORT.html SCREENSHOT.png [HEIGHT]

Prints one JSON object: console messages of level error or warning, uncaught page errors,
requests the page made beyond its own file, the number of finding cards and their codes, each
chart's id with its number of bars, and the page's title. The caller (a Rust test) decides what
is right; this script only looks. Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM). The
screenshot is of the whole page, or of its first HEIGHT pixels when HEIGHT is given.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(report, screenshot, height=None):
    url = "file://" + os.path.abspath(report)
    seen = {"console": [], "page_errors": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=FLAGS,
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on(
            "console",
            lambda m: m.type in ("error", "warning")
            and seen["console"].append(f"{m.type}: {m.text}"),
        )
        page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
        page.on(
            "request",
            lambda r: r.url != url and seen["requests"].append(r.url),
        )
        page.goto(url, wait_until="load")
        seen["title"] = page.title()
        seen["findings"] = page.eval_on_selector_all(
            "[data-finding]", "els => els.map(e => e.dataset.code)"
        )
        seen["charts"] = page.eval_on_selector_all(
            "[data-chart]",
            "els => els.map(e => ({id: e.id, bars: e.querySelectorAll('[data-bar]').length,"
            " visible: e.getBoundingClientRect().height > 40}))",
        )
        if height:
            page.screenshot(
                path=screenshot, full_page=True, clip={"x": 0, "y": 0, "width": 1200, "height": height}
            )
        else:
            page.screenshot(path=screenshot, full_page=True)
        seen["copy_buttons"] = page.locator("button.copy").count()
        if seen["copy_buttons"]:
            page.locator("button.copy").first.click()
            try:  # the clipboard answers asynchronously
                page.wait_for_function(
                    "document.querySelector('button.copy').textContent !== 'Copy'", timeout=3000
                )
            except Exception:
                pass
            seen["copy_label"] = page.locator("button.copy").first.inner_text()
        page.emulate_media(media="print")
        seen["print_hides_buttons"] = page.eval_on_selector_all(
            "button.copy", "els => els.every(e => getComputedStyle(e).display === 'none')"
        )
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
