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
STATUS = "moxie/tts/status"
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
    assert entries[1]["text"] == "Me gusta aprender contigo."  # plain text: an id of its own
    assert entries[1]["id"] != "j1"
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
        await peer.wait_for(STATUS, where=lambda m: m.json()["current_text"] == LONG_TEXT)
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
    """A stop ends the utterance's audio for good; the queue goes on unless asked to clear.

    `clear_queue` drops every waiting utterance, of another answer or of none.
    """
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(LONG_TEXT, "story", group="G"))
        await peer.publish(TEXT, _speech("Después.", "next", group="H"))
        await peer.publish(TEXT, _speech("Y esto también.", "loose"))
        await peer.wait_for(STATUS, where=lambda m: m.json()["current_text"] == LONG_TEXT)
        await wait_audio(speaker, "story")
        await peer.publish(
            "moxie/tts/stop", json.dumps({"reason": "test", "clear_queue": clear_queue})
        )
        await wait_history(speaker, lambda h: len(h) >= 1)
        if not clear_queue:
            await wait_history(speaker, lambda h: len(h) == 3)
        await peer.wait_for(
            STATUS, where=lambda m: (s := m.json())["status"] == "idle" and s["queue_size"] == 0
        )
        story_wav = speaker.wavs()[0]
        size_after_stop = story_wav.stat().st_size
        await asyncio.sleep(1.0)
        # A late redelivery of the stopped utterance is not spoken either.
        await peer.publish(TEXT, _speech(LONG_TEXT, "story", group="G"))
        await asyncio.sleep(1.0)
        statuses = [json.loads(p) for p in peer.payloads(STATUS)]
    entries = await history(speaker)
    rest = "cleared" if clear_queue else "played"
    expected = [("story", "stopped")] + ([] if clear_queue else [("next", rest), ("loose", rest)])
    assert _outcomes(entries) == expected
    finished = [(s["finished_id"], s["finished_outcome"]) for s in statuses if s["finished_id"]]
    assert {("story", "stopped"), ("next", rest), ("loose", rest)} <= set(finished)
    assert story_wav.stat().st_size == size_after_stop
    assert [p.name for p in speaker.wavs()] == (
        ["00001_story.wav"]
        if clear_queue
        else ["00001_story.wav", "00002_next.wav", "00003_loose.wav"]
    )
    assert 0 < len(wav_pcm(story_wav)) < len(await direct_synthesize(piper.uri, LONG_TEXT))
    stats = await get_json(f"{speaker.url}/api/stats")
    assert (stats["stopped"], stats["stopped_unsaid"]) == (1, 0)
    assert stats["cleared"] == (2 if clear_queue else 0)


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


async def test_status_names_the_utterance_said_then_finished(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """`<base>/tts/status` carries `current_id` while it is said, then `finished_id` played."""
    speaker = start_speaker()  # paced: the utterance lasts as long as its audio
    await wait_connected(speaker)
    text = "Hola, amigo. Hoy aprendemos algo nuevo juntos, paso a paso."
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        # `speak` is not a field of the mirror: everything on it is said (MQTT.md).
        await peer.publish(TEXT, _speech(text, "u-1", group="answer-1", speak=False))
        await peer.wait_for(STATUS, where=lambda m: m.json()["finished_id"] == "u-1")
        statuses = [json.loads(p) for p in peer.payloads(STATUS)]
    async with MqttProbe(mosquitto.host, mosquitto.port, STATUS) as late:
        retained = (await late.wait_for(STATUS))[0].json()
    saying = [i for i, s in enumerate(statuses) if s["current_id"] == "u-1"]
    assert saying
    assert all(
        (statuses[i]["status"], statuses[i]["current_text"]) == ("speaking", text) for i in saying
    )
    finished = [i for i, s in enumerate(statuses) if s["finished_id"] == "u-1"]
    assert min(finished) > max(saying)
    done = statuses[min(finished)]
    assert (done["finished_outcome"], done["status"], done["current_id"]) == (
        "played",
        "idle",
        None,
    )
    # The retained status tells a late subscriber what finished last.
    assert (retained["finished_id"], retained["finished_outcome"]) == ("u-1", "played")
    assert [path.name for path in speaker.wavs()] == ["00001_u-1.wav"]


@pytest.mark.parametrize("stop_from", ["mqtt", "monitor"])
async def test_stop_silences_the_whole_answer(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory, stop_from: str
) -> None:
    """A stop ends the utterance said and the rest of its answer (group), also what comes later.

    Utterances of another answer, or of none, are said as usual.
    """
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech(LONG_TEXT, "g-1", group="G"))
        await peer.publish(TEXT, _speech("Segunda frase de la respuesta.", "g-2", group="G"))
        await peer.publish(TEXT, _speech("Otra respuesta.", "h-1", group="H"))
        await peer.publish(TEXT, _speech("Tercera frase de la respuesta.", "g-3", group="G"))
        await peer.publish(TEXT, "Sin grupo.")
        await wait_audio(speaker, "g-1")
        if stop_from == "mqtt":
            await peer.publish("moxie/tts/stop", json.dumps({"reason": "test"}))
        else:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{speaker.url}/api/stop") as response,
            ):
                assert response.status == 200
        await wait_history(speaker, lambda h: len(h) == 3)
        # The rest of the answer, still streaming from the agent, is not said either.
        await peer.publish(
            TEXT, _speech("Cuarta frase.", "g-4", group="G", chunk=1, total_chunks=2)
        )
        await peer.publish(TEXT, _speech("Y su final.", "g-4", group="G", chunk=2, total_chunks=2))
        await peer.publish(TEXT, _speech("Después.", "after"))
        entries = await wait_history(speaker, lambda h: len(h) == 4)
        await peer.wait_for(STATUS, where=lambda m: m.json()["finished_id"] == "after")
        statuses = [json.loads(p) for p in peer.payloads(STATUS)]
    assert _outcomes(entries)[:2] == [("g-1", "stopped"), ("h-1", "played")]
    assert entries[2]["text"] == "Sin grupo."
    assert _outcomes(entries)[3] == ("after", "played")
    said = [path.stem.split("_", 1)[1] for path in speaker.wavs()]
    assert said == ["g-1", "h-1", entries[2]["id"], "after"]
    finished = {(s["finished_id"], s["finished_outcome"]) for s in statuses if s["finished_id"]}
    assert {("g-1", "stopped"), ("g-2", "stopped"), ("g-3", "stopped"), ("g-4", "stopped"),
            ("h-1", "played"), ("after", "played")} <= finished  # fmt: skip
    assert not {s["current_id"] for s in statuses} & {"g-2", "g-3", "g-4"}
    stats = await get_json(f"{speaker.url}/api/stats")
    assert (stats["stopped"], stats["stopped_unsaid"], stats["stop_requests"]) == (4, 3, 1)
    assert (stats["played"], stats["cleared"], stats["late_chunks"]) == (3, 0, 1)
    async with aiohttp.ClientSession() as session, session.get(f"{speaker.url}/metrics") as resp:
        metrics = await resp.text()
    assert "moxie_speaker_stopped_unsaid_total 3" in metrics
    assert 'moxie_speaker_utterances_finished_total{outcome="stopped"} 4' in metrics


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
