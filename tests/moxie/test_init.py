"""The Moxie MQTT device: discovery, availability, HA restarts, unload and removal."""

from __future__ import annotations

import asyncio

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.moxie.const import DOMAIN
from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from tests.moxie.conftest import MOXIE_DATA, wait_state

DISCOVERY = "homeassistant/device/moxie_moxie/config"
ENTITIES = ("text.moxie_puppet", "event.moxie_speech", "sensor.moxie_status")


async def test_device_discovery_and_entities(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    [discovery] = await mqtt_probe.wait_for(DISCOVERY)
    assert discovery.retain
    payload = discovery.json()
    assert payload["dev"]["ids"] == ["moxie_moxie"]
    assert {c["p"] for c in payload["cmps"].values()} == {"text", "event", "sensor"}
    assert "object_id" not in str(payload)
    [availability] = await mqtt_probe.wait_for("moxie/availability")
    assert (availability.text, availability.retain) == ("online", True)

    status = await wait_state(hass, "sensor.moxie_status", lambda s: s.state == "idle")
    assert status.attributes["friendly_name"] == "Moxie Estado"
    assert status.attributes["options"] == ["idle", "listening", "thinking", "speaking"]
    puppet = hass.states.get("text.moxie_puppet")
    assert puppet is not None
    assert puppet.attributes["friendly_name"] == "Moxie Marioneta"
    assert puppet.attributes["max"] == 255

    # One device holds the three entities.
    entity_registry = er.async_get(hass)
    device_ids = {entity_registry.async_get(e).device_id for e in ENTITIES}  # type: ignore[union-attr]
    assert len(device_ids) == 1
    device = dr.async_get(hass).async_get(device_ids.pop())  # type: ignore[arg-type]
    assert device is not None
    assert device.name == "Moxie"
    assert ("mqtt", "moxie_moxie") in device.identifiers


async def test_discovery_republished_when_home_assistant_comes_online(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await mqtt_probe.wait_for(DISCOVERY)
    await mqtt_probe.publish("homeassistant/status", "online")
    messages = await mqtt_probe.wait_for(DISCOVERY, 2)
    assert messages[0].json() == messages[1].json()


async def test_unload_marks_moxie_offline(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    assert await hass.config_entries.async_unload(moxie_entry.entry_id)
    await mqtt_probe.wait_for("moxie/availability", where=lambda m: m.text == "offline")
    for entity_id in ENTITIES:
        await wait_state(hass, entity_id, lambda s: s.state == "unavailable")
    # Loading it again brings everything back.
    assert await hass.config_entries.async_setup(moxie_entry.entry_id)
    await wait_state(hass, "sensor.moxie_status", lambda s: s.state == "idle")


async def test_removal_removes_device_and_entities(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    await mqtt_probe.wait_for(DISCOVERY)
    assert await hass.config_entries.async_remove(moxie_entry.entry_id)
    await mqtt_probe.wait_for(DISCOVERY, where=lambda m: m.payload == b"")
    # HA's MQTT discovery sees the emptied config and removes the device's entities.
    entity_registry = er.async_get(hass)
    async with asyncio.timeout(10):
        while any(entity_registry.async_get(e) for e in ENTITIES):
            await asyncio.sleep(0.02)
    assert all(hass.states.get(e) is None for e in ENTITIES)
    assert not dr.async_get(hass).async_get_devices(identifiers={("mqtt", "moxie_moxie")})


async def test_setup_retries_while_broker_is_down(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
) -> None:
    # Let HA's MQTT client publish its birth message first (it fails loudly if cut short).
    async with asyncio.timeout(30):
        while "'homeassistant/status'" not in mosquitto.log_path.read_text():
            await asyncio.sleep(0.1)
    mosquitto.stop()
    entry = MockConfigEntry(domain=DOMAIN, title="Moxie", data=MOXIE_DATA, unique_id="moxie")
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == "The MQTT broker is not available; Moxie will retry"
    mosquitto.start()
    async with asyncio.timeout(30):  # HA's MQTT client reconnects with its own back-off
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.05)
    await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED


async def test_every_moxie_device_has_its_own_clear_name(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """One Moxie, no look-alikes: the robot, its brain and its voice assistant are told apart."""
    await wait_state(hass, "text.moxie_puppet", lambda s: s.state != "unavailable")
    devices = dr.async_get(hass)
    moxie_devices = [
        device
        for device in devices.devices
        if ("mqtt", "moxie_moxie") in device.identifiers
        or any(domain == DOMAIN for domain, _ in device.identifiers)
    ]
    names = sorted(device.name_by_user or device.name or "" for device in moxie_devices)
    # Home Assistant runs in English here; the agent is named in the entry's language.
    assert names == ["Cerebro de Moxie", "Moxie", "Moxie voice assistant"]
    satellite = er.async_get(hass).async_get("assist_satellite.moxie")
    assert satellite is not None
    assert devices.async_get(satellite.device_id).name == "Moxie voice assistant"
