"""The development instance: Home Assistant with virtual balancers, no hardware.

Copies the development configuration (``dev/config``) into a working folder,
marks onboarding done except for the user, starts Home Assistant, creates the
development login (dev / dev) through the onboarding API, keeps its web
server's port (Home Assistant 2026.11 asks to confirm it), and runs until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Final
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

ROOT: Final = Path(__file__).resolve().parents[1]
TEMPLATE: Final = ROOT / "dev" / "config"
DEV_USER: Final = "dev"
DEV_PASSWORD: Final = "dev"  # noqa: S105 - the documented development login
STARTUP_TIMEOUT: Final = 180.0


def prepare_config(config_dir: Path) -> None:
    """Copy the development configuration; keep the state of earlier runs."""
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(TEMPLATE / "configuration.yaml", config_dir / "configuration.yaml")
    # Automations made in the UI (from the blueprint, say) are kept across runs.
    automations = config_dir / "automations.yaml"
    if not automations.exists():
        shutil.copy2(TEMPLATE / "automations.yaml", automations)
    blueprints = config_dir / "blueprints" / "automation" / "jk_balancer"
    shutil.rmtree(blueprints, ignore_errors=True)
    shutil.copytree(ROOT / "blueprints" / "automation" / "jk_balancer", blueprints)
    proxy = config_dir / "custom_components" / "jk_dev_proxy"
    shutil.rmtree(proxy, ignore_errors=True)
    shutil.copytree(TEMPLATE / "custom_components" / "jk_dev_proxy", proxy)
    storage = config_dir / ".storage"
    storage.mkdir(exist_ok=True)
    onboarding = storage / "onboarding"
    if not onboarding.exists():
        # Everything but the user, which the onboarding API creates properly.
        onboarding.write_text(
            json.dumps(
                {
                    "version": 4,
                    "minor_version": 1,
                    "key": "onboarding",
                    "data": {"done": ["core_config", "analytics", "integration"]},
                }
            )
        )


def _request(url: str, data: dict[str, Any] | None = None) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(  # noqa: S310 - our own local instance
        url, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> list[Any]:
    """Wait for the HTTP API; return the onboarding steps."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Home Assistant exited with status {process.returncode}"
            )
        try:
            steps: list[Any] = _request(f"{base_url}/api/onboarding")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        return steps
    raise RuntimeError(f"Home Assistant did not answer at {base_url}")


def create_dev_user(base_url: str, steps: list[Any]) -> None:
    """Create the development login unless it exists."""
    if any(step["step"] == "user" and step["done"] for step in steps):
        return
    _request(
        f"{base_url}/api/onboarding/users",
        {
            "client_id": f"{base_url}/",
            "name": "Developer",
            "username": DEV_USER,
            "password": DEV_PASSWORD,
            "language": "en",
        },
    )


def access_token(base_url: str) -> str:
    """A token of the development login, got as the frontend gets one."""
    client = f"{base_url}/"
    flow = _request(
        f"{base_url}/auth/login_flow",
        {
            "client_id": client,
            "handler": ["homeassistant", None],
            "redirect_uri": client,
        },
    )
    result = _request(
        f"{base_url}/auth/login_flow/{flow['flow_id']}",
        {"username": DEV_USER, "password": DEV_PASSWORD, "client_id": client},
    )
    form = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": result["result"],
            "client_id": client,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - our own local instance
        f"{base_url}/auth/token", data=form
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        token: str = json.loads(response.read())["access_token"]
        return token


async def _confirm_http_settings(base_url: str, token: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(base_url.replace("http", "ws", 1) + "/api/websocket") as ws,
    ):
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": token})
        await ws.receive_json()  # auth_ok
        # Before 2026.11 there is no such command: its error changes nothing.
        await ws.send_json({"id": 1, "type": "http/config/promote"})
        await ws.receive_json()


def confirm_http_settings(base_url: str) -> None:
    """Keep the development port, as a user confirms it in the dialog.

    From 2026.11 the web server's settings from YAML start as a trial that is
    undone, by a restart, unless confirmed.
    """
    asyncio.run(_confirm_http_settings(base_url, access_token(base_url)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the development instance until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument(
        "--esphome",
        action="store_true",
        help="reach the Bluetooth balancers through an emulated ESPHome node "
        "and Home Assistant's esphome integration, as owners with a proxy do",
    )
    parser.add_argument(
        "--esphome-port",
        type=int,
        default=16053,
        help="the emulated node's port on 127.0.0.1 (with --esphome)",
    )
    args = parser.parse_args(argv)
    prepare_config(args.config)
    base_url = f"http://localhost:{args.port}"
    env = os.environ | {
        "JK_DEV_PORT": str(args.port),
        "JK_DEV_VIA": "esphome" if args.esphome else "virtual",
        "JK_DEV_ESPHOME_PORT": str(args.esphome_port),
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "jk_tools.hass_launcher",
            "-c",
            str(args.config),
            "--skip-pip",
        ],
        env=env,
        cwd=args.config,
        # Its own session: Ctrl-C reaches this process, which stops it once.
        start_new_session=True,
    )

    def stop(_signum: int, _frame: object) -> None:
        process.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        create_dev_user(base_url, wait_until_up(base_url, process))
        confirm_http_settings(base_url)
        print(
            f"\nHome Assistant is up: {base_url}"
            f"  (log in as {DEV_USER} / {DEV_PASSWORD})"
            "\nFour virtual Bluetooth balancers (device password 1234) and two"
            " on a virtual RS485 bus wait in Settings > Devices & services."
            " Ctrl-C stops.\n",
            flush=True,
        )
        return process.wait()
    except KeyboardInterrupt:
        print("\nStopping Home Assistant...", flush=True)
        process.send_signal(signal.SIGTERM)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
