"""Moxie's Status tells the truth: listening, thinking, speaking, idle, from one owner.

Observed as a user and an MQTT peer see it: `sensor.moxie_status` and `moxie/status` on the real
Mosquitto, while joe's question runs through Moxie's real pipeline (whisper, Ollama, piper).
"""

# ruff: noqa: F811 (the fixtures imported from pipeline_helpers are test parameters)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json

from homeassistant.components import assist_pipeline
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.speaker import wait_connected
from peers.voices import SENTENCE, LaunchedServer, joe_pcm16
from tests.moxie.conftest import wait_state
from tests.moxie.pipeline_helpers import (  # noqa: F401
    Engines,
    english_moxie,
    pipeline_settings,
    wyoming,
)
from tests.moxie.test_pipeline_run import METADATA, SATELLITE
from tests.speaker.conftest import SpeakerFactory, piper, start_speaker, voice_dir  # noqa: F401

STATUS = "sensor.moxie_status"


def published(probe: MqttProbe) -> list[str]:
    return [m.text for m in probe.messages["moxie/status"]]


async def test_speaking_follows_whatever_the_speaker_says(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    """The speaker saying anything (moxie.say, the Puppet, OpenMoxie) makes Moxie speaking."""
    await wait_state(hass, STATUS, lambda s: s.state == "idle")
    speaking = {"status": "speaking", "current_text": "¡Hola!", "queue_size": 0}
    await mqtt_probe.publish("moxie/tts/status", json.dumps(speaking), retain=True)
    await wait_state(hass, STATUS, lambda s: s.state == "speaking")

    idle = {"status": "idle", "current_text": None, "queue_size": 0}
    await mqtt_probe.publish("moxie/tts/status", json.dumps(idle), retain=True)
    await wait_state(hass, STATUS, lambda s: s.state == "idle")
    await mqtt_probe.wait_for("moxie/status", 3)
    assert published(mqtt_probe) == ["idle", "speaking", "idle"]
    assert moxie_entry.runtime_data.status.state == "idle"


async def test_speaking_while_the_real_speaker_says_moxie_say(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    start_speaker: SpeakerFactory,
    piper: LaunchedServer,
) -> None:
    """moxie.say heard through the real moxie-speaker: speaking while it talks, then idle."""
    speaker = start_speaker()
    await wait_connected(speaker)
    await wait_state(hass, STATUS, lambda s: s.state == "idle")

    await hass.services.async_call(
        "moxie", "say", {"text": "Hola, familia. Ya es hora de cenar."}, blocking=True
    )

    await wait_state(hass, STATUS, lambda s: s.state == "speaking", timeout=30)
    await wait_state(hass, STATUS, lambda s: s.state == "idle", timeout=30)
    assert published(mqtt_probe)[-2:] == ["speaking", "idle"]


async def held_question(pcm: bytes, go_on: asyncio.Event) -> AsyncIterator[bytes]:
    """The question in 100 ms chunks; after the first one it waits until go_on is set."""
    step = 16000 * 2 // 10
    chunks = [pcm[start : start + step] for start in range(0, len(pcm), step)]
    yield chunks[0]
    await go_on.wait()
    for chunk in chunks[1:]:
        yield chunk


@pytest.mark.parametrize("pipeline_settings", [{}])
@pytest.mark.parametrize(
    ("satellite_id", "expected"),
    [
        (None, ["idle", "listening", "thinking", "speaking", "idle"]),
        # The satellite says the answer, not Moxie: no speaking.
        (SATELLITE, ["idle", "listening", "thinking", "idle"]),
    ],
)
async def test_a_voice_turn_is_listening_thinking_then_speaking(
    hass: HomeAssistant,
    *,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    satellite_id: str | None,
    expected: list[str],
) -> None:
    """Listening during speech-to-text, thinking until the first text, then who speaks."""
    ollama_server.replies.append(ChatReply(content="The light is on. Sleep well, little star."))
    go_on = asyncio.Event()
    events: list[assist_pipeline.PipelineEvent] = []
    run = hass.async_create_task(
        assist_pipeline.async_pipeline_from_audio_stream(
            hass,
            context=Context(),
            event_callback=events.append,
            stt_metadata=METADATA,
            stt_stream=held_question(joe_pcm16(SENTENCE), go_on),
            pipeline_id=english_moxie.data["pipeline"]["id"],
            satellite_id=satellite_id,
            audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
        )
    )

    await wait_state(hass, STATUS, lambda s: s.state == "listening")
    ollama_server.stall = asyncio.Event()  # the model takes its time to answer
    go_on.set()
    await wait_state(hass, STATUS, lambda s: s.state == "thinking", timeout=60)
    ollama_server.stall.set()
    await run
    # The satellite (or browser) plays the answer's audio.
    url = next(e for e in events if e.type == "tts-end").data["tts_output"]["url"]
    assert (await (await hass_client()).get(url)).status == 200

    await wait_state(hass, STATUS, lambda s: s.state == "idle")
    await mqtt_probe.wait_for("moxie/status", len(expected))
    assert published(mqtt_probe) == expected
    # Assist's debug view still shows the run, every event included.
    client = await hass_ws_client(hass)
    pipeline_id = english_moxie.data["pipeline"]["id"]
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline_debug/list", "pipeline_id": pipeline_id}
    )
    [debug_run] = (await client.receive_json())["result"]["pipeline_runs"]
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline_debug/get",
            "pipeline_id": pipeline_id,
            "pipeline_run_id": debug_run["pipeline_run_id"],
        }
    )
    debug = (await client.receive_json())["result"]["events"]
    assert [event["type"] for event in debug] == [event.type for event in events]
