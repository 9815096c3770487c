"""The user's journey in a real browser, against the development instance.

Starts ``jk_tools.develop`` (Home Assistant with three virtual balancers) on a
free port with a fresh configuration, drives Debian's Chromium with Playwright
through discovery, the password, the device page and its controls, and saves a
screenshot of every step in ``artifacts/browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.parse
import urllib.request

from playwright.async_api import Page, Route, async_playwright, expect
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Flags for a headless Chromium on a machine without network or sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT = 30_000  # ms
BRAND = ROOT / "custom_components" / "jk_balancer" / "brand"
# Home Assistant 2026.3+ serves a custom integration's brand/ folder with the
# brands CDN's fallbacks; the 2026.2 frontend asks the CDN, which the test
# stands in for (the machine has no internet).
BRAND_FALLBACKS = {
    "logo.png": ["icon.png"],
    "icon@2x.png": ["icon.png"],
    "logo@2x.png": ["logo.png", "icon.png"],
    "dark_icon.png": ["icon.png"],
    "dark_logo.png": ["dark_icon.png", "logo.png", "icon.png"],
    "dark_icon@2x.png": ["icon@2x.png", "icon.png"],
    "dark_logo@2x.png": ["dark_icon@2x.png", "logo@2x.png", "logo.png", "icon.png"],
}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium (/usr/bin/chromium) is missing: run scripts/setup",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Instance:
    """A running development instance and its REST API."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self._token: str | None = None

    def _call(self, path: str, data: Any = None, *, form: bool = False) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        body = None
        if data is not None and form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def login(self) -> None:
        """Get an API token the way the frontend does (dev / dev)."""
        client = self.base + "/"
        flow = self._call(
            "/auth/login_flow",
            {
                "client_id": client,
                "handler": ["homeassistant", None],
                "redirect_uri": client,
            },
        )
        result = self._call(
            f"/auth/login_flow/{flow['flow_id']}",
            {"username": "dev", "password": "dev", "client_id": client},
        )
        token = self._call(
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": client,
            },
            form=True,
        )
        self._token = token["access_token"]

    def state(self, entity_id: str) -> str:
        value: str = self._call(f"/api/states/{entity_id}")["state"]
        return value

    async def wait_for_state(self, page: Page, entity_id: str, expected: str) -> None:
        """Wait until Home Assistant holds ``expected`` (the device confirmed it)."""
        deadline = time.monotonic() + 15
        while (state := self.state(entity_id)) != expected:
            assert time.monotonic() < deadline, (
                f"{entity_id} is {state}, not {expected}"
            )
            await page.wait_for_timeout(200)


@pytest.fixture
def instance(tmp_path: Path, socket_enabled: None) -> Iterator[Instance]:
    """The development instance on a free port; stopped (Ctrl-C) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jk_tools.develop",
            "--config",
            str(tmp_path / "config"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Instance(process, port)
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    for line in process.stdout:
        running.output.append(line)
        if "Home Assistant is up" in line:
            break
        assert time.monotonic() < deadline, "".join(running.output)
    else:
        pytest.fail("development instance ended:\n" + "".join(running.output))
    running.login()
    yield running
    # Ctrl-C in the terminal: the whole process group gets SIGINT.
    os.killpg(process.pid, signal.SIGINT)
    try:
        status = process.wait(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    rest = process.stdout.read()
    assert status == 0, rest[-3000:]
    assert "Traceback" not in rest, rest[-3000:]


async def serve_brand_images(route: Route) -> None:
    """The brand CDN, for this integration: our brand/ files."""
    parts = urllib.parse.urlsplit(route.request.url).path.split("/")
    domain, image = parts[-2], parts[-1]
    if domain == "jk_balancer":
        for candidate in (image, *BRAND_FALLBACKS.get(image, [])):
            if (BRAND / candidate).is_file():
                await route.fulfill(path=BRAND / candidate, content_type="image/png")
                return
    await route.fulfill(status=404)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png")


async def test_user_journey(instance: Instance) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        await page.route("https://brands.home-assistant.io/**", serve_brand_images)
        page.set_default_timeout(STEP_TIMEOUT)
        expect.set_options(timeout=STEP_TIMEOUT)

        # Log in with the documented development login.
        await page.goto(instance.base + "/")
        await page.get_by_role("textbox", name="Username").fill("dev")
        await page.get_by_role("textbox", name="Password").fill("dev")
        await shot(page, "01_login")
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url("**/home/**")

        # The three virtual balancers are discovered.
        await page.goto(instance.base + "/config/integrations/dashboard")
        cards = page.locator("ha-config-flow-card")
        for name in ("Garage 12V", "House bank", "Rack 24S"):
            await expect(cards.filter(has_text=name)).to_be_visible()
        # Each card shows the integration's brand icon, loaded.
        icon = cards.filter(has_text="House bank").locator("img").first
        await expect(icon).to_have_attribute("src", re.compile(r"jk_balancer/"))
        await page.wait_for_function(
            "image => image.complete && image.naturalWidth > 0",
            arg=await icon.element_handle(),
        )
        await shot(page, "02_discovered")

        # The card asks for the device password; a wrong one is refused.
        await (
            cards.filter(has_text="House bank")
            .get_by_role("button", name="Add")
            .click()
        )
        dialog = page.locator("dialog-data-entry-flow")
        await expect(dialog.get_by_text("Password of House bank").first).to_be_visible()
        await shot(page, "03_password_form")
        password = dialog.get_by_role("textbox", name="Password")
        await password.fill("0000")
        await dialog.get_by_role("button", name="Submit").click()
        await expect(dialog.get_by_text("Wrong password")).to_be_visible()
        await shot(page, "04_wrong_password")

        # The right one creates the device.
        await password.fill("1234")
        await dialog.get_by_role("button", name="Submit").click()
        await expect(dialog.get_by_text("JK-B2A16S")).to_be_visible()
        await shot(page, "05_device_created")
        await dialog.get_by_role("button", name="Skip and finish").click()

        # The device page shows every cell.
        await page.set_viewport_size({"width": 1400, "height": 2700})
        await page.goto(instance.base + "/config/devices/dashboard")
        await page.get_by_text("House bank").first.click()
        await page.wait_for_url("**/config/devices/device/**")
        for cell in range(1, 17):
            await expect(
                page.get_by_text(f"Cell {cell} voltage", exact=True)
            ).to_be_visible()
        await expect(page.get_by_text("Wire resistance too high")).to_be_visible()
        await shot(page, "06_device_page")

        # The balancer switch writes to the device, off and on again.
        switch = page.get_by_role("switch", name="Balancer")
        await expect(switch).to_be_checked()
        await switch.click()
        await expect(switch).not_to_be_checked()
        await instance.wait_for_state(page, "switch.house_bank_balancer", "off")
        await shot(page, "07_balancer_off")
        await switch.click()
        await expect(switch).to_be_checked()
        await instance.wait_for_state(page, "switch.house_bank_balancer", "on")
        await shot(page, "08_balancer_on")

        # The trigger delta changes and reads back from the device.
        trigger = (
            page.locator("hui-number-entity-row")
            .filter(has_text="Balance trigger voltage")
            .locator("input")
        )
        await expect(trigger).to_have_value("5")
        await trigger.fill("8")
        await trigger.press("Enter")
        await instance.wait_for_state(
            page, "number.house_bank_balance_trigger_voltage", "8"
        )
        await expect(trigger).to_have_value("8")
        await shot(page, "09_trigger_changed")
        await browser.close()
