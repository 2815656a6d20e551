"""Browser fixtures for the review console: the system Chromium through Playwright, a
screenshot under test-artifacts/ whenever a test fails, and axe-core's accessibility check."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path.home() / ".cache" / "narrator" / "axe" / "package" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Missing it fails the test — unless NARRATOR_ALLOW_NO_BROWSER=1
    says this machine is known to have none, when it skips with the reason."""
    if not CHROMIUM.exists():
        if os.environ.get("NARRATOR_ALLOW_NO_BROWSER") == "1":
            pytest.skip("no /usr/bin/chromium and NARRATOR_ALLOW_NO_BROWSER=1: console browser tests not run")
        pytest.fail("no /usr/bin/chromium: run 'scripts/setup.sh --test' as root (apt-get install chromium)")
    if not AXE.exists():
        pytest.fail(f"no axe-core at {AXE}: run 'scripts/setup.sh --test' (npm pack axe-core@4)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A fresh browser context (its own cookies) at 1280×800; a failing test leaves its screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def serious_violations(page: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document)).violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def check_accessible(page: Any, shots: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """No serious/critical axe finding at 1280×800 nor at a 390 px phone width; optionally keep
    a screenshot of each for a person to look at."""
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        if shots:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"console-{shots}-{width}.png"), full_page=True)
        found = serious_violations(page)
        assert not found, f"{page.url} at {width}×{height}: {found}"
    page.set_viewport_size({"width": 1280, "height": 800})
