"""Home Assistant's real `wyoming` integration adds Moxie's speech servers and uses them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address
from pathlib import Path
import uuid

from homeassistant.components import stt, tts
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.setup import async_setup_component
import pytest

from peers.tiny_voice import write_voice
from peers.voices import (
    SENTENCE,
    STT_RATE,
    LaunchedServer,
    joe_pcm16,
    same_words_but_name,
    stt_metadata,
    transcribe,
)
from tests.servers.mdns import browse


@pytest.fixture
async def ha(hass: HomeAssistant, tmp_path: Path, socket_enabled: None) -> HomeAssistant:
    """Home Assistant with its config (and TTS cache) in a temporary folder."""
    (tmp_path / "configuration.yaml").write_text("", encoding="utf-8")
    hass.config.config_dir = str(tmp_path)
    assert await async_setup_component(hass, "homeassistant", {})
    return hass


async def add_server(hass: HomeAssistant, server: LaunchedServer) -> ConfigEntry:
    """Add a Wyoming server through the integration's user flow, as a user does in the UI."""
    result = await hass.config_entries.flow.async_init("wyoming", context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": server.host, "port": server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    return entry


def entity_of(hass: HomeAssistant, entry: ConfigEntry, domain: str) -> str:
    """The one entity of domain the entry created."""
    entities = [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.domain == domain
    ]
    assert len(entities) == 1, entities
    return entities[0]


async def _decode(mp3: bytes) -> bytes:
    """16 kHz mono PCM of an MP3, decoded by ffmpeg."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:", "-f", "s16le",
        "-ac", "1", "-ar", str(STT_RATE), "pipe:",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    pcm, _ = await process.communicate(mp3)
    assert process.returncode == 0
    return pcm


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    step = STT_RATE * 2 // 10
    for start in range(0, len(pcm), step):
        yield pcm[start : start + step]


async def test_home_assistant_hears_joe_through_moxie_whisper(
    ha: HomeAssistant, whisper_server: LaunchedServer
) -> None:
    """The flow adds the whisper server as an stt entity that transcribes joe's sentence."""
    entry = await add_server(ha, whisper_server)
    assert entry.title == "faster-whisper"
    entity_id = entity_of(ha, entry, "stt")
    assert ha.states.get(entity_id) is not None

    entity = stt.async_get_speech_to_text_entity(ha, entity_id)
    assert entity is not None
    assert "en" in entity.supported_languages
    metadata = stt_metadata("en")
    result = await entity.internal_async_process_audio_stream(
        metadata, _chunks(joe_pcm16(SENTENCE))
    )

    assert result.result is stt.SpeechResultState.SUCCESS
    assert result.text is not None
    assert same_words_but_name(result.text), result.text


async def test_home_assistant_speaks_with_joe_through_moxie_piper(
    ha: HomeAssistant, joe_piper: LaunchedServer, whisper_server: LaunchedServer
) -> None:
    """The flow adds the piper server as a tts entity; its audio is joe saying the sentence."""
    entry = await add_server(ha, joe_piper)
    assert entry.title == "piper"
    entity_id = entity_of(ha, entry, "tts")
    assert ha.states.get(entity_id) is not None

    media_id = tts.generate_media_source_id(
        ha, SENTENCE, engine=entity_id, language="en_US", options={"voice": "en_US-joe-medium"}
    )
    extension, data = await tts.async_get_media_source_audio(ha, media_id)

    assert extension == "mp3"  # HA converted joe's WAV with ffmpeg, as for a media player
    pcm16 = await _decode(data)
    assert len(pcm16) > STT_RATE * 2 * 2  # more than two seconds of speech
    heard = await transcribe(whisper_server.uri, pcm16)
    assert same_words_but_name(heard), heard


SPANISH_VOICE = "es_ES-davefx-medium"


@pytest.fixture
def spanish_piper(tmp_path: Path) -> Iterator[LaunchedServer]:
    """moxie-piper with its defaults (voice, streaming, zeroconf) on loopback.

    The real es_ES-davefx-medium cannot be downloaded here: a generated Spanish voice stands in
    under its name. The zeroconf name is unique per run so parallel runs do not collide.
    """
    server = LaunchedServer("piper", tmp_path / "spanish_piper", [])
    server.workdir.mkdir()
    server.env["MOXIE_PIPER_ZEROCONF"] = f"moxie-piper-test-{uuid.uuid4().hex[:8]}"
    write_voice(server.data_dir / "piper", SPANISH_VOICE)
    server.start()
    yield server
    server.stop()


async def test_home_assistant_discovers_moxie_piper_over_zeroconf(
    ha: HomeAssistant, spanish_piper: LaunchedServer
) -> None:
    """The announcement leads HA's zeroconf flow to a tts entity speaking the Spanish voice."""
    name = spanish_piper.env["MOXIE_PIPER_ZEROCONF"]
    announced = browse(name)
    assert announced["port"] == spanish_piper.port
    addresses = announced["addresses"]
    assert isinstance(addresses, list)
    assert addresses == [spanish_piper.host]
    discovery = ZeroconfServiceInfo(
        ip_address=ip_address(addresses[0]),
        ip_addresses=[ip_address(address) for address in addresses],
        port=spanish_piper.port,
        hostname=f"{name}.local.",
        type="_wyoming._tcp.local.",
        name=f"{name}._wyoming._tcp.local.",
        properties={},
    )

    result = await ha.config_entries.flow.async_init(
        "wyoming", context={"source": SOURCE_ZEROCONF}, data=discovery
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    result = await ha.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "piper"
    assert result["data"] == {"host": spanish_piper.host, "port": spanish_piper.port}
    await ha.async_block_till_done()
    entry = ha.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    entity_id = entity_of(ha, entry, "tts")

    text = "Hola, soy Moxie."
    media_id = tts.generate_media_source_id(ha, text, engine=entity_id, language="es_ES")
    extension, data = await tts.async_get_media_source_audio(ha, media_id)

    assert extension == "mp3"
    assert len(await _decode(data)) > STT_RATE * 2 // 2  # the stand-in voice: > 0.5 s
    assert f"--voice {SPANISH_VOICE}" in spanish_piper.log_text()
