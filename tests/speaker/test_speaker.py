"""The speaker end to end: real Mosquitto, real wyoming-piper, the speaker process, WAV files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.speaker import (
    direct_synthesize,
    get_json,
    history,
    wait_audio,
    wait_connected,
    wait_history,
    wav_pcm,
)
from peers.voices import LaunchedServer
from tests.speaker.conftest import SpeakerFactory

TEXT = "moxie/tts/text"
LONG_TEXT = " ".join(
    f"Esta es la frase número {i} de una historia larga de Moxie." for i in range(12)
)


def _speech(text: str, message_id: str, **extra: Any) -> str:
    return json.dumps({"text": text, "id": message_id, "source": "test", **extra})


def _outcomes(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["id"], entry["outcome"]) for entry in entries]


async def test_mirror_message_becomes_the_servers_pcm(
    mosquitto: Mosquitto, piper: LaunchedServer, start_speaker: SpeakerFactory
) -> None:
    """Contract JSON and plain text are played as exactly the audio wyoming-piper produces."""
    speaker = start_speaker(["--no-pacing"])
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("Hola, soy Moxie. ¿Jugamos?", "j1", priority="high"))
        await peer.publish(TEXT, "Me gusta aprender contigo.")
        entries = await wait_history(speaker, lambda h: len(h) == 2)
    assert [e["outcome"] for e in entries] == ["played", "played"]
    assert entries[0]["id"] == "j1"
    assert entries[1]["id"].startswith("plain-")
    first, second = speaker.wavs()
    assert first.name.endswith("_j1.wav")
    expected_first = await direct_synthesize(piper.uri, "Hola, soy Moxie. ¿Jugamos?")
    expected_second = await direct_synthesize(piper.uri, "Me gusta aprender contigo.")
    assert len(expected_first) > 0
    assert wav_pcm(first) == expected_first
    assert wav_pcm(second) == expected_second
    status = await get_json(f"{speaker.url}/api/status")
    assert status["tts_streaming"] is True


async def test_chunks_reassembled_in_order(
    mosquitto: Mosquitto, piper: LaunchedServer, start_speaker: SpeakerFactory
) -> None:
    """Chunks sharing an id are spoken as one utterance, in chunk order, whatever the arrival."""
    speaker = start_speaker(["--no-pacing"])
    await wait_connected(speaker)
    parts = ["Había una vez un robot", "llamado Moxie.", "Le encantaba aprender."]
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        for index in (1, 3, 2):
            await peer.publish(
                TEXT, _speech(parts[index - 1], "story", chunk=index, total_chunks=3)
            )
        await wait_history(speaker, lambda h: len(h) == 1)
    (wav,) = speaker.wavs()
    assert wav_pcm(wav) == await direct_synthesize(piper.uri, " ".join(parts))
    entry = (await history(speaker))[0]
    assert entry["text"] == " ".join(parts)


async def test_duplicate_delivery_plays_once(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """A QoS 1 redelivery (same id and chunk) is not spoken twice."""
    speaker = start_speaker(["--no-pacing"])
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        for _ in range(3):
            await peer.publish(TEXT, _speech("Solo una vez.", "dup-1"))
        await peer.publish(TEXT, _speech("Y esta después.", "after"))
        await wait_history(speaker, lambda h: [e["id"] for e in h] == ["dup-1", "after"])
    assert [path.name for path in speaker.wavs()] == ["00001_dup-1.wav", "00002_after.wav"]
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["duplicates"] == 2
    assert stats["played"] == 2


async def test_priorities_and_preemption(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """Critical preempts (the preempted utterance is replayed later); high before normal."""
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(LONG_TEXT, "story"))
        await peer.wait_for(
            "moxie/tts/status", where=lambda m: m.json()["current_text"] == LONG_TEXT
        )
        await wait_audio(speaker, "story")
        await peer.publish(TEXT, _speech("Normal.", "normal-2"))
        await peer.publish(TEXT, _speech("Alta.", "high-1", priority="high"))
        await peer.publish(TEXT, _speech("Crítico.", "critical-1", priority="critical"))
        entries = await wait_history(speaker, lambda h: len(h) == 5)
    assert _outcomes(entries) == [
        ("story", "preempted"),
        ("critical-1", "played"),
        ("high-1", "played"),
        ("story", "played"),
        ("normal-2", "played"),
    ]
    wavs = speaker.wavs()
    assert [path.name.split("_", 1)[1] for path in wavs] == [
        "story.wav", "critical-1.wav", "high-1.wav", "story.wav", "normal-2.wav",
    ]  # fmt: skip
    assert 0 < len(wav_pcm(wavs[0])) < len(wav_pcm(wavs[3]))


@pytest.mark.parametrize("clear_queue", [False, True])
async def test_stop_silences_long_utterance(
    mosquitto: Mosquitto, piper: LaunchedServer, start_speaker: SpeakerFactory, clear_queue: bool
) -> None:
    """A stop ends the utterance's audio for good; the queue goes on unless asked to clear."""
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(LONG_TEXT, "story"))
        await peer.publish(TEXT, _speech("Después.", "next"))
        await peer.wait_for(
            "moxie/tts/status", where=lambda m: m.json()["current_text"] == LONG_TEXT
        )
        await wait_audio(speaker, "story")
        await peer.publish(
            "moxie/tts/stop", json.dumps({"reason": "test", "clear_queue": clear_queue})
        )
        await wait_history(speaker, lambda h: len(h) >= 1)
        if not clear_queue:
            await wait_history(speaker, lambda h: len(h) == 2)
        await peer.wait_for("moxie/tts/status", where=lambda m: m.json()["status"] == "idle")
        story_wav = speaker.wavs()[0]
        size_after_stop = story_wav.stat().st_size
        await asyncio.sleep(1.0)
        # A late redelivery of the stopped utterance is not spoken either.
        await peer.publish(TEXT, _speech(LONG_TEXT, "story"))
        await asyncio.sleep(1.0)
    entries = await history(speaker)
    expected = [("story", "stopped")] + ([] if clear_queue else [("next", "played")])
    assert _outcomes(entries) == expected
    assert story_wav.stat().st_size == size_after_stop
    assert [p.name for p in speaker.wavs()] == (
        ["00001_story.wav"] if clear_queue else ["00001_story.wav", "00002_next.wav"]
    )
    assert 0 < len(wav_pcm(story_wav)) < len(await direct_synthesize(piper.uri, LONG_TEXT))


async def test_non_streaming_server(
    mosquitto: Mosquitto, voice_dir: Path, tmp_path: Path, start_speaker: SpeakerFactory
) -> None:
    """A server without synthesize streaming gets one `synthesize` with the whole text."""
    server = LaunchedServer.tiny_piper(voice_dir, tmp_path, streaming=False)
    server.start()
    try:
        speaker = start_speaker(["--no-pacing"], tts_uri=server.uri)
        await wait_connected(speaker)
        parts = ["Primera parte del cuento", "y segunda parte."]
        async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
            for index, part in enumerate(parts, 1):
                await peer.publish(TEXT, _speech(part, "tale", chunk=index, total_chunks=2))
            await wait_history(speaker, lambda h: len(h) == 1)
        (wav,) = speaker.wavs()
        assert wav_pcm(wav) == await direct_synthesize(server.uri, " ".join(parts))
        status = await get_json(f"{speaker.url}/api/status")
        assert status["tts_streaming"] is False
    finally:
        server.stop()


async def test_streaming_starts_audio_before_the_last_chunk(
    mosquitto: Mosquitto, piper: LaunchedServer, start_speaker: SpeakerFactory
) -> None:
    """With a streaming server the first sentence plays while later chunks are still coming."""
    speaker = start_speaker(["--no-pacing", "--chunk-timeout", "120"])
    await wait_connected(speaker)
    parts = ["Hola, amigo mío. Hoy te voy a contar", "un cuento muy bonito."]
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(parts[0], "live", chunk=1, total_chunks=2))
        await wait_audio(speaker, "live")
        assert await history(speaker) == []  # still waiting for chunk 2
        await peer.publish(TEXT, _speech(parts[1], "live", chunk=2, total_chunks=2))
        await wait_history(speaker, lambda h: len(h) == 1)
    (wav,) = speaker.wavs()
    assert wav_pcm(wav) == await direct_synthesize(piper.uri, " ".join(parts))


async def test_speech_for_a_satellite_is_not_spoken(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """`speak: false` (a voice satellite plays the answer): no audio, no `speaking`, counted."""
    speaker = start_speaker(["--no-pacing"])
    await wait_connected(speaker)
    quiet = {"speak": False, "satellite": "assist_satellite.cocina"}
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("La cocina lo dice.", "sat-1", **quiet))
        for index in (1, 2):
            await peer.publish(
                TEXT, _speech(f"Parte {index}.", "sat-2", chunk=index, total_chunks=2, **quiet)
            )
        await peer.publish(TEXT, _speech("La cocina lo dice.", "sat-1", **quiet))  # redelivery
        await peer.publish(TEXT, _speech("Esto sí lo digo yo.", "mine"))
        entries = await wait_history(speaker, lambda h: len(h) == 1)
        statuses = [json.loads(p) for p in peer.payloads("moxie/tts/status")]
    assert _outcomes(entries) == [("mine", "played")]
    assert [path.name for path in speaker.wavs()] == ["00001_mine.wav"]
    assert {s["current_text"] for s in statuses if s["status"] == "speaking"} == {
        "Esto sí lo digo yo."
    }
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["skipped_not_for_speaker"] == 2
    assert (stats["utterances"], stats["played"], stats["rejected_total"]) == (1, 1, 0)


async def test_queue_wait_and_synthesis_reported_apart(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """An utterance queued behind another waits at least that one's audio, then synthesizes."""
    speaker = start_speaker()  # paced: the WAV sink takes as long as the audio lasts
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(LONG_TEXT, "first"))
        await peer.publish(TEXT, _speech("Y yo espero mi turno.", "second"))
        first, second = await wait_history(speaker, lambda h: len(h) == 2)
    assert (first["id"], second["id"]) == ("first", "second")
    stats = await get_json(f"{speaker.url}/api/stats")
    # The second waited while the first played (its audio, at real time, after its arrival):
    # at least the first's audio minus the time between the two arrivals.
    lower_bound_ms = (first["audio_seconds"] - (second["received"] - first["received"])) * 1000
    assert first["audio_seconds"] > 1
    assert second["queue_wait_ms"] >= lower_bound_ms - 5
    assert second["synthesis_ms"] is not None
    assert second["queue_wait_ms"] > second["synthesis_ms"]
    assert first["queue_wait_ms"] < second["queue_wait_ms"]
    assert (stats["last_queue_wait_ms"], stats["last_synthesis_ms"]) == (
        second["queue_wait_ms"],
        second["synthesis_ms"],
    )
    assert stats["last_first_audio_ms"] == pytest.approx(
        second["queue_wait_ms"] + second["synthesis_ms"], abs=0.2
    )
    async with aiohttp.ClientSession() as session, session.get(f"{speaker.url}/metrics") as resp:
        metrics = await resp.text()
    assert f"moxie_speaker_queue_wait_ms {second['queue_wait_ms']:g}" in metrics
    assert f"moxie_speaker_synthesis_ms {second['synthesis_ms']:g}" in metrics
