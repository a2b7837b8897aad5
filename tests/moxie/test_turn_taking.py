"""Moxie's satellite with moxie-turn as its speech-to-text: the turn ends when the child is done.

Everything is real except the model: Home Assistant's assist_satellite and assist_pipeline,
its wyoming integration on moxie-turn in front of Whisper tiny.en, Moxie's agent on the loopback
Ollama, the real moxie-speaker (joe), the real Mosquitto, and a 16 kHz Wyoming microphone that
hears joe asking a question with a thinking pause in the middle (peers.questions).
"""

# ruff: noqa: F811 (the fixtures imported from other test modules are test parameters)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant, State
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.mic import WyomingMic
from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.process import free_port
from peers.questions import PAUSED, PausedQuestion, paused_pcm16
from peers.speaker import SpeakerProcess, wait_history
from peers.voices import LaunchedServer, word_errors, words
from tests.moxie.conftest import wait_state
from tests.moxie.pipeline_helpers import Engines, english_moxie, list_pipelines, wyoming  # noqa: F401
from tests.moxie.test_satellite import (  # noqa: F401
    SATELLITE,
    WAIT,
    _in_order,
    last_question,
    pipeline_settings,
    probe,
    said,
    satellite,
    speaker,
)

QUESTION = PAUSED[0]  # "How many legs does a... spider have?" (0.8 s of thinking)
LONG_PAUSE = PAUSED[2]  # "Can you tell me a story about... dragons?" (1.0 s)
ANSWER = "Spiders have eight legs."


@pytest.fixture
def whisper_server(
    whisper_server: LaunchedServer, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[LaunchedServer]:
    """Home Assistant's speech-to-text here: moxie-turn in front of Whisper tiny.en.

    With Smart Turn (pipecat-ai's model), or without a model when parametrized with "none".
    """
    extra = ("--model", "none") if getattr(request, "param", None) == "none" else ()
    server = LaunchedServer.turn(tmp_path, whisper_server.uri, *extra)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def mic(socket_enabled: None) -> AsyncIterator[WyomingMic]:
    """The Wyoming microphone next to Moxie (16 kHz, 16-bit mono, like the recordings)."""
    server = WyomingMic(free_port())
    await server.start()
    yield server
    await server.stop()


async def pipeline_events(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, stt: str
) -> list[list[dict[str, Any]]]:
    """Events of every run of Moxie's pipeline, as Assist's debug view shows them."""
    pipelines, _ = await list_pipelines(hass, hass_ws_client)
    [pipeline] = [p for p in pipelines if p["stt_engine"] == stt]
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline_debug/list", "pipeline_id": pipeline["id"]}
    )
    runs = (await client.receive_json())["result"]["pipeline_runs"]
    events = []
    for run in runs:
        await client.send_json_auto_id(
            {
                "type": "assist_pipeline/pipeline_debug/get",
                "pipeline_id": pipeline["id"],
                "pipeline_run_id": run["pipeline_run_id"],
            }
        )
        events.append((await client.receive_json())["result"]["events"])
    return events


async def ask(hass: HomeAssistant, mic: WyomingMic, question: PausedQuestion = QUESTION) -> None:
    """Listen (Moxie's button) and say the paused question into the microphone."""
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
    )
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    mic.play(paused_pcm16(question))


async def test_a_paused_question_is_answered_once_as_one_question(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    satellite: State,
    wyoming: Engines,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    probe: MqttProbe,
) -> None:
    ollama_server.replies.append(ChatReply(content=ANSWER))
    status_before = len(probe.messages["moxie/status"])
    await ask(hass, mic)
    entries = await wait_history(speaker, lambda h: said(h, ANSWER) is not None)
    assert said(entries, ANSWER)["outcome"] == "played"  # type: ignore[index]
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    # One question, all of it, asked once.
    assert len(ollama_server.chat_requests) == 1
    assert word_errors(" ".join(last_question(ollama_server)), QUESTION.text) <= 1
    assert "spider" in last_question(ollama_server)
    # moxie-turn ended the turn, not Home Assistant's VAD (which has none to run).
    [events] = await pipeline_events(hass, hass_ws_client, wyoming.stt)
    types = [event["type"] for event in events]
    assert "stt-vad-end" not in types
    stt_start = next(e for e in events if e["type"] == "stt-start")
    assert stt_start["data"]["audio_processing"]["requires_external_vad"] is False
    # Thinking from the moment the turn was taken as over (its transcript), then speaking.
    wanted = ["listening", "thinking", "speaking", "idle"]
    async with asyncio.timeout(WAIT):
        while True:
            seen = [m.text for m in probe.messages["moxie/status"][status_before:]]
            if _in_order(seen, wanted):
                break
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("whisper_server", ["none"], indirect=True)
async def test_without_the_model_home_assistant_ends_the_turn_as_before(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    satellite: State,
    wyoming: Engines,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
) -> None:
    ollama_server.replies.append(ChatReply(content=ANSWER))
    await ask(hass, mic, LONG_PAUSE)
    await wait_history(speaker, lambda h: said(h, ANSWER) is not None)
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    # Home Assistant's VAD ended the turn in the pause, as with Whisper alone: the question
    # was cut in two and only its first half was asked.
    [events, *_] = await pipeline_events(hass, hass_ws_client, wyoming.stt)
    assert "stt-vad-end" in [event["type"] for event in events]
    [stt_start] = [event for event in events if event["type"] == "stt-start"]
    assert stt_start["data"]["audio_processing"]["requires_external_vad"] is True
    asked = last_question(ollama_server)
    assert asked[:3] == words(LONG_PAUSE.before)[:3]
    assert "dragons" not in asked
