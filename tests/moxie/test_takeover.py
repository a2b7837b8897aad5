"""Puppet takeover: a human speaking through Moxie pauses the agent, shown by a switch."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.const import EntityCategory
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from peers.entries import AGENT_OPTIONS
from peers.mqtt import MqttProbe
from peers.ollama_server import OllamaServer

AGENT = "conversation.moxie"
SWITCH = "switch.moxie_puppet_takeover"
PUPPET = "text.moxie_puppet"


async def converse(hass: HomeAssistant, text: str) -> str:
    result = await conversation.async_converse(
        hass, text, None, Context(), language="es", agent_id=AGENT
    )
    return result.response.speech["plain"]["speech"]


async def wait_switch(hass: HomeAssistant, state: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while (current := hass.states.get(SWITCH)) is None or current.state != state:
            await asyncio.sleep(0.02)
    return dict(current.attributes)


async def test_puppet_pauses_the_agent(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """Speaking through the Puppet entity turns the switch on; the agent says "Un momento"."""
    assert hass.states.get(SWITCH).state == "off"
    async with asyncio.timeout(10):
        while (puppet := hass.states.get(PUPPET)) is None or puppet.state == "unavailable":
            await asyncio.sleep(0.02)

    await hass.services.async_call(
        "text",
        "set_value",
        {"entity_id": PUPPET, "value": "Hola, soy tu papá hablando por Moxie."},
        blocking=True,
    )
    attributes = await wait_switch(hass, "on")

    ends_at = dt_util.parse_datetime(attributes["ends_at"])
    assert ends_at is not None
    assert timedelta(minutes=9) < ends_at - dt_util.utcnow() <= timedelta(minutes=10)
    assert (
        await converse(hass, "¿Quién eres?")
        == "Ahora mismo una persona está hablando a través de mí. Un momento, por favor."
    )
    assert ollama_server.chat_requests == []
    said = await mqtt_probe.wait_for(
        "moxie/tts/text", where=lambda m: m.json()["source"] == "assistant"
    )
    assert (
        said[0].json()["text"]
        == "Ahora mismo una persona está hablando a través de mí. Un momento, por favor."
    )
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle", count=2)
    assert [m.text for m in mqtt_probe.messages["moxie/status"]] == ["idle", "speaking", "idle"]

    # Turning the switch off gives the conversation back at once.
    await hass.services.async_call("switch", "turn_off", {"entity_id": SWITCH}, blocking=True)
    assert hass.states.get(SWITCH).state == "off"
    assert await converse(hass, "¿Quién eres?") == "Eco: ¿Quién eres?"


async def test_takeover_ends_by_itself(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """After the configured time the agent answers again."""
    await hass.services.async_call("switch", "turn_on", {"entity_id": SWITCH}, blocking=True)
    assert hass.states.get(SWITCH).state == "on"
    assert (
        await converse(hass, "Hola")
        == "Ahora mismo una persona está hablando a través de mí. Un momento, por favor."
    )

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=10, seconds=1))
    await hass.async_block_till_done()

    assert hass.states.get(SWITCH).state == "off"
    assert await converse(hass, "Hola") == "Eco: Hola"


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "takeover_minutes": 2}])
async def test_takeover_duration_is_configurable(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    mqtt_probe: MqttProbe,
) -> None:
    """The pause lasts the agent's takeover_minutes, restarted by each Puppet line."""
    await mqtt_probe.publish("moxie/puppet/set", "Un segundo, cariño.")
    attributes = await wait_switch(hass, "on")
    ends_at = dt_util.parse_datetime(attributes["ends_at"])
    assert ends_at is not None
    assert ends_at - dt_util.utcnow() <= timedelta(minutes=2)

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2, seconds=1))
    await hass.async_block_till_done()
    assert hass.states.get(SWITCH).state == "off"


async def test_agent_and_switch_are_on_the_agents_device(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """The agent and its takeover switch show on the agent's device, named after it."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    agent = entities.async_get(AGENT)
    switch = entities.async_get(SWITCH)
    assert agent is not None
    assert switch is not None
    [subentry] = moxie_brain.subentries.values()
    assert agent.config_subentry_id == switch.config_subentry_id == subentry.subentry_id
    assert agent.device_id == switch.device_id
    device = devices.async_get(agent.device_id)
    assert device is not None
    assert device.name == "Cerebro de Moxie"
    assert device.config_subentry_id == subentry.subentry_id
    assert hass.states.get(AGENT).name == "Cerebro de Moxie"
    assert hass.states.get(SWITCH).name == "Cerebro de Moxie Puppet takeover"  # HA in English
    assert switch.translation_key == "takeover"


async def test_takeover_switch_is_not_exposed_to_assist(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """Whoever talks to Moxie cannot switch off the owner's takeover: it is not exposed."""
    switch = er.async_get(hass).async_get(SWITCH)
    assert switch is not None
    assert switch.entity_category is EntityCategory.CONFIG
    assert not async_should_expose(hass, conversation.DOMAIN, SWITCH)
    # A plain switch of the same home is exposed by default, so the rule above is Moxie's own.
    assert async_should_expose(hass, conversation.DOMAIN, "switch.kitchen")
