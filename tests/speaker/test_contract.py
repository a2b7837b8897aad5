"""The mirror contract, the queue and the sinks, without any network."""

from __future__ import annotations

import json
from pathlib import Path
import wave

import pytest

from wyoming_servers.speaker.contract import (
    Priority,
    device_id,
    parse_stop,
    parse_text,
)
from wyoming_servers.speaker.queue import AddResult, SpeechQueue
from wyoming_servers.speaker.sinks import AudioFormat, CommandSink, NullSink, WavSink, make_sink
from wyoming_servers.speaker.speaker import scale_volume


@pytest.mark.parametrize(
    ("base", "expected"),
    [("moxie", "moxie_moxie"), ("Casa/Moxie-2", "moxie_casa_moxie_2"), ("/moxie/", "moxie_moxie")],
)
def test_device_id_matches_integration(base: str, expected: str) -> None:
    assert device_id(base) == expected


def test_contract_json_and_plain_text() -> None:
    part = parse_text(
        json.dumps(
            {
                "text": "Hola",
                "timestamp": 1795000000.5,
                "source": "assist",
                "chunk": 2,
                "total_chunks": 3,
                "id": "abc",
                "priority": "HIGH",
                "language": "es",
            }
        ).encode()
    )
    assert (part.id, part.chunk, part.total_chunks, part.priority) == ("abc", 2, 3, Priority.HIGH)
    assert (part.source, part.language) == ("assist", "es")
    plain = parse_text("  ¡Hola, Moxie!\n".encode())
    assert plain.text == "¡Hola, Moxie!"
    assert plain.plain
    assert plain.priority is Priority.NORMAL
    assert plain.source == "external"
    # Every other case of the contract is in tests/contract_cases.py, run on both sides.
    assert plain.id != parse_text(b"otra").id


def test_stop_payloads() -> None:
    assert parse_stop(b"").clear_queue is False
    request = parse_stop(b'{"reason": "alarm", "clear_queue": true}')
    assert (request.reason, request.clear_queue) == ("alarm", True)
    assert parse_stop(b"{bad").reason == "invalid payload"


def _part(message_id: str, priority: str = "normal", chunk: int = 1, total: int = 1) -> bytes:
    return json.dumps(
        {"text": message_id, "id": message_id, "priority": priority, "chunk": chunk,
         "total_chunks": total}
    ).encode()  # fmt: skip


async def test_queue_priority_fifo_dedup_and_late_chunks() -> None:
    queue = SpeechQueue()
    for message_id, priority in [("n1", "normal"), ("h1", "high"), ("n2", "normal"),
                                 ("c1", "critical"), ("h2", "high")]:  # fmt: skip
        assert queue.add(parse_text(_part(message_id, priority)))[0] is AddResult.NEW
    assert queue.add(parse_text(_part("n1")))[0] is AddResult.DUPLICATE
    order = [(await queue.get()).id for _ in range(5)]
    assert order == ["c1", "h1", "h2", "n1", "n2"]

    result, story = queue.add(parse_text(_part("s", chunk=2, total=2)))
    assert result is AddResult.NEW
    assert story is not None
    assert queue.add(parse_text(_part("s", chunk=1, total=2)))[0] is AddResult.PART
    assert [text async for text in story.iter_parts(1.0)] == ["s", "s"]
    queue.done(story)
    assert queue.add(parse_text(_part("s", chunk=1, total=3)))[0] is AddResult.DUPLICATE
    assert queue.add(parse_text(_part("s", chunk=3, total=3)))[0] is AddResult.LATE


async def test_missing_chunk_speaks_what_came() -> None:
    queue = SpeechQueue()
    _, utterance = queue.add(parse_text(_part("gap", chunk=1, total=3)))
    assert utterance is not None
    assert [text async for text in utterance.iter_parts(0.05)] == ["gap"]
    assert utterance.incomplete


def test_volume_scaling() -> None:
    audio = b"".join(v.to_bytes(2, "little", signed=True) for v in (1000, -1000, 32767))
    half = scale_volume(audio, 2, 50)
    assert [int.from_bytes(half[i : i + 2], "little", signed=True) for i in (0, 2, 4)] == [
        500, -500, 16383,
    ]  # fmt: skip
    assert scale_volume(audio, 2, 100) == audio


async def test_wav_sink_truncates_on_abort(tmp_path: Path) -> None:
    sink = WavSink(tmp_path, paced=False)
    await sink.open("a/b", AudioFormat(16000, 2, 1))
    await sink.write(b"\x01\x00" * 100)
    sink.abort()
    await sink.write(b"\x01\x00" * 100)  # after a stop nothing reaches the file
    (path,) = list(tmp_path.glob("*.wav"))  # noqa: ASYNC240
    assert path.name == "00001_a_b.wav"
    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() == 100


async def test_command_sink_pipes_raw_pcm(tmp_path: Path) -> None:
    out = tmp_path / "out.raw"
    sink = make_sink(f"command:tee {out}")
    assert isinstance(sink, CommandSink)
    await sink.open("x", AudioFormat(22050, 2, 1))
    await sink.write(b"\x02\x00" * 500)
    await sink.close()
    assert out.read_bytes() == b"\x02\x00" * 500


async def test_command_sink_abort_kills_player(tmp_path: Path) -> None:
    sink = make_sink("command:sleep 30")
    assert isinstance(sink, CommandSink)
    await sink.open("x", AudioFormat(22050, 2, 1))
    proc = sink._proc
    assert proc is not None
    sink.abort()
    assert await proc.wait() != 0


def test_make_sink_specs(tmp_path: Path) -> None:
    assert isinstance(make_sink("null"), NullSink)
    assert isinstance(make_sink(f"wav:{tmp_path}"), WavSink)
    aplay = make_sink("aplay:-D hw:1")
    assert isinstance(aplay, CommandSink)
    assert aplay.command.startswith("aplay ")
    assert aplay.command.endswith("-D hw:1")
    with pytest.raises(ValueError, match="unknown sink"):
        make_sink("speakers")
