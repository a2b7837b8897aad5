"""Fixtures and helpers of the Robot Moxie tests: OpenMoxie's broker and a simulated robot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import ssl
from typing import Any
import xml.etree.ElementTree as ET

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.broker import Mosquitto, TlsFiles, make_tls_files
from peers.robot_sim import RobotSim
from tests.moxie.conftest import wait_state

ROBOT = "assist_satellite.moxie_robot"


@pytest.fixture
def robot_tls() -> bool:
    """Whether the robot's broker speaks TLS (OpenMoxie upstream) or plain MQTT (Español)."""
    return False


@pytest.fixture
def robot_broker(
    socket_enabled: None, tmp_path_factory: pytest.TempPathFactory, robot_tls: bool
) -> Iterator[Mosquitto]:
    """OpenMoxie's Mosquitto: anonymous; TLS with a self-signed CA when robot_tls."""
    workdir = tmp_path_factory.mktemp("robot_broker")
    tls: TlsFiles | None = make_tls_files(workdir) if robot_tls else None
    broker = Mosquitto(workdir, persistence=False, tls=tls, log_topic=True)
    broker.start()
    yield broker
    broker.stop()


def sim_tls_context(broker: Mosquitto) -> ssl.SSLContext | None:
    """The robot's TLS: like firmware 803 with `disable_verify`, it accepts the self-signed key."""
    if broker.tls is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
async def robot(robot_broker: Mosquitto) -> AsyncIterator[RobotSim]:
    """The simulated robot, connected to its broker."""
    sim = RobotSim(robot_broker.host, robot_broker.port, tls_context=sim_tls_context(robot_broker))
    await sim.start()
    yield sim
    await sim.stop()


def robot_options(broker: Mosquitto, device_id: str) -> dict[str, Any]:
    """Moxie's options with Robot Moxie on (TLS verified against the test CA when TLS)."""
    return {
        "robot_enabled": True,
        "robot_host": broker.host,
        "robot_port": broker.port,
        "robot_tls": broker.tls is not None,
        "robot_ca_file": str(broker.tls.ca) if broker.tls is not None else "",
        "robot_insecure": False,
        "robot_device_id": device_id,
    }


async def serve_robot(
    hass: HomeAssistant, entry: MockConfigEntry, broker: Mosquitto, robot: RobotSim
) -> None:
    """Turn Robot Moxie on for robot; wait until the robot satellite is connected."""
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, **robot_options(broker, robot.device_id)}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_state(hass, ROBOT, lambda s: s.state != "unavailable", timeout=30)
    await robot.wait_microphone_subscribed()


def assert_valid_markup(markup: str, text: str) -> None:
    """Moxie's markup is an XML fragment whose words are the text."""
    root = ET.fromstring(f"<root>{markup}</root>")  # noqa: S314 (Moxie's own reply)
    assert " ".join("".join(root.itertext()).split()) == text
