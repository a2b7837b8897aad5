"""Home Assistant with its real MQTT integration against a real Mosquitto, and a Moxie entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, State
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.moxie.const import DOMAIN
from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from tests.ollama_fixtures import (  # noqa: F401
    agent_options,
    extra_subentries,
    moxie_brain,
    ollama_server,
)

MOXIE_DATA = {"name": "Moxie", "base_topic": "moxie", "language": "es"}


@pytest.fixture
async def mqtt_ready(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> AsyncIterator[MockConfigEntry]:
    """Home Assistant's real MQTT integration, connected to the real broker."""
    (tmp_path / "configuration.yaml").write_text("", encoding="utf-8")
    hass.config.config_dir = str(tmp_path)
    assert await async_setup_component(hass, "homeassistant", {})
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN, data={"broker": mosquitto.host, "port": mosquitto.port}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    async with asyncio.timeout(10):
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.02)
    yield entry
    # Disconnect before the broker stops (its fixture ends after this one).
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def mqtt_probe(mosquitto: Mosquitto) -> AsyncIterator[MqttProbe]:
    """A real MQTT client on the broker, recording every message on moxie/# and discovery."""
    probe = MqttProbe(mosquitto.host, mosquitto.port)
    await probe.start("moxie/#", "homeassistant/device/#")
    yield probe
    await probe.stop()


@pytest.fixture
async def moxie_entry(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
) -> MockConfigEntry:
    """A loaded Moxie entry (base topic `moxie`, Spanish), subscribed on the broker."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Moxie", data=MOXIE_DATA, unique_id="moxie", version=1
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    for topic in ("moxie/tts/text", "moxie/puppet/set", "moxie/speech", "moxie/status"):
        await mosquitto.wait_subscribed(topic)
    for entity_id in ("text.moxie_puppet", "event.moxie_speech", "sensor.moxie_status"):
        await wait_state(hass, entity_id, lambda s: s.state != "unavailable")
    return entry


async def wait_state(
    hass: HomeAssistant,
    entity_id: str,
    predicate: Callable[[State], bool],
    timeout: float = 10.0,
) -> State:
    """Wait until the entity's state satisfies predicate (as a user would see it)."""
    async with asyncio.timeout(timeout):
        while True:
            state = hass.states.get(entity_id)
            if state is not None and predicate(state):
                return state
            await asyncio.sleep(0.02)
