"""Fixtures for Moxie's Assist pipeline: HA's real wyoming integration on the real servers.

`wyoming` adds moxie-whisper (tiny.en) and moxie-piper (joe) through the wyoming config flow,
and loads assist_pipeline; `english_moxie` is an English Moxie whose brain is the loopback
Ollama, optionally with pipeline settings in its data (`pipeline_settings` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.broker import Mosquitto
from peers.entries import moxie_entry
from peers.mqtt import MqttProbe
from peers.ollama_server import OllamaServer
from peers.voices import LaunchedServer

__all__ = [
    "Engines",
    "create_pipeline",
    "english_moxie",
    "list_pipelines",
    "pipeline_settings",
    "plain_speaker_heard",
    "wyoming",
]


@dataclass(frozen=True)
class Engines:
    """The Wyoming entities as the wyoming integration named them."""

    stt: str
    tts: str


@pytest.fixture
async def wyoming(
    hass: HomeAssistant,
    whisper_server: LaunchedServer,
    joe_piper: LaunchedServer,
    socket_enabled: None,
) -> Engines:
    """Whisper and joe added as a user does (wyoming config flow), and assist_pipeline."""
    assert await async_setup_component(hass, "homeassistant", {})
    for server in (whisper_server, joe_piper):
        result = await hass.config_entries.flow.async_init(
            "wyoming",
            context={"source": SOURCE_USER},
            data={"host": server.host, "port": server.port},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "assist_pipeline", {})
    registry = er.async_get(hass)
    engines = {
        entity.domain: entity.entity_id
        for entity in registry.entities.values()
        if entity.platform == "wyoming"
    }
    return Engines(stt=engines["stt"], tts=engines["tts"])


@pytest.fixture
def pipeline_settings() -> dict[str, Any] | None:
    """Pipeline settings in the English Moxie's data (override per test; None: none)."""
    return None


@pytest.fixture
async def english_moxie(
    hass: HomeAssistant,
    wyoming: Engines,
    ollama_server: OllamaServer,
    pipeline_settings: dict[str, Any] | None,
    agent_options: dict[str, Any],
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
) -> MockConfigEntry:
    """A loaded English Moxie (agent `conversation.moxie`) set up after the Wyoming engines."""
    pipeline: dict[str, Any] | None = None
    if pipeline_settings is not None:
        pipeline = {
            "stt_engine": wyoming.stt,
            "tts_engine": wyoming.tts,
            "tts_voice": None,
            "preferred": False,
        } | pipeline_settings
    agent = agent_options | {"prompt": "You are Moxie."}
    entry = moxie_entry(ollama_server.url, "en", agent, pipeline)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await mosquitto.wait_subscribed("moxie/tts/text")
    assert hass.states.get("conversation.moxie") is not None
    return entry


async def list_pipelines(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> tuple[list[dict[str, Any]], str]:
    """The pipelines and the preferred one, as Assist's settings page lists them."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "assist_pipeline/pipeline/list"})
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]["pipelines"], response["result"]["preferred_pipeline"]


async def create_pipeline(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    name: str,
    engines: Engines,
    *,
    agent: str = "conversation.moxie",
    voice: str | None = None,
    wake_word: str | None = None,
) -> dict[str, Any]:
    """Create an English pipeline on the Wyoming engines as Assist's settings page does."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": name,
            "language": "en",
            "conversation_engine": agent,
            "conversation_language": "en",
            "stt_engine": engines.stt,
            "stt_language": "en",
            "tts_engine": engines.tts,
            "tts_language": "en_US",
            "tts_voice": voice,
            "wake_word_entity": wake_word,
            "wake_word_id": "okay_nabu" if wake_word else None,
        }
    )
    created = await client.receive_json()
    assert created["success"], created
    result: dict[str, Any] = created["result"]
    return result


async def plain_speaker_heard(probe: MqttProbe, topic: str = "moxie/tts/text") -> list[str]:
    """What a plain speaker (OpenMoxie Español's: says everything on topic) has said so far.

    A marker published now arrives after everything published before it, so the list is
    complete up to this moment; the marker itself is not in it.
    """
    marker = f"marker-{len(probe.messages[topic])}-{id(probe)}"
    await probe.publish(topic, marker)
    messages = await probe.wait_for(topic, where=lambda m: m.text == marker)
    end = probe.messages[topic].index(messages[0])
    texts = []
    for message in probe.messages[topic][:end]:
        if message.text.startswith("marker-"):
            continue
        texts.append(message.json()["text"] if message.text.startswith("{") else message.text)
    return texts
