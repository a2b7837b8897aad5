"""Faults: broker restart, TTS server down and back, bad payloads."""

from __future__ import annotations

import json
import time

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
    wait_until,
    wav_pcm,
)
from peers.voices import LaunchedServer
from tests.speaker.conftest import SpeakerFactory

TEXT = "moxie/tts/text"


def _speech(text: str, message_id: str, **extra: object) -> str:
    return json.dumps({"text": text, "id": message_id, **extra})


async def test_broker_restart_mid_queue_loses_nothing(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """Nothing accepted is lost and nothing plays twice across a broker restart.

    Queued utterances stay queued; messages sent while the speaker is disconnected reach it
    through its persistent session.
    """
    speaker = start_speaker()
    await wait_connected(speaker)
    before = [f"before-{i}" for i in range(4)]
    after = [f"after-{i}" for i in range(4)]
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        for message_id in before:
            await peer.publish(
                TEXT, _speech(f"Mensaje {message_id} antes del reinicio.", message_id)
            )
        await peer.wait_for("moxie/tts/status", where=lambda m: m.json()["status"] == "speaking")
    mosquitto.restart()
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        # Published right after the restart: usually before the speaker is back (backoff).
        for message_id in after:
            await peer.publish(TEXT, _speech(f"Mensaje {message_id} tras el reinicio.", message_id))
        entries = await wait_history(speaker, lambda h: len(h) >= len(before) + len(after))
    assert [e["id"] for e in entries] == before + after
    assert {e["outcome"] for e in entries} == {"played"}
    assert len(speaker.wavs()) == len(before) + len(after)
    health = await get_json(f"{speaker.url}/health")
    assert health["mqtt_connected"]
    assert health["mqtt_connections"] >= 2


async def test_tts_server_killed_and_restarted(
    mosquitto: Mosquitto, own_piper: LaunchedServer, start_speaker: SpeakerFactory
) -> None:
    """With the TTS server down the status is `error` and the message is kept, then played."""
    speaker = start_speaker(["--no-pacing"], tts_uri=own_piper.uri)
    await wait_connected(speaker)
    own_piper.stop()
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("¿Me oyes ahora?", "retry-1"))
        await peer.wait_for("moxie/tts/status", where=lambda m: m.json()["status"] == "error")
        status = await get_json(f"{speaker.url}/api/status")
        assert status["status"] == "error"
        assert own_piper.uri in status["last_error"]
        assert status["queue_size"] == 1
        own_piper.start()
        entries = await wait_history(speaker, lambda h: len(h) == 1)
        await peer.wait_for("moxie/tts/status", where=lambda m: m.json()["status"] == "idle")
    assert entries[0]["id"] == "retry-1"
    assert entries[0]["outcome"] == "played"
    (wav,) = speaker.wavs()
    assert wav_pcm(wav) == await direct_synthesize(own_piper.uri, "¿Me oyes ahora?")
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["tts_errors"] >= 1
    assert "retrying" in speaker.log.read_text()


BAD_PAYLOADS = {
    "invalid_json": b'{"text": "sin cerrar"',
    "not_utf8": b"Hola \xff\xfe Moxie",
    "too_large": b"a" * (64 * 1024 + 1),
    "invalid_field": b'{"text": 42, "id": "x"}',
    "empty": b"   ",
}
WRONG_TYPES = [
    b'{"text": "hola", "priority": "urgent"}',
    b'{"text": "hola", "chunk": "1"}',
    b'{"text": "hola", "id": "c", "chunk": 3, "total_chunks": 2}',
    b'{"text": "hola", "chunk": 1, "total_chunks": 2}',
    b'{"text": "hola", "source": 7}',
    b'{"text": ["hola"]}',
    b'{"text": ""}',
    b'{"text": "hola", "timestamp": "ayer"}',
]


async def test_bad_payloads_rejected_and_counted(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """Each kind of bad payload is rejected, counted and logged; the service keeps playing."""
    speaker = start_speaker(["--no-pacing", "--chunk-timeout", "1"])
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        for payload in [*BAD_PAYLOADS.values(), *WRONG_TYPES]:
            await peer.publish(TEXT, payload)
        # Chunk 2 never comes: chunk 1 is spoken, the utterance counted as incomplete.
        await peer.publish(TEXT, _speech("Solo la mitad.", "half", chunk=1, total_chunks=2))
        await peer.publish(TEXT, _speech("Sigo aquí.", "alive"))
        await wait_history(speaker, lambda h: len(h) == 2)
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["rejected"] == {
        "invalid_json": 1,
        "not_utf8": 1,
        "too_large": 1,
        "invalid_field": 1 + len(WRONG_TYPES),
        "empty": 1,
        "incomplete": 1,
    }
    assert stats["rejected_total"] == len(BAD_PAYLOADS) + len(WRONG_TYPES) + 1
    assert [e["id"] for e in await history(speaker)] == ["half", "alive"]
    assert [p.name for p in speaker.wavs()] == ["00001_half.wav", "00002_alive.wav"]
    log = speaker.log.read_text()
    for kind in BAD_PAYLOADS:
        assert f"Rejected speech payload ({kind})" in log


@pytest.mark.parametrize("payload", [b"", b"stop", b'{"reason": "button"}', b"\xff"])
async def test_any_stop_payload_stops(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory, payload: bytes
) -> None:
    """Empty, text, JSON or even undecodable stop payloads all interrupt."""
    speaker = start_speaker()
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("Una frase. " * 30, "long"))
        await wait_audio(speaker, "long")
        await peer.publish("moxie/tts/stop", payload)
        entries = await wait_history(speaker, lambda h: len(h) == 1)
    assert entries[0]["outcome"] == "stopped"
    stats = await wait_until(
        lambda: get_json(f"{speaker.url}/api/stats"), lambda s: s["stop_requests"] == 1
    )
    assert stats["stopped"] == 1


async def test_retained_speech_is_not_spoken(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """A (contract-breaking) retained speech message would be repeated on every connect."""
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, "Esto quedó retenido.", retain=True)
        speaker = start_speaker(["--no-pacing"])
        await wait_connected(speaker)
        await peer.publish(TEXT, _speech("Esto sí.", "live"))
        entries = await wait_history(speaker, lambda h: len(h) == 1)
    assert entries[0]["id"] == "live"
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["retained_ignored"] == 1
    assert stats["utterances"] == 1


async def test_crash_publishes_last_will_and_restart_catches_up(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """A killed speaker goes offline by last will; what was said meanwhile plays on restart."""
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        speaker = start_speaker(["--no-pacing"])
        await wait_connected(speaker)
        await peer.wait_for("moxie/speaker/availability", where=lambda m: m.payload == b"online")
        speaker.kill()
        await peer.wait_for("moxie/speaker/availability", where=lambda m: m.payload == b"offline")
        await peer.publish(TEXT, _speech("Mientras dormías.", "while-down"))
        await peer.publish(TEXT, "Y esto también.")
        speaker.start()
        entries = await wait_history(speaker, lambda h: len(h) == 2)
        online = peer.payloads("moxie/speaker/availability")
        assert online[-1] == b"online"
    assert entries[0]["id"] == "while-down"
    assert entries[1]["text"] == "Y esto también."


async def test_max_age_drops_stale_speech(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory
) -> None:
    """With --max-age, speech stamped long ago (a backlog) is dropped and counted."""
    speaker = start_speaker(["--no-pacing", "--max-age", "60"])
    await wait_connected(speaker)
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("De ayer.", "old", timestamp=time.time() - 86400))
        await peer.publish(TEXT, _speech("De ahora.", "new", timestamp=time.time()))
        await peer.publish(TEXT, "Sin marca de tiempo.")
        entries = await wait_history(speaker, lambda h: len(h) == 2)
    assert entries[0]["id"] == "new"
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["expired"] == 1
