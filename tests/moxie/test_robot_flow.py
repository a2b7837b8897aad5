"""Robot Moxie in Moxie's options: the robot's broker, the robots heard on it, on and off."""

# ruff: noqa: F811 (the fixtures imported from the helpers are test parameters)
from __future__ import annotations

import asyncio

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.broker import Mosquitto
from peers.process import free_port
from peers.robot_sim import RobotSim
from peers.voices import joe_pcm16
from tests.moxie.conftest import wait_state
from tests.moxie.robot_helpers import (  # noqa: F401
    ROBOT,
    robot,
    robot_broker,
    robot_options,
    robot_tls,
)

DISCOVERY_TOPIC = "/devices/+/events/#"


async def test_options_find_the_robot_and_serve_it(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """The broker step listens for robots; the robot heard is offered; saving serves it."""
    result = await hass.config_entries.options.async_init(moxie_entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "robot" in result["menu_options"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "robot"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "robot"

    submitted = asyncio.ensure_future(
        hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                "robot_enabled": True,
                "robot_host": robot_broker.host,
                "robot_port": robot_broker.port,
                "robot_tls": False,
            },
        )
    )
    # While Moxie listens on the broker, the robot reports in (as it does when it connects).
    await robot_broker.wait_subscribed(DISCOVERY_TOPIC)
    await robot.report_state()
    result = await submitted
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "robot_device"
    assert result["description_placeholders"] == {"count": "1"}
    field = next(iter(result["data_schema"].schema))
    assert field.default() == robot.device_id

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"robot_device_id": robot.device_id}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert moxie_entry.options["robot_device_id"] == robot.device_id
    assert moxie_entry.options["robot_enabled"] is True
    await hass.async_block_till_done()
    await wait_state(hass, ROBOT, lambda s: s.state == "idle", timeout=30)
    await robot.wait_microphone_subscribed()
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("moxie", f"{moxie_entry.entry_id}-robot"), moxie_entry.entry_id
    )
    assert device is not None
    assert device.serial_number == robot.device_id
    assert device.model == "Moxie robot"

    # Off again: the robot's satellite goes away, the broker is left.
    result = await hass.config_entries.options.async_init(moxie_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "robot"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"robot_enabled": False, "robot_host": robot_broker.host}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    state = hass.states.get(ROBOT)
    assert state is None or state.state == "unavailable"


async def test_options_unreachable_broker_and_bad_input(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, socket_enabled: None
) -> None:
    """Nothing listening, a host with a scheme, a missing CA file: the form says so."""
    result = await hass.config_entries.options.async_init(moxie_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "robot"}
    )
    flow_id = result["flow_id"]
    cases = [
        ({"robot_host": "127.0.0.1", "robot_port": free_port(), "robot_tls": False},
         {"base": "cannot_connect"}),
        ({"robot_host": "mqtt://openmoxie", "robot_port": 8883}, {"robot_host": "invalid_host"}),
        ({"robot_host": "127.0.0.1", "robot_tls": True, "robot_ca_file": "/nonexistent/ca.crt"},
         {"robot_ca_file": "ca_file_missing"}),
    ]  # fmt: skip
    for user_input, errors in cases:
        result = await hass.config_entries.options.async_configure(
            flow_id, {"robot_enabled": True, **user_input}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors, user_input
    assert "robot_enabled" not in moxie_entry.options


async def test_robot_without_speech_to_text_gets_error_66(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """A Moxie without an Assist pipeline cannot transcribe: the robot gets error_code 66."""
    hass.config_entries.async_update_entry(
        moxie_entry, options=robot_options(robot_broker, robot.device_id)
    )
    assert await hass.config_entries.async_reload(moxie_entry.entry_id)
    await wait_state(hass, ROBOT, lambda s: s.state != "unavailable", timeout=30)

    utterance = await robot.say_to_robot(joe_pcm16("Hello Moxie."), real_time=False)
    response = await robot.stt_response(utterance)
    assert response.uuid == utterance
    assert response.type == 1
    assert response.error_code == 66
    assert response.speech == ""
    # The rest of that utterance's frames are not a new utterance, nor rejected input.
    link = moxie_entry.runtime_data.robot
    assert link is not None
    assert link.rejected == {}
    assert link.handled["utterance_failed"] == 1


@pytest.mark.parametrize("robot_tls", [True])
async def test_options_tls_without_verification(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    robot_broker: Mosquitto,
) -> None:
    """OpenMoxie's self-signed broker: verified it fails without its CA; unverified it works."""
    result = await hass.config_entries.options.async_init(moxie_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "robot"}
    )
    common = {"robot_enabled": True, "robot_host": robot_broker.host, "robot_tls": True}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**common, "robot_port": robot_broker.port}
    )
    assert result["errors"] == {"base": "tls_failed"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**common, "robot_port": robot_broker.port, "robot_insecure": True}
    )
    assert result["step_id"] == "robot_device"
    assert result["description_placeholders"] == {"count": "0"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"robot_device_id": "d/bad"}
    )
    assert result["errors"] == {"robot_device_id": "invalid_device_id"}


async def test_robot_broker_down_at_start(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """OpenMoxie's broker is down: Moxie loads, the robot is unavailable, then it comes back."""
    broker = Mosquitto(tmp_path_factory.mktemp("late_broker"), persistence=False)
    hass.config_entries.async_update_entry(
        moxie_entry, options=robot_options(broker, "d_0f0e0d0c-late")
    )
    assert await hass.config_entries.async_reload(moxie_entry.entry_id)
    assert moxie_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(ROBOT).state == "unavailable"
    link = moxie_entry.runtime_data.robot
    assert link is not None
    async with asyncio.timeout(30):
        while link.connect_failures == 0:  # paho retries by itself: no event to await
            await asyncio.sleep(0.05)
    broker.start()
    try:
        robot = RobotSim(broker.host, broker.port, "d_0f0e0d0c-late")
        await robot.start()
        await wait_state(hass, ROBOT, lambda s: s.state != "unavailable", timeout=60)
        await robot.wait_microphone_subscribed()
        await robot.stop()
    finally:
        broker.stop()
