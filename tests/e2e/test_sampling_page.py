"""The sampling point page in a real browser (Debian chromium, headless, driven by Playwright),
against `dualcode serve` and the card-platform SIMULATOR as real processes.

Without chromium or Playwright the test skips saying why; under CI=true it fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import RunningSandbox, RunningService, sandbox_env, start_sandbox, start_service

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("DUALCODE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WAIT_MS = 15_000


def browser_or_skip() -> Any:
    """Playwright's sync API module, or skip (fail under CI=true) with the reason."""
    reason = None
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        from playwright import sync_api
    except ImportError:
        reason = reason or "playwright is not installed (pip install -e '.[test]')"
        sync_api = None
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return sync_api


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("sandbox") / "sandbox.log", "--people", "30", "--his-mllp-port", "-1"
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox: RunningSandbox) -> Iterator[RunningService]:
    env = {**sandbox_env(sandbox), "DUALCODE_CARDS_TIMEOUT_S": "2", "DUALCODE_CARDS_RETRIES": "0"}
    running = start_service(tmp_path_factory.mktemp("service"), env)
    try:
        yield running
    finally:
        running.stop()


def tube_state(service: RunningService, token: str, barcode: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{service.base_url}/sampling/tubes/{barcode}", headers={"Authorization": f"Bearer {token}"}
    )
    body: dict[str, Any] = answer.json()
    return body if answer.status_code == 200 else {"status": "unknown", "filled": 0}


def test_a_worker_fills_a_tube_then_keeps_scanning_offline(
    service: RunningService, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sync_api = browser_or_skip()
    client_id, secret = service.add_client("page-point", "sampling")
    token = service.token("sampling", name="page-checker")
    people = sandbox.people(30)
    batches: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda r: batches.append(r.url) if r.url.endswith(":batch") else None)
            expect = sync_api.expect
            page.goto(f"{service.base_url}/sampling")
            page.fill("#client-id", client_id)
            page.fill("#client-secret", secret)
            page.fill("#point", "CYD0009")
            page.select_option("#pool-size", "10")
            page.click("#login-form button[type=submit]")
            expect(page.locator("#work")).to_be_visible(timeout=WAIT_MS)

            def scan(text: str) -> None:  # a keyboard-wedge scanner: keys into the focused input, then Enter
                page.keyboard.type(text)
                page.keyboard.press("Enter")

            scan("TUBE50001")
            expect(page.locator("#tube")).to_have_text("TUBE50001", timeout=WAIT_MS)
            for n, someone in enumerate(people[:10], start=1):
                scan(sandbox.issue("ehc", str(someone["id_number"])))
                if n < 10:
                    expect(page.locator("#position")).to_have_text(f"{n}/10", timeout=WAIT_MS)
                    expect(page.locator("#last-name")).to_have_text(
                        str(someone["name"])[0] + "*" * (len(str(someone["name"])) - 1)
                    )
            expect(page.locator("#message")).to_contain_text("已封管", timeout=WAIT_MS)
            expect(page.locator("#tube")).to_have_text("未扫描")
            assert tube_state(service, token, "TUBE50001")["status"] == "closed"
            expect(page.locator("#shift-count")).to_have_text("10")

            scan("TUBE50002")
            expect(page.locator("#tube")).to_have_text("TUBE50002", timeout=WAIT_MS)
            scan("这不是任何码")
            expect(page.locator("#message")).to_have_class("message error", timeout=WAIT_MS)
            expect(page.locator("#message")).to_contain_text("无法识别该码")
            assert page.evaluate("document.body.dataset.beep") == "error"
            page.screenshot(path=str(tmp_path / "error.png"))

            context.set_offline(True)
            for n, someone in enumerate(people[10:13], start=1):
                scan(sandbox.issue("ehc-static", str(someone["id_number"])))
                expect(page.locator("#queue-count")).to_have_text(str(n), timeout=WAIT_MS)
            expect(page.locator("#net")).to_have_text("离线")
            expect(page.locator("#position")).to_have_text("3/10")
            assert tube_state(service, token, "TUBE50002")["filled"] == 0  # nothing reached the server
            page.screenshot(path=str(tmp_path / "offline.png"))

            context.set_offline(False)
            expect(page.locator("#queue-count")).to_have_text("0", timeout=WAIT_MS)
            expect(page.locator("#message")).to_contain_text("新增 3 条", timeout=WAIT_MS)
            expect(page.locator("#shift-count")).to_have_text("13")
            page.wait_for_timeout(3500)  # one more upload round: nothing is sent again
            assert len(batches) == 1
            state = tube_state(service, token, "TUBE50002")
            assert (state["filled"], state["status"]) == (3, "open")
            expect(page.locator("#position")).to_have_text("3/10")
            page.screenshot(path=str(tmp_path / "online.png"))
            assert errors == []
            context.close()
        finally:
            browser.close()
