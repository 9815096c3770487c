"""Every step of every flow answers bad input with a form error or an abort.

Through Home Assistant's HTTP API, as the UI (or anything else that can post)
talks to it: each field of each form gets wrong types, NaN, a NUL byte, a huge
string and text that is no UTF-8, and whole bodies that are no JSON object.
Nothing may answer with HTTP 500, and nothing half-made may be left behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
from typing import Any

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USB,
    SOURCE_USER,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_MEMBERS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    DOMAIN,
)
from custom_components.jk_balancer.migration import stored_data_problem
from jk_emulator import VirtualBus
from tests.conftest import bus_unit
from tests.integration.conftest import Proxy, bus_entry, setup_entry

# What goes into one field: wrong types, numbers that are none, a NUL byte,
# a megabyte, and text that is no UTF-8 (a lone surrogate, as JSON escapes it).
BAD_VALUES: tuple[Any, ...] = (
    None,
    True,
    5,
    -1e300,
    [1, 2],
    {"a": 1},
    "x\x00y",
    "\ud800",
    "A" * 100_000,
    "",
    "../../../../etc/passwd",
    "socket://\x00:1",
)
# Raw bodies: not JSON, JSON that is no object, NaN (JSON has none).
BAD_BODIES: tuple[bytes, ...] = (
    b"\xff\xfe\x00",
    b"[]",
    b"null",
    b'"text"',
    b"{",
    b'{"update_interval": NaN}',
)
# Forms whose submit adds or changes something for good once valid.
_KINDS = ("config", "options", "repairs")

pytestmark = pytest.mark.usefixtures("quick_scan")


@dataclass
class Step:
    """A form reached afresh by ``reach``: its kind (which API) and its id."""

    kind: str
    step_id: str
    reach: Callable[[], Awaitable[dict[str, Any]]]


def field_names(form: dict[str, Any]) -> list[str]:
    """The fields of a form, as the API lists them or as the flow holds them."""
    schema = form.get("data_schema")
    if schema is None:
        return []
    if isinstance(schema, list):
        return [field["name"] for field in schema]
    return [str(marker) for marker in schema.schema]


def encode(value: dict[str, Any]) -> bytes:
    """JSON as a client would send it (a lone surrogate escaped, as browsers do)."""
    return json.dumps(value).encode()


async def test_no_step_of_any_flow_answers_bad_input_with_a_server_error(
    hass: HomeAssistant,
    proxy: Proxy,
    virtual_bus: VirtualBus,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, "config", {})
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    flows = hass.config_entries.flow

    kept = proxy.add("jk-b2a16s", heard=False)
    bluetooth = await setup_entry(hass, kept)
    proxy.scanner.advertise(kept)  # heard from now on, for each reload
    per_update = await setup_entry(
        hass, proxy.add("jk-b2a16s"), options={"connection_mode": "per_update"}
    )
    offered = proxy.add("jk-b2a4s")  # heard, not set up: offered to be added
    bus = bus_entry(virtual_bus, 1)
    bus.add_to_hass(hass)
    assert await hass.config_entries.async_setup(bus.entry_id)
    pack = MockConfigEntry(
        domain=DOMAIN,
        title="Rack",
        data={CONF_TRANSPORT: "pack", CONF_MEMBERS: [bluetooth.entry_id, bus.entry_id]},
        minor_version=3,
    )
    pack.add_to_hass(hass)
    assert await hass.config_entries.async_setup(pack.entry_id)
    await hass.async_block_till_done()

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, json=body)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def menu(choice: str) -> dict[str, Any]:
        result = await flows.async_init(DOMAIN, context={"source": SOURCE_USER})
        return dict(
            await flows.async_configure(result["flow_id"], {"next_step_id": choice})
        )

    async def start(init: Awaitable[Any]) -> dict[str, Any]:
        return dict(await init)

    async def options(entry: MockConfigEntry) -> dict[str, Any]:
        return await post(
            "/api/config/config_entries/options/flow", {"handler": entry.entry_id}
        )

    async def fix(kind: str, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
        """Raise the issue (updates may have cleared it), open its fix."""
        ir.async_create_issue(
            hass,
            DOMAIN,
            f"{kind}_{entry.entry_id}",
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=kind,
            data={"entry_id": entry.entry_id, "fix": kind, **data},
        )
        response = await client.post(
            "/api/repairs/issues/fix",
            json={"handler": DOMAIN, "issue_id": f"{kind}_{entry.entry_id}"},
        )
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def member_deleted() -> dict[str, Any]:
        """The pack's repair after one of its balancers was deleted: raised by
        the pack itself, so no update of the others clears it meanwhile."""
        if hass.config_entries.async_get_entry(bus.entry_id) is not None:
            await hass.config_entries.async_remove(bus.entry_id)
            await hass.async_block_till_done()
        response = await client.post(
            "/api/repairs/issues/fix",
            json={
                "handler": DOMAIN,
                "issue_id": f"pack_member_missing_{pack.entry_id}",
            },
        )
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def forced_layout() -> dict[str, Any]:
        """A layout chosen under Reconfigure that the frames do not fit."""
        hass.config_entries.async_update_entry(
            bluetooth, data={**bluetooth.data, "protocol": "jk02_32s"}
        )
        return await fix("layout_mismatch", bluetooth)

    async def picked_device() -> dict[str, Any]:
        result = await menu("bluetooth_device")
        return dict(
            await flows.async_configure(result["flow_id"], {"address": offered.address})
        )

    async def two_found() -> dict[str, Any]:
        async with VirtualBus(virtual_bus.units, wire_time=False) as other:
            result = await menu("rs485")
            found = await flows.async_configure(
                result["flow_id"], {CONF_SERIAL_PORT: other.path}
            )
        return dict(found)

    spare = VirtualBus({3: bus_unit(3)}, wire_time=False)  # plugged in, not set up
    spare.start()
    usb = UsbServiceInfo(
        device=spare.path,
        vid="1A86",
        pid="7523",
        serial_number=None,
        manufacturer="QinHeng",
        description="USB-RS485",
    )
    steps = [
        Step(
            "config",
            "user",
            lambda: start(flows.async_init(DOMAIN, context={"source": SOURCE_USER})),
        ),
        Step("config", "bluetooth_device", lambda: menu("bluetooth_device")),
        Step("config", "password", picked_device),
        Step("config", "rs485", lambda: menu("rs485")),
        Step("config", "rs485_pick", two_found),
        Step("config", "pack", lambda: menu("pack")),
        Step(
            "config",
            "usb_confirm",
            lambda: start(
                flows.async_init(DOMAIN, context={"source": SOURCE_USB}, data=usb)
            ),
        ),
        Step(
            "config",
            "bus_confirm",
            lambda: start(
                flows.async_init(
                    DOMAIN,
                    context={"source": SOURCE_INTEGRATION_DISCOVERY},
                    data={CONF_SERIAL_PORT: virtual_bus.path, CONF_BUS_ADDRESS: 2},
                )
            ),
        ),
        Step(
            "config", "reauth_confirm", lambda: start(bluetooth.start_reauth_flow(hass))
        ),
        Step(
            "config",
            "reconfigure",
            lambda: start(bluetooth.start_reconfigure_flow(hass)),
        ),
        Step(
            "config", "reconfigure_bus", lambda: start(bus.start_reconfigure_flow(hass))
        ),
        Step("config", "pack", lambda: start(pack.start_reconfigure_flow(hass))),
        Step("options", "init", lambda: options(bluetooth)),
        Step("options", "per_update", lambda: options(per_update)),
        Step("options", "bus", lambda: options(bus)),
        Step(
            "repairs", "confirm", lambda: fix("confirm_cell_count", bluetooth, cells=12)
        ),
        Step("repairs", "confirm", forced_layout),
        Step(
            "repairs",
            "confirm",
            lambda: fix("chemistry_contradicted", bus, proposed=["ncm"]),
        ),
        Step("repairs", "members", member_deleted),
    ]
    paths = {
        "config": "/api/config/config_entries/flow/{}",
        "options": "/api/config/config_entries/options/flow/{}",
        "repairs": "/api/repairs/issues/fix/{}",
    }
    tried = 0

    for step in steps:
        form: dict[str, Any] | None = None
        fields: list[str] = []
        bodies: list[bytes] = list(BAD_BODIES)
        gone = 0
        while True:
            if form is None:
                await hass.async_block_till_done()  # reloads that a submit asked
                form = await step.reach()
                if fields and form.get("step_id") != step.step_id:
                    # A confirmation taken (an empty body is one) is done.
                    break
                assert form.get("step_id") == step.step_id, (step, form)
                if not fields:
                    fields = field_names(form) or (
                        ["next_step_id"] if form["type"] == "menu" else ["x"]
                    )
                    bodies += [
                        encode({name: value}) for name in fields for value in BAD_VALUES
                    ]
            if not bodies:
                break
            body = bodies.pop()
            response = await client.post(
                paths[step.kind].format(form["flow_id"]),
                data=body,
                headers={"Content-Type": "application/json"},
            )
            if response.status == 404:  # refused before: Home Assistant ended it
                assert gone < 2, (step.step_id, body[:80])
                gone += 1
                bodies.append(body)
                form = None
                continue
            gone = 0
            tried += 1
            assert response.status in (200, 400), (
                step.step_id,
                body[:80],
                response.status,
                await response.text(),
            )
            if response.status == 200:
                answer = await response.json()
                if answer["type"] not in ("form", "menu"):
                    form = None  # done (aborted): reach the step again
    await hass.async_block_till_done()
    assert tried > 400
    # Nothing half-made was stored: every entry is one set-up can use.
    for entry in hass.config_entries.async_entries(DOMAIN):
        assert stored_data_problem(entry.data) is None, entry.data
        assert "\x00" not in entry.title
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)
    await spare.stop()
    spare.close()
