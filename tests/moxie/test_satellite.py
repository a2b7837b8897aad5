"""Moxie as a voice satellite, end to end with real peers.

Home Assistant's real assist_satellite and assist_pipeline run Moxie's pipeline: HA's wyoming
speech-to-text on the real wyoming-faster-whisper (tiny.en), Moxie's agent on the loopback
Ollama, the real moxie-speaker (joe's voice through wyoming-piper, WAV sink paced in real time)
on the real Mosquitto, and a Wyoming microphone (tests/wyoming_mic.py) that hears joe's voice at
22.05 kHz (so the satellite converts it to Assist's 16 kHz).
"""

# ruff: noqa: F811 (the fixtures imported from pipeline_helpers are test parameters)
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.broker import Mosquitto
from peers.mic import WyomingMic
from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.process import free_port
from peers.speaker import SpeakerProcess, history, wait_connected, wait_history
from peers.voices import LaunchedServer, joe_pcm, words
from peers.wake import WyomingWake
from tests.moxie.conftest import wait_state
from tests.moxie.pipeline_helpers import Engines, create_pipeline, english_moxie, wyoming  # noqa: F401

SATELLITE = "assist_satellite.moxie"
WAIT = 90.0  # speech-to-text and synthesis on a loaded 2-core machine


@pytest.fixture
def pipeline_settings() -> dict[str, Any]:
    """Moxie's entry has a pipeline (created at setup)."""
    return {}


def joe(text: str) -> bytes:
    """Joe saying text, at the voice's own 22.05 kHz (the microphone's format here)."""
    pcm, rate, _, _ = joe_pcm(text)
    assert rate == 22050
    return pcm


@pytest.fixture
async def mic(socket_enabled: None) -> AsyncIterator[WyomingMic]:
    """The Wyoming microphone next to Moxie (22.05 kHz, 16-bit mono)."""
    server = WyomingMic(free_port(), rate=22050)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def speaker(
    mosquitto: Mosquitto, joe_piper: LaunchedServer, tmp_path: Path
) -> Iterator[SpeakerProcess]:
    """The real moxie-speaker speaking with joe (paced like a sound card)."""
    workdir = tmp_path / "speaker"
    workdir.mkdir()
    process = SpeakerProcess(workdir, mosquitto, joe_piper.uri)
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def probe(mosquitto: Mosquitto) -> AsyncIterator[MqttProbe]:
    """A real MQTT client recording Moxie's topics."""
    recorder = MqttProbe(mosquitto.host, mosquitto.port)
    await recorder.start("moxie/#")
    yield recorder
    await recorder.stop()


async def set_mic(hass: HomeAssistant, entry: MockConfigEntry, **mic: Any) -> Any:
    """Configure > Microphone, as a user fills it (the options menu's own step)."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "microphone"}
    )
    assert result["step_id"] == "microphone"
    return await hass.config_entries.options.async_configure(result["flow_id"], mic)


@pytest.fixture
async def satellite(
    hass: HomeAssistant,
    english_moxie: MockConfigEntry,
    wyoming: Engines,
    mic: WyomingMic,
    speaker: SpeakerProcess,
) -> State:
    """Moxie's satellite connected to the microphone, with the speaker online; barge-in on."""
    result = await set_mic(hass, english_moxie, mic_host=mic.host, mic_port=mic.port, barge_in=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_connected(speaker)
    return await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)


def said(entries: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    """The speaker's history entry of text, if any."""
    return next((e for e in entries if e["text"] == text), None)


def last_question(ollama: OllamaServer) -> list[str]:
    """The words of the last user message Moxie's brain was asked."""
    messages = ollama.chat_requests[-1]["messages"]
    return words(next(m["content"] for m in reversed(messages) if m["role"] == "user"))


async def test_satellite_device_and_settings(
    hass: HomeAssistant,
    english_moxie: MockConfigEntry,
    satellite: State,
) -> None:
    """The satellite and its settings sit on a device of the Moxie entry; Moxie's pipeline."""
    registry = er.async_get(hass)
    entities = {
        e.entity_id: e for e in er.async_entries_for_config_entry(registry, english_moxie.entry_id)
    }
    ids = {
        SATELLITE,
        "select.moxie_pipeline",
        "select.moxie_vad_sensitivity",
        "button.moxie_listen",
    }
    assert ids <= set(entities)
    device = dr.async_get(hass).async_get(entities[SATELLITE].device_id)  # type: ignore[arg-type]
    assert device is not None
    assert device.identifiers == {("moxie", english_moxie.entry_id)}
    assert device.config_entry_id == english_moxie.entry_id
    assert {entities[e].device_id for e in ids} == {device.id}
    # The pipeline select starts on Moxie's own pipeline, not "preferred".
    assert hass.states.get("select.moxie_pipeline").state == "Moxie"  # type: ignore[union-attr]
    assert satellite.attributes["supported_features"] == 3  # announce + start conversation


async def test_announce_returns_once_said_and_fails_without_speaker(
    hass: HomeAssistant, satellite: State, speaker: SpeakerProcess, probe: MqttProbe
) -> None:
    """Announce blocks until the speaker said it; with the speaker stopped it fails clearly."""
    text = "Dinner is ready, everybody."
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": SATELLITE, "message": text, "preannounce": False},
        blocking=True,
    )
    # When the action returns, the speaker has played it to the end.
    entry = said(await history(speaker), text)
    assert entry is not None
    assert entry["outcome"] == "played"
    assert entry["source"] == "announcement"
    [mirrored] = [json.loads(m.payload) for m in probe.messages["moxie/tts/text"] if text in m.text]
    assert mirrored["source"] == "announcement"
    # The action returned once the speaker reported this utterance finished, by its id.
    assert entry["id"] == mirrored["id"]
    assert hass.states.get(SATELLITE).state == "idle"  # type: ignore[union-attr]

    speaker.stop()
    await probe.wait_for("moxie/speaker/availability", where=lambda m: m.text == "offline")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Is anybody there?", "preannounce": False},
            blocking=True,
        )
    assert err.value.translation_key == "speaker_offline"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "media_id": "media-source://nothing", "preannounce": False},
            blocking=True,
        )
    assert err.value.translation_key == "satellite_text_only"


async def test_start_conversation_speaks_listens_and_answers(
    hass: HomeAssistant,
    satellite: State,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    probe: MqttProbe,
) -> None:
    """Moxie asks, hears the answer through the mic, and its answer is voiced once, by Moxie."""
    ollama_server.replies.append(ChatReply(content="Pizza it is."))
    # Taken before Moxie starts: "listening" may reach the broker before the mic plays.
    status_before = list(probe.messages["moxie/status"])
    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {
            "entity_id": SATELLITE,
            "start_message": "What would you like for dinner?",
            "preannounce": False,
        },
        blocking=True,
    )
    opening = said(await history(speaker), "What would you like for dinner?")
    assert opening is not None
    assert opening["outcome"] == "played"
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)

    sound = mic.play(joe("I would like a pizza, please."))
    entries = await wait_history(speaker, lambda h: said(h, "Pizza it is.") is not None)
    assert said(entries, "Pizza it is.")["outcome"] == "played"  # type: ignore[index]
    assert sound.done.is_set()
    assert last_question(ollama_server)[-3:] == ["a", "pizza", "please"]
    # The brain knows what Moxie asked (Home Assistant gives the opening line as context).
    system = ollama_server.chat_requests[-1]["messages"][0]
    assert system["role"] == "system"
    assert "What would you like for dinner?" in system["content"]
    # Moxie's answer went to the speaker, once; no other voice played it.
    [answer] = [
        json.loads(m.payload) for m in probe.messages["moxie/tts/text"] if "Pizza it is" in m.text
    ]
    assert answer["source"] == "assistant"
    assert answer["source"] == "assistant"
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    # Moxie's Status followed: listening, thinking, speaking, idle (after the opening line).
    wanted = ["speaking", "listening", "thinking", "speaking", "idle"]

    def statuses() -> list[str]:
        return [m.text for m in probe.messages["moxie/status"][len(status_before) :]]

    async with asyncio.timeout(WAIT):
        while not _in_order(statuses(), wanted):
            await asyncio.sleep(0.05)


def _in_order(seen: list[str], wanted: list[str]) -> bool:
    position = 0
    for state in seen:
        if position < len(wanted) and state == wanted[position]:
            position += 1
    return position == len(wanted)


ANSWERS = [
    {"id": "yes", "sentences": ["yes [please]", "sure"]},
    {"id": "no", "sentences": ["no [thanks]"]},
]


@pytest.mark.parametrize(
    ("spoken", "expected_id"), [("Yes, please.", "yes"), ("The sky is blue today.", None)]
)
async def test_ask_question_matches_the_spoken_answer(
    hass: HomeAssistant,
    satellite: State,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    spoken: str,
    expected_id: str | None,
) -> None:
    """Moxie asks; the answer heard is matched against the answers (or none matches)."""
    question = "Shall I turn on the lights?"
    call = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {
                "entity_id": SATELLITE,
                "question": question,
                "preannounce": False,
                "answers": ANSWERS,
            },
            blocking=True,
            return_response=True,
        )
    )
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    entry = said(await history(speaker), question)
    assert entry is not None
    assert entry["outcome"] == "played"
    mic.play(joe(spoken))
    async with asyncio.timeout(WAIT):
        answer = await call
    assert answer is not None
    assert answer["id"] == expected_id
    assert words(str(answer["sentence"])) == words(spoken)
    # The answer is the satellite's: Moxie's brain was not asked.
    assert ollama_server.chat_requests == []
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)


@pytest.mark.parametrize("question", ["Which room should I light up?", "¿Qué habitación?"])
async def test_an_answer_that_asks_back_reopens_listening(
    hass: HomeAssistant,
    satellite: State,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    question: str,
) -> None:
    """Moxie's question back is heard, then Moxie listens again with no wake word or action."""
    ollama_server.replies.append(ChatReply(content=question))
    ollama_server.replies.append(ChatReply(content="The kitchen light is on."))
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
    )
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    mic.play(joe("Turn on the light."))
    await wait_history(speaker, lambda h: said(h, question) is not None)
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    mic.play(joe("The kitchen."))
    entries = await wait_history(speaker, lambda h: said(h, "The kitchen light is on.") is not None)
    assert [e["outcome"] for e in entries] == ["played", "played"]
    assert last_question(ollama_server) == ["the", "kitchen"]
    # One conversation: the second question came with the first exchange.
    second = ollama_server.chat_requests[-1]["messages"]
    assert any(m["role"] == "assistant" and m["content"] == question for m in second)
    # "The kitchen light is on." asks nothing: Moxie stops listening.
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    assert len(ollama_server.chat_requests) == 2


STORY = (
    "Once upon a time, a little robot lived on a quiet hill and counted the stars every night. "
    "One night it counted so many stars that it forgot where it had started. "
    "So it began again, happy as can be."
)


async def test_speech_during_playback_stops_the_speaker_and_is_answered(
    hass: HomeAssistant,
    satellite: State,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    probe: MqttProbe,
) -> None:
    """Talking over Moxie stops its speaker at once; what was said is the next question."""
    ollama_server.replies.append(ChatReply(content=STORY))
    ollama_server.replies.append(ChatReply(content="It is noon."))
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
    )
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    mic.play(joe("Tell me a story."))
    await probe.wait_for(
        "moxie/tts/status",
        where=lambda m: (m.json().get("current_text") or "").startswith("Once upon a time"),
        timeout=WAIT,
    )
    mic.play(joe("Excuse me, what time is it?"))
    [stop] = await probe.wait_for("moxie/tts/stop", timeout=WAIT)
    assert stop.json() == {"reason": "barge_in_speech", "clear_queue": True}
    entries = await wait_history(speaker, lambda h: said(h, "It is noon.") is not None)
    story = [e for e in entries if e["source"] == "assistant" and e["text"] != "It is noon."]
    # The story's first sentence was cut short; the rest of the story was never said.
    assert [e["outcome"] for e in story] == ["stopped"]
    assert said(entries, "It is noon.")["outcome"] == "played"  # type: ignore[index]
    assert "what time is it" in " ".join(last_question(ollama_server))
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)


async def test_talking_over_moxie_without_barge_in_does_not_stop_it(
    hass: HomeAssistant,
    english_moxie: MockConfigEntry,
    wyoming: Engines,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    probe: MqttProbe,
) -> None:
    """Barge-in is off by default: speech while Moxie talks (its own voice, say) is no stop."""
    result = await set_mic(hass, english_moxie, mic_host=mic.host, mic_port=mic.port)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_connected(speaker)
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    announced = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": STORY, "preannounce": False},
            blocking=True,
        )
    )
    await probe.wait_for(
        "moxie/tts/status",
        where=lambda m: (m.json().get("current_text") or "").startswith("Once upon a time"),
        timeout=WAIT,
    )
    sound = mic.play(joe("Excuse me, what time is it?"))
    async with asyncio.timeout(WAIT):
        await sound.done.wait()
    await announced  # returns once the whole story was said
    assert probe.messages["moxie/tts/stop"] == []
    entry = said(await history(speaker), STORY)
    assert entry is not None
    assert entry["outcome"] == "played"
    assert hass.states.get(SATELLITE).state == "idle"  # type: ignore[union-attr]


async def test_microphone_lost_and_back(
    hass: HomeAssistant, satellite: State, mic: WyomingMic, caplog: pytest.LogCaptureFixture
) -> None:
    """The microphone goes away: the satellite is unavailable, says why, and comes back alone."""
    caplog.set_level(logging.WARNING)
    await mic.stop()
    await wait_state(hass, SATELLITE, lambda s: s.state == STATE_UNAVAILABLE, WAIT)
    assert f"The microphone of Moxie at 127.0.0.1:{mic.port} is unreachable" in caplog.text
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
        )
    assert err.value.translation_key == "microphone_unavailable"
    await mic.start()
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    assert mic.connections == 2


async def test_microphone_option_refuses_a_uri(
    hass: HomeAssistant, english_moxie: MockConfigEntry
) -> None:
    """The microphone's host is a host, not a URI; without one the satellite is unavailable."""
    result = await set_mic(hass, english_moxie, mic_host="tcp://127.0.0.1:10600")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"mic_host": "invalid_host"}
    assert hass.states.get(SATELLITE).state == STATE_UNAVAILABLE  # type: ignore[union-attr]


async def test_listen_without_a_microphone_says_where_to_set_it(
    hass: HomeAssistant, english_moxie: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """No microphone configured: pressing Listen fails with why, and logs no error."""
    caplog.set_level(logging.DEBUG)
    assert hass.states.get(SATELLITE).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
        )
    assert err.value.translation_key == "microphone_not_set"
    assert "Configure > Microphone" in str(err.value)
    await hass.async_block_till_done()
    assert not [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("custom_components.moxie")
    ]


async def test_microphone_set_without_any_wyoming_service(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, mic: WyomingMic
) -> None:
    """No Wyoming speech services at all (no pipeline possible): the microphone is still saved.

    The pipeline step says Wyoming is missing; the microphone step saves, and the satellite
    connects to the real Wyoming microphone.
    """
    assert hass.config_entries.async_entries("wyoming") == []
    assert hass.states.async_entity_ids(["stt", "tts"]) == []
    assert hass.states.get(SATELLITE).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    result = await hass.config_entries.options.async_init(moxie_brain.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "pipeline"}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "no_wyoming")

    result = await set_mic(hass, moxie_brain, mic_host=mic.host, mic_port=mic.port)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Barge-in is off unless asked for: a microphone next to the loudspeaker hears Moxie.
    assert moxie_brain.options == {"mic_host": mic.host, "mic_port": mic.port, "barge_in": False}
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    assert mic.connections == 1


async def test_another_agents_answer_is_said_by_the_satellite(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    satellite: State,
    *,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    probe: MqttProbe,
) -> None:
    """With a pipeline whose agent is Home Assistant's, the satellite mirrors the answer itself."""
    await create_pipeline(
        hass, hass_ws_client, "Built-in", wyoming, agent="conversation.home_assistant"
    )
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.moxie_pipeline", "option": "Built-in"},
        blocking=True,
    )
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.moxie_listen"}, blocking=True
    )
    await wait_state(hass, SATELLITE, lambda s: s.state == "listening", WAIT)
    mic.play(joe("What time is it?"))
    [mirrored] = await probe.wait_for(
        "moxie/tts/text", where=lambda m: m.json().get("source") == "satellite", timeout=WAIT
    )
    answer = mirrored.json()
    entries = await wait_history(speaker, lambda h: said(h, answer["text"]) is not None)
    assert said(entries, answer["text"])["outcome"] == "played"  # type: ignore[index]
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    # Home Assistant's agent answered; Moxie's brain was not asked.
    assert ollama_server.chat_requests == []


async def test_announce_fails_when_the_speaker_never_says_it(
    hass: HomeAssistant,
    english_moxie: MockConfigEntry,
    wyoming: Engines,
    mic: WyomingMic,
    probe: MqttProbe,
) -> None:
    """A speaker that claims to be online but never speaks: announce fails after its wait."""
    await probe.publish("moxie/speaker/availability", "online", retain=True)
    result = await set_mic(hass, english_moxie, mic_host=mic.host, mic_port=mic.port)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"entity_id": SATELLITE, "message": "Hello?", "preannounce": False},
            blocking=True,
        )
    assert err.value.translation_key == "speaker_silent"
    # It was mirrored for the speaker, as any announcement.
    assert any(m.json()["text"] == "Hello?" for m in probe.messages["moxie/tts/text"])
    assert hass.states.get(SATELLITE).state == "idle"  # type: ignore[union-attr]


@pytest.fixture
async def wake_word(hass: HomeAssistant, wyoming: Engines) -> AsyncIterator[str]:
    """The real microWakeWord "okay nabu" behind HA's wyoming integration: its entity id."""
    server = WyomingWake(free_port())
    await server.start()
    result = await hass.config_entries.flow.async_init(
        "wyoming", context={"source": SOURCE_USER}, data={"host": server.host, "port": server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    [entity] = er.async_entries_for_config_entry(er.async_get(hass), result["result"].entry_id)
    yield entity.entity_id
    await server.stop()


async def test_wake_word_starts_a_question_and_talking_over_moxie_still_stops_it(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    satellite: State,
    *,
    wake_word: str,
    mic: WyomingMic,
    speaker: SpeakerProcess,
    ollama_server: OllamaServer,
    probe: MqttProbe,
) -> None:
    """With a wake word in the pipeline Moxie waits for "okay nabu", even while it speaks."""
    await create_pipeline(
        hass, hass_ws_client, "Moxie with a wake word", wyoming, wake_word=wake_word
    )
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.moxie_pipeline", "option": "Moxie with a wake word"},
        blocking=True,
    )
    ollama_server.replies.append(ChatReply(content=STORY))
    ollama_server.replies.append(ChatReply(content="It is noon."))
    # Without the wake word, nothing is asked.
    await mic.play(joe("What time is it?")).done.wait()
    mic.play(joe("Okay Nabu, tell me a story."))
    await probe.wait_for(
        "moxie/tts/status",
        where=lambda m: (m.json().get("current_text") or "").startswith("Once upon a time"),
        timeout=WAIT,
    )
    # The question is what followed the wake word (tiny.en may hear "a" as "the").
    assert {"tell", "me", "story"} <= set(last_question(ollama_server))
    mic.play(joe("Okay Nabu, what time is it?"))
    [stop] = await probe.wait_for("moxie/tts/stop", timeout=WAIT)
    assert stop.json()["reason"] in {"barge_in_speech", "barge_in_wake_word"}
    entries = await wait_history(speaker, lambda h: said(h, "It is noon.") is not None)
    assert said(entries, "It is noon.")["outcome"] == "played"  # type: ignore[index]
    assert "what time is it" in " ".join(last_question(ollama_server))
    assert len(ollama_server.chat_requests) == 2
    # Back to waiting for the wake word.
    await wait_state(hass, SATELLITE, lambda s: s.state == "idle", WAIT)
