"""The fit page in a real browser: headless Chromium (Debian's package) driven by Playwright.

CI installs Chromium with apt-get when it is missing (``.ci/run``); without a
Chromium binary, or without Playwright, the test is skipped and says why.
"""

import os
import shutil
from pathlib import Path

import pytest
from conftest import TINY

from sklearn_deepprune.cli import main

CHROMIUM = os.environ.get("DEEPPRUNE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECTIONS = ("data", "accuracy", "kernels", "reproduce")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium binary at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _open(browser, path: Path):
    """The page loaded from file://, and the console errors and failed requests on the way."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors


@pytest.mark.slow
def test_fit_page_in_chromium(browser, tmp_path):
    data = tmp_path / "sim"
    assert main(["simulate", "2", "-o", str(data), "--n-samples", "200", "--length", "50"]) == 0
    model = tmp_path / "model"
    assert main(["fit", str(data), "-o", str(model), "-q", "--n-kernels", "4", *TINY]) == 0

    page, errors = _open(browser, model / "report.html")
    assert errors == []
    assert page.evaluate("document.documentElement.dataset.complete") == "true"
    widths = page.evaluate("Array.from(document.images, image => image.naturalWidth)")
    # ROC/PR and stages, per kernel two logos and a histogram, then the JASPAR logos
    assert len(widths) >= 2 + 3 * 4 and all(width > 0 for width in widths), widths
    assert page.evaluate("Array.from(document.images).every(image => image.complete)")
    for section in SECTIONS:
        assert page.locator(f"section#{section} h2").is_visible(), section
    assert page.locator("#kernel-table tbody tr.kernel").count() == 4
    assert page.locator("#parts tbody tr").count() == 3  # train, validation, test
    assert "kernels" in page.locator("#reading").inner_text()

    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    page.close()


@pytest.mark.slow
def test_incomplete_page_in_chromium(browser, tmp_path):
    data = tmp_path / "sim"
    assert main(["simulate", "2", "-o", str(data), "--n-samples", "120", "--length", "40"]) == 0
    model = tmp_path / "model"
    argv = ["fit", str(data), "-o", str(model), "-q", "--no-matches", *TINY]
    assert main([*argv, "--n-kernels", "2"]) == 0
    (model / "model.deepprune").write_bytes(b"broken")
    assert main(["report", str(model), "--no-matches"]) == 1

    page, errors = _open(browser, model / "report.html")
    assert errors == []
    assert page.title().endswith("(incomplete)")
    banner = page.locator("#incomplete")
    assert banner.is_visible() and "model.deepprune" in banner.inner_text()
    assert page.locator("#kernel-table tbody tr.kernel").count() == 2
    widths = page.evaluate("Array.from(document.images, image => image.naturalWidth)")
    assert widths and all(width > 0 for width in widths)
    page.close()
