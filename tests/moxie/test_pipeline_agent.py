"""Moxie's agent in the Assist pipeline's intent stage, over Home Assistant's websocket API."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer


async def run_intent(
    hass_ws_client: WebSocketGenerator, hass: HomeAssistant, text: str
) -> list[dict[str, Any]]:
    """Run a text-only pipeline on the Moxie agent; return its events."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": "Moxie",
            "language": "es",
            "conversation_engine": "conversation.moxie",
            "conversation_language": "es",
            "prefer_local_intents": False,
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": None,
            "tts_language": None,
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    created = await client.receive_json()
    assert created["success"], created
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "start_stage": "intent",
            "end_stage": "intent",
            "input": {"text": text},
            "pipeline": created["result"]["id"],
        }
    )
    assert (await client.receive_json())["success"]
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] not in ("run-end", "error"):
        message = await client.receive_json()
        events.append(message["event"])
    return events


async def test_intent_stage_streams_deltas_in_order(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """Each streamed token reaches the ChatLog (intent-progress) in order; thinking apart."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    tokens = ["Las ", "estrellas ", "brillan ", "de ", "noche. ", "¡Qué ", "bonitas!"]
    ollama_server.replies.append(ChatReply(content=tokens, thinking="Pregunta sobre el cielo."))

    events = await run_intent(hass_ws_client, hass, "¿Por qué brillan las estrellas?")

    types = [event["type"] for event in events]
    assert types[0] == "run-start"
    assert types[-1] == "run-end"
    deltas = [
        event["data"]["chat_log_delta"]
        for event in events
        if event["type"] == "intent-progress" and "chat_log_delta" in event["data"]
    ]
    assert deltas[0] == {"role": "assistant"}
    assert [d["content"] for d in deltas if "content" in d] == tokens
    assert "".join(d.get("thinking_content", "") for d in deltas) == "Pregunta sobre el cielo."
    intent_end = next(event for event in events if event["type"] == "intent-end")
    response = intent_end["data"]["intent_output"]["response"]
    assert response["speech"]["plain"]["speech"] == "".join(tokens)
    said = await mqtt_probe.wait_for(
        "moxie/tts/text", 2, where=lambda m: m.json()["source"] == "assistant"
    )
    assert [m.json()["text"] for m in said] == ["Las estrellas brillan de noche.", "¡Qué bonitas!"]
