"""What the speaker does with the contract's payloads, its queue and its sinks, without network.

The payloads are parsed by the speech core (tests/test_speech_core.py runs the contract's table
through it); here the same table goes through the speaker: what it queues to say, and what it
rejects and counts.
"""

from __future__ import annotations

import json
from pathlib import Path
import wave

import pytest

from tests.contract_cases import CASES, GENERATED, Case
from wyoming_servers.speaker.queue import STOPPED_GROUPS_LIMIT, AddResult, SpeechQueue
from wyoming_servers.speaker.sinks import AudioFormat, CommandSink, NullSink, WavSink, make_sink
from wyoming_servers.speaker.speaker import Speaker, scale_volume
from wyoming_servers.speaker.synth import WyomingSynth
from wyoming_servers.speech_core import parse_speech, parse_stop


def _speaker() -> Speaker:
    """A speaker whose worker is not running: what it accepts stays in its queue."""
    return Speaker(WyomingSynth("tcp://127.0.0.1:1"), make_sink("null"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_case_of_the_table_through_the_speaker(case: Case) -> None:
    """Accepted payloads are queued to be said as the table reads them; others are counted."""
    speaker = _speaker()
    result = speaker.submit(case.payload)
    if case.reason is not None:
        assert result is None
        assert dict(speaker.stats.rejected) == {case.reason: 1}
        assert len(speaker.queue) == 0
        return
    assert result is AddResult.NEW
    assert not speaker.stats.rejected
    (utterance,) = speaker.queue.snapshot()
    fields = case.fields
    assert fields is not None
    assert utterance.text == fields["text"]
    assert utterance.parts == {fields["chunk"]: fields["text"]}
    assert utterance.total_chunks == fields["total_chunks"]
    assert (utterance.priority.label, utterance.source, utterance.language, utterance.group) == (
        fields["priority"],
        fields["source"],
        fields["language"],
        fields["group"],
    )
    if fields["id"] != GENERATED:
        assert utterance.id == fields["id"]


@pytest.mark.parametrize(
    ("payload", "cleared"),
    [
        (b"", 0),
        (b"basta", 0),
        (b'{"reason": "alarm"}', 0),
        (b'{"reason": "alarm", "clear_queue": true}', 2),
        (b'{"clear_queue": "yes"}', 0),  # only true clears
        (b"{bad", 0),
        (b"\xff", 0),
    ],
)
def test_stop_payloads_through_the_speaker(payload: bytes, cleared: int) -> None:
    """Any `<base>/tts/stop` payload stops; only `"clear_queue": true` drops the queue too."""
    speaker = _speaker()
    speaker.submit(json.dumps({"text": "Uno.", "id": "a"}).encode())
    speaker.submit(json.dumps({"text": "Dos.", "id": "b"}).encode())
    speaker.stop(parse_stop(payload))
    assert speaker.stats.stop_requests == 1
    assert speaker.stats.cleared == cleared
    assert len(speaker.queue) == 2 - cleared
    outcomes = [(f.id, f.outcome) for f in speaker.finished]
    assert outcomes == ([("a", "cleared"), ("b", "cleared")] if cleared else [])


def _part(
    message_id: str,
    priority: str = "normal",
    chunk: int = 1,
    total: int = 1,
    group: str | None = None,
) -> bytes:
    return json.dumps(
        {"text": message_id, "id": message_id, "priority": priority, "chunk": chunk,
         "total_chunks": total, "group": group}
    ).encode()  # fmt: skip


async def test_queue_priority_fifo_dedup_and_late_chunks() -> None:
    queue = SpeechQueue()
    for message_id, priority in [("n1", "normal"), ("h1", "high"), ("n2", "normal"),
                                 ("c1", "critical"), ("h2", "high")]:  # fmt: skip
        assert queue.add(parse_speech(_part(message_id, priority)))[0] is AddResult.NEW
    assert queue.add(parse_speech(_part("n1")))[0] is AddResult.DUPLICATE
    order = [(await queue.get()).id for _ in range(5)]
    assert order == ["c1", "h1", "h2", "n1", "n2"]

    result, story = queue.add(parse_speech(_part("s", chunk=2, total=2)))
    assert result is AddResult.NEW
    assert story is not None
    assert queue.add(parse_speech(_part("s", chunk=1, total=2)))[0] is AddResult.PART
    assert [text async for text in story.iter_parts(1.0)] == ["s", "s"]
    queue.done(story)
    assert queue.add(parse_speech(_part("s", chunk=1, total=3)))[0] is AddResult.DUPLICATE
    assert queue.add(parse_speech(_part("s", chunk=3, total=3)))[0] is AddResult.LATE


def test_stopped_group_drops_waiting_and_later_utterances() -> None:
    """Stopping an answer drops its waiting utterances and those that come later, once each."""
    queue = SpeechQueue()
    for message_id, group in [("g1", "G"), ("x1", None), ("g2", "G"), ("h1", "H")]:
        assert queue.add(parse_speech(_part(message_id, group=group)))[0] is AddResult.NEW
    assert [u.id for u in queue.stop_group("G")] == ["g1", "g2"]
    assert [u.id for u in queue.snapshot()] == ["x1", "h1"]
    assert queue.add(parse_speech(_part("g3", chunk=1, total=2, group="G")))[0] is (
        AddResult.STOPPED
    )
    assert queue.add(parse_speech(_part("g3", chunk=2, total=2, group="G")))[0] is AddResult.LATE
    assert queue.add(parse_speech(_part("g2", group="G")))[0] is AddResult.DUPLICATE
    assert queue.add(parse_speech(_part("x2")))[0] is AddResult.NEW
    # Only the last stopped answers are remembered.
    for index in range(STOPPED_GROUPS_LIMIT):
        queue.stop_group(f"later-{index}")
    assert queue.add(parse_speech(_part("g4", group="G")))[0] is AddResult.NEW


async def test_missing_chunk_speaks_what_came() -> None:
    queue = SpeechQueue()
    _, utterance = queue.add(parse_speech(_part("gap", chunk=1, total=3)))
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
