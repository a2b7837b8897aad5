"""Moxie in Home Assistant's registries, as a user edits them and as Home Assistant checks them.

- An entity id the user changes (Settings > Entities) keeps working: removed and added again by
  Home Assistant 2026.10, changed in place by 2026.11 where Moxie opts in (nothing of Moxie's
  own is keyed on those entity ids).
- Every device-registry value Moxie passes is a string (Home Assistant 2026.12 requires it).
"""

from __future__ import annotations

import asyncio
import logging

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Context, HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.ollama_server import ChatReply, OllamaServer
from tests.moxie.conftest import wait_state

TASK_SUBENTRY = ConfigSubentryData(
    data={"model": "qwen3:4b", "num_ctx": 4096, "keep_alive": 60, "think": False},
    subentry_type="ai_task_data",
    title="AI task",
    unique_id=None,
)


async def rename(hass: HomeAssistant, entity_id: str, new_entity_id: str) -> State:
    """Change an entity id as the entity settings dialog does; return the new state."""
    er.async_get(hass).async_update_entity(entity_id, new_entity_id=new_entity_id)
    state = await wait_state(hass, new_entity_id, lambda s: s.state != "unavailable")
    assert hass.states.get(entity_id) is None
    return state


async def test_renamed_entity_ids_keep_working(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """The agent, the takeover switch and the satellite's pipeline select under new ids."""
    await rename(hass, "switch.moxie_puppet_takeover", "switch.robot_takeover")
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.robot_takeover"}, blocking=True
    )
    await wait_state(hass, "switch.robot_takeover", lambda s: s.state == "on")
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.robot_takeover"}, blocking=True
    )
    await wait_state(hass, "switch.robot_takeover", lambda s: s.state == "off")

    await rename(hass, "conversation.moxie", "conversation.robot")
    ollama_server.replies.append(ChatReply(content="Soy Moxie."))
    result = await conversation.async_converse(
        hass, "¿Quién eres?", None, Context(), language="es", agent_id="conversation.robot"
    )
    assert result.response.speech["plain"]["speech"] == "Soy Moxie."

    select = await rename(hass, "select.moxie_pipeline", "select.robot_pipeline")
    assert select.state == "preferred"
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.robot_pipeline", "option": "preferred"},
        blocking=True,
    )


@pytest.mark.parametrize("extra_subentries", [[TASK_SUBENTRY]])
async def test_device_registry_values_are_strings(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Moxie's devices (robot, agent, AI task, satellite) hold strings only, without a report."""
    caplog.set_level(logging.WARNING)
    registry = dr.async_get(hass)
    async with asyncio.timeout(10):  # the robot's device comes from MQTT discovery
        while not (robot := registry.async_get_devices(identifiers={("mqtt", "moxie_moxie")})):
            await asyncio.sleep(0.02)
    devices = [*robot, *dr.async_entries_for_config_entry(registry, moxie_brain.entry_id)]
    assert len(devices) == 4, [d.name for d in devices]
    for device in devices:
        values = {
            "name": device.name,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "model_id": device.model_id,
            "sw_version": device.sw_version,
            "hw_version": device.hw_version,
            "serial_number": device.serial_number,
            "configuration_url": device.configuration_url,
        }
        wrong = {k: v for k, v in values.items() if v is not None and type(v) is not str}
        assert not wrong, f"{device.name}: {wrong}"
        for identifier in device.identifiers:
            assert all(type(part) is str for part in identifier), identifier
    reports = [r.getMessage() for r in caplog.records if "to the device registry" in r.getMessage()]
    assert not reports
