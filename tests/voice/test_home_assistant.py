"""moxie-tts in Home Assistant's real `wyoming` integration, heard back through real Whisper."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
import re

from homeassistant.components import tts
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.moxie_tts import MoxieTts
from peers.voices import LaunchedServer, joe_pcm, to_pcm16, transcribe, word_errors, words
from tests.voice.conftest import JOE, QUIET, seconds

ENGINE = "tts.moxie_tts"
# As a media player that takes WAV asks for it (otherwise HA converts to MP3).
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav", tts.ATTR_PREFERRED_SAMPLE_RATE: 22050}
SAID = "Good morning, Moxie. Turn on the kitchen light and tell me a story about the stars."


def wav_pcm(data: bytes) -> tuple[bytes, int]:
    """PCM and rate of a WAV file, also one streamed with a frame count of 0 (HA's streaming)."""
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    rate = int.from_bytes(data[24:28], "little")
    start = data.index(b"data") + 8
    return data[start:], rate


def reference(text: str) -> float:
    """Seconds of audio piper-tts makes for the whole text at once."""
    pcm, rate, _width, _channels = joe_pcm(text)
    return seconds(pcm, rate)


@pytest.fixture
async def wyoming_tts(hass: HomeAssistant, moxie_tts: MoxieTts, socket_enabled: None) -> str:
    """Moxie-tts added as a user does: the wyoming config flow with its host and port."""
    assert await async_setup_component(hass, "homeassistant", {})
    result = await hass.config_entries.flow.async_init(
        "wyoming",
        context={"source": SOURCE_USER},
        data={"host": moxie_tts.host, "port": moxie_tts.port},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "moxie-tts"
    await hass.async_block_till_done()
    assert hass.states.get(ENGINE) is not None
    return ENGINE


async def test_voices_are_listed(
    hass: HomeAssistant, wyoming_tts: str, hass_ws_client: WebSocketGenerator
) -> None:
    """The TTS entity offers en_US with the joe voice, as the voice picker shows it."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "tts/engine/get", "engine_id": wyoming_tts})
    engine = await client.receive_json()
    await client.send_json_auto_id(
        {"type": "tts/engine/voices", "engine_id": wyoming_tts, "language": "en_US"}
    )
    voices = await client.receive_json()

    assert engine["success"], engine
    assert engine["result"]["provider"]["supported_languages"] == ["en_US"]
    assert voices["success"], voices
    assert [voice["voice_id"] for voice in voices["result"]["voices"]] == [JOE]


async def _through_home_assistant(hass: HomeAssistant, engine: str) -> list[bytes]:
    """SAID as a whole message and as a stream of tokens: the two WAV files HA returns."""
    media_id = tts.generate_media_source_id(hass, SAID, engine, "en_US", options=WAV)
    extension, whole_wav = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"

    stream = tts.async_create_stream(hass, engine, "en_US", options=WAV)
    assert stream.supports_streaming_input

    async def tokens() -> AsyncGenerator[str]:
        for token in re.findall(r"\s*\S+", SAID):
            yield token

    stream.async_set_message_stream(tokens())
    streamed_wav = b"".join([chunk async for chunk in stream.async_stream_result()])
    return [whole_wav, streamed_wav]


async def test_whole_and_streamed_speech_has_the_sentence_length(
    hass: HomeAssistant, wyoming_tts: str
) -> None:
    """Both ways through HA give as much audio as piper-tts makes for the whole sentence."""
    expected = reference(SAID)
    for wav in await _through_home_assistant(hass, wyoming_tts):
        pcm, rate = wav_pcm(wav)
        assert rate == 22050
        assert abs(seconds(pcm, rate) - expected) < 0.1 * expected


async def test_whole_and_streamed_speech_is_heard(
    hass: HomeAssistant, wyoming_tts: str, whisper_server: LaunchedServer
) -> None:
    """Whisper (tiny.en) hears the sentence's words in both (one slip allowed, the name aside)."""
    for wav in await _through_home_assistant(hass, wyoming_tts):
        pcm, rate = wav_pcm(wav)
        heard = await transcribe(whisper_server.uri, to_pcm16(pcm, rate, 2, 1))
        assert word_errors(heard, SAID) <= 1, heard
        assert {"kitchen", "light", "stars"} <= set(words(heard)), heard


@pytest.fixture(scope="module")
def whole_text_tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoxieTts]:
    """moxie-tts with --no-streaming: Home Assistant asks it for whole texts only."""
    server = MoxieTts(tmp_path_factory.mktemp("whole_text_tts"), (*QUIET, "--no-streaming"))
    server.start()
    yield server
    server.stop()


async def _add_tts(hass: HomeAssistant, server: MoxieTts) -> str:
    """Another Wyoming TTS added as a user does; its entity id."""
    result = await hass.config_entries.flow.async_init(
        "wyoming", context={"source": SOURCE_USER}, data={"host": server.host, "port": server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id(
        "tts", "wyoming", f"{result['result'].entry_id}-tts"
    )
    assert entity_id is not None
    return entity_id


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "no-streaming"])
async def test_nothing_to_say_is_an_empty_file(
    hass: HomeAssistant, wyoming_tts: str, whole_text_tts: MoxieTts, streaming: bool
) -> None:
    """Punctuation only: HA returns a valid file with no audio, as WAV and as MP3, no error.

    Streaming, Home Assistant makes the WAV header from moxie-tts's audio-start; without
    streaming, from its first audio-chunk. Then it converts it with ffmpeg like any answer.
    """
    engine = wyoming_tts if streaming else await _add_tts(hass, whole_text_tts)
    for options, kind in ((WAV, "wav"), ({}, "mp3")):
        # Not from Home Assistant's file cache (the test config folder outlives a run).
        media_id = tts.generate_media_source_id(
            hass, "...", engine, "en_US", options=options, cache=False
        )
        extension, data = await tts.async_get_media_source_audio(hass, media_id)
        assert extension == kind
        if kind == "wav":
            assert wav_pcm(data) == (b"", 22050)
        else:
            assert data.startswith(b"ID3")  # an MP3 file, with no frames of audio

    if streaming:  # an answer streamed with no text at all

        async def nothing() -> AsyncGenerator[str]:
            for token in ():
                yield token

        stream = tts.async_create_stream(hass, engine, "en_US", options=WAV)
        stream.async_set_message_stream(nothing())
        streamed = b"".join([chunk async for chunk in stream.async_stream_result()])
        assert wav_pcm(streamed) == (b"", 22050)
