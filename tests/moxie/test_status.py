"""Moxie's Status tells the truth: listening, thinking, speaking, idle, from one owner.

Observed as a user and an MQTT peer see it: `sensor.moxie_status` and `moxie/status` on the real
Mosquitto, while joe's question runs through Moxie's real pipeline (whisper, Ollama, piper), asked
through another integration's real satellite (tests/moxie/kitchen_satellite.py). Moxie's own
satellite's turns are in test_satellite.py.
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
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.speaker import wait_connected
from peers.voices import SENTENCE, LaunchedServer, joe_pcm16
from tests.moxie.conftest import wait_state
from tests.moxie.kitchen_satellite import (
    KITCHEN_SATELLITE,
    KitchenSatellite,
    async_add_kitchen,
    kitchen_select,
)
from tests.moxie.pipeline_helpers import (  # noqa: F401
    Engines,
    create_pipeline,
    english_moxie,
    pipeline_settings,
    wyoming,
)
from tests.moxie.test_pipeline_run import METADATA
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
    # The probe is another subscriber: it may get the last state just after Home Assistant.
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle", count=2)
    assert published(mqtt_probe)[-2:] == ["speaking", "idle"]


async def held_question(pcm: bytes, go_on: asyncio.Event) -> AsyncIterator[bytes]:
    """The question in 100 ms chunks; after the first one it waits until go_on is set."""
    step = 16000 * 2 // 10
    chunks = [pcm[start : start + step] for start in range(0, len(pcm), step)]
    yield chunks[0]
    await go_on.wait()
    for chunk in chunks[1:]:
        yield chunk


@pytest.fixture
async def kitchen(hass: HomeAssistant, english_moxie: MockConfigEntry) -> KitchenSatellite:
    """Another integration's satellite (as a Voice PE) next to Moxie, with its pipeline select."""
    satellite = KitchenSatellite()
    await async_add_kitchen(hass, satellite)
    return satellite


async def choose_pipeline(hass: HomeAssistant, option: str) -> None:
    """Choose the kitchen satellite's pipeline as a user does on its device page."""
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": kitchen_select(hass), "option": option},
        blocking=True,
    )


@pytest.mark.parametrize("pipeline_settings", [{}])
@pytest.mark.parametrize(
    ("preferred", "option", "followed"),
    [
        ("Kitchen", "Moxie", True),
        # `preferred` is Moxie's pipeline while Moxie's pipeline is the preferred one.
        ("Moxie", "preferred", True),
        ("Kitchen", "preferred", False),
        ("Moxie", "Kitchen", False),
    ],
)
async def test_a_voice_turn_on_another_satellite_is_listening_then_thinking(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
    kitchen: KitchenSatellite,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    preferred: str,
    option: str,
    followed: bool,
) -> None:
    """A satellite whose pipeline is Moxie's: listening, thinking until the first text, idle.

    The satellite says the answer itself (it is `responding`), so Moxie does not speak. A
    satellite on another pipeline (`Kitchen`: Home Assistant's agent) leaves Moxie idle.
    """
    pipelines = {
        "Moxie": english_moxie.data["pipeline"]["id"],
        "Kitchen": (
            await create_pipeline(
                hass, hass_ws_client, "Kitchen", wyoming, agent="conversation.home_assistant"
            )
        )["id"],
    }
    assert assist_pipeline.async_get_pipeline(hass, pipelines["Moxie"]).name == "Moxie"
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipelines[preferred]}
    )
    assert (await client.receive_json())["success"]
    await choose_pipeline(hass, option)
    ollama_server.replies.append(ChatReply(content="The light is on. Sleep well, little star."))
    go_on = asyncio.Event()
    run = hass.async_create_task(
        kitchen.async_accept_pipeline_from_satellite(held_question(joe_pcm16(SENTENCE), go_on))
    )

    await wait_state(hass, KITCHEN_SATELLITE, lambda s: s.state == "listening")
    if followed:
        await wait_state(hass, STATUS, lambda s: s.state == "listening")
        ollama_server.stall = asyncio.Event()  # the model takes its time to answer
    go_on.set()
    if followed:
        await wait_state(hass, STATUS, lambda s: s.state == "thinking", timeout=60)
        assert ollama_server.stall is not None
        ollama_server.stall.set()
    await run
    # The satellite plays the answer's audio, then says it has finished.
    await wait_state(hass, KITCHEN_SATELLITE, lambda s: s.state == "responding")
    assert [e.type for e in kitchen.events if e.type == "tts-end"] == ["tts-end"]
    kitchen.tts_response_finished()
    await wait_state(hass, KITCHEN_SATELLITE, lambda s: s.state == "idle")

    await wait_state(hass, STATUS, lambda s: s.state == "idle")
    # Everything Moxie published before a last change (the speaker speaking) has arrived.
    speaking = {"status": "speaking", "current_text": "¡Hola!", "queue_size": 0}
    await mqtt_probe.publish("moxie/tts/status", json.dumps(speaking), retain=True)
    await wait_state(hass, STATUS, lambda s: s.state == "speaking")
    expected = ["idle", "listening", "thinking", "idle"] if followed else ["idle"]
    await mqtt_probe.wait_for("moxie/status", len(expected) + 1)
    assert published(mqtt_probe) == [*expected, "speaking"]
    # The kitchen satellite never reads the answer's audio: Home Assistant still synthesizes it
    # into its TTS cache in the background; let Piper finish before the test's teardown.
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_a_turn_without_satellite_is_thinking_then_speaking(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """A run no satellite makes (Assist's dialog in a browser): nothing public says it listens.

    Moxie's agent still thinks until its first text, and Moxie's speaker says the answer.
    """
    ollama_server.replies.append(ChatReply(content="The light is on. Sleep well, little star."))
    ollama_server.stall = asyncio.Event()
    go_on = asyncio.Event()
    go_on.set()
    run = hass.async_create_task(
        assist_pipeline.async_pipeline_from_audio_stream(
            hass,
            context=Context(),
            event_callback=lambda _: None,
            stt_metadata=METADATA,
            stt_stream=held_question(joe_pcm16(SENTENCE), go_on),
            pipeline_id=english_moxie.data["pipeline"]["id"],
            audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
        )
    )
    await wait_state(hass, STATUS, lambda s: s.state == "thinking", timeout=60)
    ollama_server.stall.set()
    await run

    await wait_state(hass, STATUS, lambda s: s.state == "idle")
    await mqtt_probe.wait_for("moxie/status", 4)
    assert published(mqtt_probe) == ["idle", "thinking", "speaking", "idle"]
