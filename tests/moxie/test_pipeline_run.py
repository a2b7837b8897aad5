"""A whole voice turn through Moxie's pipeline, and who says the answer.

joe's recorded question goes through HA's real wyoming STT (moxie-whisper, tiny.en), Moxie's
agent on the loopback Ollama, and HA's real wyoming TTS (moxie-piper, joe, streaming) with the
audio converted by the real ffmpeg; the answer is mirrored on the real Mosquitto, spoken or not.
"""

# ruff: noqa: F811 (the fixtures imported from pipeline_helpers are test parameters)
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.components import assist_pipeline, conversation
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from peers.entries import AGENT_OPTIONS
from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.voices import SENTENCE, joe_pcm16, same_words_but_name, stt_metadata
from tests.moxie.pipeline_helpers import (  # noqa: F401
    Engines,
    english_moxie,
    pipeline_settings,
    plain_speaker_heard,
    wyoming,
)

ANSWER = (
    "The kitchen light is on now. Once upon a time, a little star wanted to see the sea, "
    "so it asked the moon for a ride."
)
SATELLITE = "assist_satellite.kitchen_voice"
METADATA = stt_metadata()


async def audio(pcm: bytes) -> AsyncIterator[bytes]:
    """The question as a satellite streams it: 100 ms chunks."""
    step = 16000 * 2 // 10
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


async def run_voice_turn(
    hass: HomeAssistant, pipeline_id: str, *, satellite_id: str | None = None
) -> list[assist_pipeline.PipelineEvent]:
    """Run the pipeline from joe's question to the answer's audio; return its events."""
    events: list[assist_pipeline.PipelineEvent] = []
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=events.append,
        stt_metadata=METADATA,
        stt_stream=audio(joe_pcm16(SENTENCE)),
        pipeline_id=pipeline_id,
        satellite_id=satellite_id,
        audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
    )
    return events


@pytest.mark.parametrize("pipeline_settings", [{}])
@pytest.mark.parametrize("satellite_id", [SATELLITE, None])
async def test_voice_turn_streams_and_is_heard_once(
    hass: HomeAssistant,
    *,
    hass_client: ClientSessionGenerator,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    satellite_id: str | None,
) -> None:
    """Speech to text to Moxie to streamed speech; asked by a satellite, the speaker is silent."""
    ollama_server.token_interval = 0.01
    ollama_server.replies.append(ChatReply(content=ANSWER))
    pipeline_id = english_moxie.data["pipeline"]["id"]

    events = await run_voice_turn(hass, pipeline_id, satellite_id=satellite_id)

    types = [event.type for event in events]
    assert types[0] == "run-start", events
    assert types[-1] == "run-end", events
    assert "error" not in types, events
    for stage in ("stt-start", "stt-end", "intent-start", "intent-end", "tts-start", "tts-end"):
        assert stage in types
    heard = next(e for e in events if e.type == "stt-end").data["stt_output"]["text"]
    assert same_words_but_name(heard), heard
    asked = ollama_server.chat_requests[-1]["messages"][-1]
    assert (asked["role"], asked["content"]) == ("user", heard)
    # The text reached the TTS while the answer was still streaming.
    streaming = [
        i
        for i, e in enumerate(events)
        if e.type == "intent-progress" and (e.data or {}).get("tts_start_streaming")
    ]
    assert streaming
    assert streaming[0] < types.index("intent-end")
    answer = next(e for e in events if e.type == "intent-end").data["intent_output"]
    assert answer["response"]["speech"]["plain"]["speech"] == ANSWER
    # The answer's audio, converted by ffmpeg, as the satellite (or browser) fetches it.
    url = next(e for e in events if e.type == "tts-end").data["tts_output"]["url"]
    response = await (await hass_client()).get(url)
    assert response.status == 200
    sound = await response.read()
    assert len(sound) > 8000
    assert sound[:3] == b"ID3" or sound[0] == 0xFF

    said = await mqtt_probe.wait_for(
        "moxie/speech", 2, where=lambda m: m.json()["source"] == "assistant"
    )
    assert " ".join(m.json()["text"] for m in said) == ANSWER
    for message in said:
        assert message.json()["speak"] is (satellite_id is None)
        assert message.json()["satellite"] == satellite_id
    # A plain speaker (OpenMoxie Español's) says the answer once, or never when the satellite
    # plays it.
    heard = await plain_speaker_heard(mqtt_probe)
    assert heard == ([m.json()["text"] for m in said] if satellite_id is None else [])


@pytest.mark.parametrize(
    ("agent_options", "satellite_id", "device_id", "spoken"),
    [
        ({**AGENT_OPTIONS, "speaker_playback": "automatic"}, SATELLITE, None, False),
        ({**AGENT_OPTIONS, "speaker_playback": "automatic"}, None, "a_satellite_device", False),
        ({**AGENT_OPTIONS, "speaker_playback": "automatic"}, None, None, True),
        ({**AGENT_OPTIONS, "speaker_playback": "always"}, SATELLITE, None, True),
        ({**AGENT_OPTIONS, "speaker_playback": "never"}, None, None, False),
        (AGENT_OPTIONS, SATELLITE, None, False),
    ],
)
async def test_speaker_playback_option(
    hass: HomeAssistant,
    *,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    satellite_id: str | None,
    device_id: str | None,
    spoken: bool,
) -> None:
    """Each agent says whether Moxie's speaker voices its answers; the event always fires."""
    ollama_server.replies.append(ChatReply(content="Hola. ¿Qué tal?"))

    result = await conversation.async_converse(
        hass,
        "Hola",
        None,
        Context(),
        language="es",
        agent_id="conversation.moxie",
        device_id=device_id,
        satellite_id=satellite_id,
    )

    assert result.response.speech["plain"]["speech"] == "Hola. ¿Qué tal?"
    events = await mqtt_probe.wait_for("moxie/speech", 2)
    payloads: list[dict[str, Any]] = [m.json() for m in events]
    assert [p["text"] for p in payloads] == ["Hola.", "¿Qué tal?"]
    assert {(p["speak"], p["satellite"]) for p in payloads} == {(spoken, satellite_id)}
    assert len({p["group"] for p in payloads}) == 1
    # What a plain subscriber of moxie/tts/text says: the answer once, or nothing at all.
    heard = await plain_speaker_heard(mqtt_probe)
    assert heard == (["Hola.", "¿Qué tal?"] if spoken else [])


async def test_speaker_playback_is_an_agent_option(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """The agent's form offers the playback choice; "never" keeps the speaker silent."""
    [agent] = [s for s in moxie_brain.subentries.values() if s.subentry_type == "conversation"]
    result = await hass.config_entries.subentries.async_init(
        (moxie_brain.entry_id, "conversation"),
        context={"source": "reconfigure", "subentry_id": agent.subentry_id},
    )
    field = next(k for k in result["data_schema"].schema if str(k) == "speaker_playback")
    assert field.description == {"suggested_value": "automatic"}
    selector = result["data_schema"].schema[field]
    assert selector.config["options"] == ["automatic", "always", "never"]
    assert selector.config["translation_key"] == "speaker_playback"

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**agent.data, "speaker_playback": "never"}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    ollama_server.replies.append(ChatReply(content="Vale."))
    await conversation.async_converse(
        hass, "Hola", None, Context(), language="es", agent_id="conversation.moxie"
    )

    [said] = await mqtt_probe.wait_for("moxie/speech")
    assert (said.json()["text"], said.json()["speak"]) == ("Vale.", False)
    assert await plain_speaker_heard(mqtt_probe) == []
