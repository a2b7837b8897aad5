"""Crash-safe speech journal: nothing accepted is lost when the speaker process is killed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
import time
from typing import Any

import pytest

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.speaker import get_json, wait_audio, wait_connected, wait_history, wait_until
from tests.speaker.conftest import SpeakerFactory
from wyoming_servers.speaker.journal import JOURNAL_NAME, Journal
from wyoming_servers.speaker.queue import AddResult
from wyoming_servers.speaker.sinks import make_sink
from wyoming_servers.speaker.speaker import Speaker
from wyoming_servers.speaker.synth import WyomingSynth
from wyoming_servers.speech_core import Priority, SpeechChunk, StopRequest

TEXT = "moxie/tts/text"


def _part(
    message_id: str,
    chunk: int = 1,
    total: int = 1,
    *,
    priority: Priority = Priority.NORMAL,
    source: str = "external",
    language: str | None = None,
    timestamp: float | None = None,
    group: str | None = None,
) -> SpeechChunk:
    return SpeechChunk(
        id=message_id,
        text=f"Texto {message_id} {chunk}.",
        chunk=chunk,
        total_chunks=total,
        priority=priority,
        source=source,
        language=language,
        timestamp=timestamp,
        group=group,
    )


def _records(directory: Path) -> list[dict[str, object]]:
    lines = (directory / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_pending_parts_come_back_in_order_and_finished_ones_do_not(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.load().pending == []
    parts = [
        _part("a"),
        _part("b", priority=Priority.CRITICAL, source="brain", language="es"),
        _part("c", 1, 2, group="answer-1"),
        _part("c", 2, 2, group="answer-1"),
        _part("d", timestamp=1234.5),
    ]
    for part in parts:
        journal.record_part(part)
    journal.record_done("a", "played")
    journal.record_done("unknown", "played")  # never accepted: nothing written
    journal.close()

    state = Journal(tmp_path).load()
    assert state.pending == parts[1:]
    assert state.finished == ["a"]
    assert state.skipped == 0


def test_a_journal_of_the_speaker_before_groups_still_reads(tmp_path: Path) -> None:
    """Records written before `group` (with the old `satellite` field) are replayed as they were."""
    old = [
        {"op": "part", "id": "a", "chunk": 1, "total_chunks": 1, "text": "Hola.",
         "priority": "normal", "source": "assistant", "language": "es", "timestamp": 1700000000.0,
         "satellite": None},
        {"op": "part", "id": "b", "chunk": 1, "total_chunks": 2, "text": "Parte uno.",
         "priority": "high", "source": None, "language": None, "timestamp": None,
         "satellite": "assist_satellite.cocina"},
        {"op": "part", "id": "c", "chunk": 1, "total_chunks": 1, "text": "Ya dicho.",
         "priority": "critical", "source": "puppet", "language": None, "timestamp": None,
         "satellite": None},
        {"op": "done", "id": "c", "outcome": "played"},
    ]  # fmt: skip
    (tmp_path / JOURNAL_NAME).write_text(
        "".join(json.dumps(record) + "\n" for record in old), encoding="utf-8"
    )
    state = Journal(tmp_path).load()
    assert state.pending == [
        SpeechChunk(
            id="a", text="Hola.", source="assistant", language="es", timestamp=1700000000.0
        ),
        SpeechChunk(id="b", text="Parte uno.", total_chunks=2, priority=Priority.HIGH),
    ]
    assert (state.finished, state.skipped) == (["c"], 0)


def test_truncated_last_line_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path)
    journal.load()
    journal.record_part(_part("a"))
    journal.record_part(_part("b"))
    journal.close()
    path = tmp_path / JOURNAL_NAME
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])  # the crash cut the last record short

    with caplog.at_level(logging.WARNING):
        reloaded = Journal(tmp_path)
        state = reloaded.load()
    assert [p.id for p in state.pending] == ["a"]
    assert state.skipped == 1
    assert "last line" in caplog.text
    # Compacted at start-up: the broken line is gone and appends start on a clean line.
    reloaded.record_part(_part("c"))
    reloaded.close()
    assert [r["id"] for r in _records(tmp_path)] == ["a", "c"]


def test_garbage_records_never_crash(tmp_path: Path) -> None:
    good = json.dumps({"op": "part", **_record_fields("ok")})
    lines = [
        "not json",
        "[1, 2]",
        json.dumps({"op": "what"}),
        json.dumps({"op": "part", "id": "x"}),
        json.dumps({"op": "part", **_record_fields("y"), "priority": "urgent"}),
        json.dumps({"op": "part", **_record_fields("z"), "chunk": 3}),
        good,
        "",
        "\x00\x00\x00",
    ]
    (tmp_path / JOURNAL_NAME).write_text("\n".join(lines), encoding="utf-8")
    state = Journal(tmp_path).load()
    assert [p.id for p in state.pending] == ["ok"]
    assert state.skipped == 7


def _record_fields(message_id: str) -> dict[str, object]:
    return {
        "id": message_id,
        "chunk": 1,
        "total_chunks": 1,
        "text": "hola",
        "priority": "normal",
    }


def test_compaction_keeps_only_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path, compact_after=10)
    journal.load()
    journal.record_part(_part("keep", 1, 2))
    for i in range(20):
        journal.record_part(_part(f"gone-{i}"))
        journal.record_done(f"gone-{i}", "played")
    journal.record_part(_part("keep", 2, 2))
    journal.record_part(_part("last"))
    assert len(_records(tmp_path)) <= 10 + 2
    journal.close()

    reloaded = Journal(tmp_path)
    state = reloaded.load()
    assert [(p.id, p.chunk) for p in state.pending] == [("keep", 1), ("keep", 2), ("last", 1)]
    # Compacted at start-up too: only the pending parts remain, no temp file left behind.
    reloaded.close()
    assert [(r["id"], r["chunk"]) for r in _records(tmp_path)] == [
        ("keep", 1),
        ("keep", 2),
        ("last", 1),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [JOURNAL_NAME]


async def test_killed_speaker_plays_every_accepted_utterance_once(
    mosquitto: Mosquitto, start_speaker: SpeakerFactory, tmp_path: Path
) -> None:
    """SIGKILL with utterances queued: after a restart each plays exactly once, in order."""
    state_dir = tmp_path / "state"
    speaker = start_speaker(["--state-dir", str(state_dir)])
    await wait_connected(speaker)
    queued = ["second", "third", "fourth"]
    async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
        await peer.publish(TEXT, _speech("Una frase larga. " * 30, "first"))
        await wait_audio(speaker, "first")
        for message_id in queued:
            await peer.publish(TEXT, _speech(f"Mensaje {message_id}.", message_id))
        await peer.publish(TEXT, _speech("Urgente.", "urgent", priority="high"))
        status: dict[str, Any] = await wait_until(
            lambda: get_json(f"{speaker.url}/api/status"), lambda s: s["queue_size"] == 4
        )
        assert status["current_id"] == "first"
        speaker.kill()
        # Only the interrupted first utterance reached the sink before the crash.
        assert [p.name for p in speaker.wavs()] == ["00001_first.wav"]
        for path in speaker.wavs():
            path.unlink()

        speaker.start()
        await wait_connected(speaker)
        # A redelivery of ids accepted before the crash is not played again.
        for message_id in ["first", *queued]:
            await peer.publish(TEXT, _speech(f"Mensaje {message_id}.", message_id))
        await peer.publish(TEXT, _speech("Después.", "after"))
        entries = await wait_history(speaker, lambda h: any(e["id"] == "after" for e in h))
    # Original priorities and order: the high one first, then FIFO; "first" starts over.
    expected = ["urgent", "first", *queued, "after"]
    assert [e["id"] for e in entries] == expected
    assert {e["outcome"] for e in entries} == {"played"}
    # The texts accepted before the crash, not those of the redeliveries.
    assert entries[1]["text"].startswith("Una frase larga.")
    assert [e["text"] for e in entries[2:5]] == [f"Mensaje {m}." for m in queued]
    assert entries[0]["text"] == "Urgente."
    assert [p.stem.split("_", 1)[1] for p in speaker.wavs()] == expected
    stats = await get_json(f"{speaker.url}/api/stats")
    assert stats["duplicates"] == 1 + len(queued)
    assert "Restored 5 unfinished utterances" in speaker.log.read_text()
    # Everything finished: the journal replays nothing on the next start.
    speaker.stop()
    assert Journal(state_dir).load().pending == []


def _speech(text: str, message_id: str, **extra: object) -> str:
    return json.dumps({"text": text, "id": message_id, **extra})


def _speaker(state_dir: Path, **options: Any) -> Speaker:
    return Speaker(
        WyomingSynth("tcp://127.0.0.1:1"),
        make_sink("null"),
        journal=Journal(state_dir),
        **options,
    )


def test_speaker_restores_pending_and_ignores_their_redelivery(tmp_path: Path) -> None:
    first = _speaker(tmp_path)
    assert first.restore() == 0
    for message_id in ("a", "b", "c"):
        assert first.submit(_speech(f"Texto {message_id}.", message_id).encode()) is not None
    first.submit(_speech("Parte uno.", "d", chunk=1, total_chunks=2).encode())
    first.submit(_speech("Alerta.", "e", priority="critical").encode())
    first.submit(b"Texto plano.")
    assert first.submit(_speech("Texto a.", "a").encode()) is AddResult.DUPLICATE
    assert first.journal is not None
    first.journal.record_done("b", "played")  # as the playback worker does when b finishes
    first.journal.close()

    second = _speaker(tmp_path)
    assert second.restore() == 5
    waiting = second.queue.snapshot()
    assert [u.id for u in waiting[:4]] == ["e", "a", "c", "d"]
    assert waiting[4].id not in {"a", "b", "c", "d", "e"}
    assert waiting[4].text == "Texto plano."
    assert waiting[3].parts == {1: "Parte uno."}
    assert second.submit(_speech("Texto a.", "a").encode()) is AddResult.DUPLICATE
    assert second.submit(_speech("Texto b.", "b").encode()) is AddResult.LATE
    assert second.submit(_speech("Parte dos.", "d", chunk=2, total_chunks=2).encode()) is (
        AddResult.PART
    )
    second.stop(StopRequest(clear_queue=True))
    assert second.journal is not None
    second.journal.close()
    assert Journal(tmp_path).load().pending == []


def test_restored_speech_older_than_max_age_expires(tmp_path: Path) -> None:
    first = _speaker(tmp_path)
    first.restore()
    first.submit(_speech("Viejo.", "old", timestamp=time.time() - 3600).encode())
    first.submit(_speech("Nuevo.", "new").encode())
    assert first.journal is not None
    first.journal.close()

    second = _speaker(tmp_path, max_age=60)
    assert second.restore() == 1
    assert [u.id for u in second.queue.snapshot()] == ["new"]
    assert second.stats.expired == 1
    assert second.journal is not None
    second.journal.close()
    assert [p.id for p in Journal(tmp_path).load().pending] == ["new"]
