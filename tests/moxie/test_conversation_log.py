"""Moxie's conversation is kept: questions with answers, Puppet lines and announcements."""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.ollama_server import OllamaServer
from tests.moxie.conftest import MOXIE_DATA, wait_state

QUESTION = "¿Cuántas patas tiene una araña?"


class Subscription:
    """The card's side of `moxie/conversation/subscribe`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.moxie: dict[str, Any] = {}
        self.turns: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, client: Any, **data: Any) -> Subscription:
        subscription = cls(client)
        await client.send_json_auto_id({"type": "moxie/conversation/subscribe", **data})
        result = await client.receive_json()
        assert result["success"], result
        history = (await client.receive_json())["event"]
        assert history["type"] == "history"
        subscription.moxie = history["moxie"]
        subscription.turns = history["turns"]
        return subscription

    async def next(self, kind: str) -> dict[str, Any]:
        """The next message of a type (turn, now, cleared), skipping others."""
        while True:
            event = (await self.client.receive_json())["event"]
            if event["type"] == "turn":
                self.turns.append(event["turn"])
            if event["type"] == kind:
                return event


async def _ask(hass: HomeAssistant, text: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        "conversation",
        "process",
        {"agent_id": "conversation.moxie", "text": text, "language": "es"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response


async def test_questions_and_speech_reach_the_card(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    hass_ws_client: WebSocketGenerator,
) -> None:
    client = await hass_ws_client(hass)
    card = await Subscription.start(client)
    assert card.moxie["entry_id"] == moxie_brain.entry_id
    assert card.moxie["entities"]["status"] == "sensor.moxie_status"
    assert card.moxie["entities"]["puppet"] == "text.moxie_puppet"
    assert card.moxie["entities"]["takeover"] == ["switch.moxie_puppet_takeover"]
    assert card.turns == []

    await _ask(hass, QUESTION)
    turn = (await card.next("turn"))["turn"]
    assert turn["kind"] == "question"
    assert turn["question"] == QUESTION
    assert turn["text"] == f"Eco: {QUESTION}"
    assert turn["agent"] == "conversation.moxie"
    assert turn["user"] is None  # asked by a service call, not a person
    assert dt_util.parse_datetime(turn["time"]) is not None

    # The Puppet (the text entity publishes to puppet/set) and moxie.say, each by source.
    await mqtt_probe.publish("moxie/puppet/set", "¡Hola, soy tu tío Juan!")
    puppet = (await card.next("turn"))["turn"]
    assert (puppet["kind"], puppet["source"]) == ("speech", "puppet")
    assert puppet["text"] == "¡Hola, soy tu tío Juan!"
    await hass.services.async_call("moxie", "say", {"text": "La cena está lista."}, blocking=True)
    said = (await card.next("turn"))["turn"]
    assert (said["source"], said["text"]) == ("action", "La cena está lista.")
    # Speech from outside (OpenMoxie's plain text) too.
    await mqtt_probe.publish("moxie/tts/text", "Hola desde OpenMoxie")
    outside = (await card.next("turn"))["turn"]
    assert (outside["source"], outside["text"]) == ("external", "Hola desde OpenMoxie")
    # The answer was kept once, with its question, not again as speech.
    assert [t["kind"] for t in card.turns] == ["question", "speech", "speech", "speech"]

    # A second card, set to the Moxie device, sees the same history.
    assert card.moxie["device_id"] is not None
    again = await Subscription.start(await hass_ws_client(hass), device_id=card.moxie["device_id"])
    assert [t["id"] for t in again.turns] == [t["id"] for t in card.turns]
    # A card set to the agent's device finds the same Moxie.
    agent = er.async_get(hass).async_get("conversation.moxie")
    assert agent is not None
    assert agent.device_id is not None
    by_agent = await Subscription.start(await hass_ws_client(hass), device_id=agent.device_id)
    assert by_agent.moxie["entry_id"] == moxie_brain.entry_id


async def test_turns_survive_a_restart(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    await _ask(hass, QUESTION)
    assert await hass.config_entries.async_unload(moxie_brain.entry_id)
    # What Home Assistant reads at its next start.
    stored = hass_storage[f"moxie.conversation.{moxie_brain.entry_id}"]["data"]["turns"]
    assert [t["question"] for t in stored] == [QUESTION]

    assert await hass.config_entries.async_setup(moxie_brain.entry_id)
    await hass.async_block_till_done()
    card = await Subscription.start(await hass_ws_client(hass))
    assert [(t["question"], t["text"]) for t in card.turns] == [(QUESTION, f"Eco: {QUESTION}")]


def _stored(entry_id: str, *ages: timedelta) -> dict[str, Any]:
    now = dt_util.utcnow()
    return {
        "version": 1,
        "minor_version": 1,
        "key": f"moxie.conversation.{entry_id}",
        "data": {
            "turns": [
                {
                    "id": f"t{index}",
                    "time": (now - age).isoformat(),
                    "kind": "speech",
                    "text": f"dicho hace {age}",
                    "source": "puppet",
                }
                for index, age in enumerate(ages)
            ]
        },
    }


async def _setup(hass: HomeAssistant, options: dict[str, Any]) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain="moxie",
        title="Moxie",
        data=MOXIE_DATA,
        options=options,
        unique_id="moxie",
        entry_id="moxie_entry",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.mark.parametrize(
    ("options", "kept"),
    [({}, ["t1", "t2"]), ({"conversation_retention_days": 1}, ["t2"])],
    ids=["default_7_days", "1_day"],
)
async def test_retention_drops_old_turns(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
    options: dict[str, Any],
    kept: list[str],
) -> None:
    key = "moxie.conversation.moxie_entry"
    ages = (timedelta(days=9), timedelta(days=3), timedelta(hours=1))
    hass_storage[key] = _stored("moxie_entry", *ages)
    entry = await _setup(hass, options)
    card = await Subscription.start(await hass_ws_client(hass))
    assert [t["id"] for t in card.turns] == kept
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert [t["id"] for t in hass_storage[key]["data"]["turns"]] == kept


async def test_retention_off_keeps_nothing_on_disk(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
    mqtt_probe: MqttProbe,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    key = "moxie.conversation.moxie_entry"
    hass_storage[key] = _stored("moxie_entry", timedelta(hours=1))
    entry = await _setup(hass, {"conversation_retention_days": 0})
    assert key not in hass_storage
    card = await Subscription.start(await hass_ws_client(hass))
    assert card.turns == []
    assert card.moxie["name"] == "Moxie"
    await mosquitto.wait_subscribed("moxie/speech")
    await hass.services.async_call("moxie", "say", {"text": "Solo en memoria"}, blocking=True)
    assert (await card.next("turn"))["turn"]["text"] == "Solo en memoria"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert key not in hass_storage


async def test_clear_action_empties_it(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mosquitto: Mosquitto,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    card = await Subscription.start(await hass_ws_client(hass))
    await hass.services.async_call("moxie", "say", {"text": "Primera frase"}, blocking=True)
    await card.next("turn")
    await hass.services.async_call("moxie", "clear_conversation", {}, blocking=True)
    await card.next("cleared")
    again = await Subscription.start(await hass_ws_client(hass))
    assert again.turns == []
    assert await hass.config_entries.async_unload(moxie_entry.entry_id)
    assert hass_storage[f"moxie.conversation.{moxie_entry.entry_id}"]["data"]["turns"] == []


async def test_diagnostics_never_include_the_conversation(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_client: ClientSessionGenerator,
) -> None:
    await _ask(hass, QUESTION)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_brain)
    assert "araña" not in json.dumps(diagnostics, ensure_ascii=False)


async def test_unknown_moxie_is_an_error(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "moxie/conversation/subscribe", "device_id": "not-a-device"}
    )
    result = await client.receive_json()
    assert not result["success"]
    assert result["error"]["code"] == "not_found"


async def test_retention_setting_applies_at_once(
    hass: HomeAssistant,
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
    hass_storage: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    key = "moxie.conversation.moxie_entry"
    hass_storage[key] = _stored("moxie_entry", timedelta(days=3), timedelta(hours=1))
    entry = await _setup(hass, {})
    entity_id = er.async_get(hass).async_get_entity_id(
        "number", "moxie", "moxie_entry_conversation_retention"
    )
    assert entity_id == "number.moxie_conversation_retention"
    assert hass.states.get(entity_id).state == "7.0"

    async def set_days(days: int) -> None:
        await hass.services.async_call(
            "number", "set_value", {"entity_id": entity_id, "value": days}, blocking=True
        )

    await set_days(1)
    assert entry.options["conversation_retention_days"] == 1
    assert [t["id"] for t in hass_storage[key]["data"]["turns"]] == ["t1"]
    card = await Subscription.start(await hass_ws_client(hass))
    assert [t["id"] for t in card.turns] == ["t1"]

    await set_days(0)
    assert key not in hass_storage
    assert hass.states.get(entity_id).state == "0.0"


async def test_speech_event_time_is_a_date(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mosquitto: Mosquitto
) -> None:
    """The Speech event's attributes show when it was said as a date, not a Unix number."""
    before = dt_util.utcnow()
    await hass.services.async_call("moxie", "say", {"text": "¿Qué hora es?"}, blocking=True)
    state = await wait_state(
        hass, "event.moxie_speech", lambda s: s.attributes.get("text") == "¿Qué hora es?"
    )
    said = dt_util.parse_datetime(state.attributes["timestamp"])
    assert said is not None
    assert before - timedelta(seconds=1) <= said <= dt_util.utcnow()
