"""moxie-tts over Wyoming, as a client sees it: info, audio, the first clause first, errors."""

from __future__ import annotations

import re

import pytest
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from peers.moxie_tts import MoxieTts
from peers.voices import joe_pcm
from tests.voice.conftest import JOE, connect, pcm_of, read_until, seconds

GREETING = "Good morning, I hope you slept well. The stars were bright last night!"
TOKENS = re.findall(r"\s*\S+?(?=[\s,.!]|$)|[,.!]", GREETING)
STORY = " ".join(
    f"Chapter {n}: the little robot walked to the window and looked up at the sky for a while."
    for n in range(1, 21)
)


def reference(text: str) -> float:
    """Seconds of audio piper-tts makes for the whole text at once (the same voice and scales)."""
    pcm, rate, _width, _channels = joe_pcm(text)
    return seconds(pcm, rate)


def blocks(events: list[Event]) -> list[bytes]:
    """The audio of each audio-start ... audio-stop block."""
    found: list[bytes] = []
    for event in events:
        if event.type == "audio-start":
            found.append(b"")
        elif event.type == "audio-chunk":
            found[-1] += event.payload or b""
    return found


async def test_info_lists_the_loaded_voice(moxie_tts: MoxieTts, socket_enabled: None) -> None:
    """Describe: one TTS program that streams, with the joe voice in en_US."""
    client = await connect(moxie_tts)
    await client.write_event(Describe().event())
    info = Info.from_event((await read_until(client, "info"))[-1])
    await client.disconnect()

    (program,) = info.tts
    assert program.installed
    assert program.supports_synthesize_streaming
    assert [(v.name, v.languages, v.installed) for v in program.voices] == [(JOE, ["en_US"], True)]


async def test_whole_text_is_one_audio_block(moxie_tts: MoxieTts, socket_enabled: None) -> None:
    """Synthesize: audio-start, chunks, audio-stop; as long as piper-tts makes it at once."""
    client = await connect(moxie_tts)
    await client.write_event(Synthesize(text=GREETING).event())
    events = await read_until(client, "audio-stop")
    await client.disconnect()

    types = [event.type for event in events]
    assert types[0] == "audio-start"
    assert types.count("audio-start") == 1
    assert set(types[1:-1]) == {"audio-chunk"}
    assert events[0].data | {"timestamp": None} == {
        "rate": 22050, "width": 2, "channels": 1, "timestamp": None
    }  # fmt: skip
    assert abs(seconds(pcm_of(events)) - reference(GREETING)) < 0.1 * reference(GREETING)


async def test_stream_speaks_the_first_clause_before_the_sentence_ends(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """The first clause's audio comes while the sentence is still being written.

    Sent like Home Assistant: start, chunks, the whole text again, stop; answered by one
    audio block per piece and synthesize-stopped, the duplicate text not spoken twice.
    """
    first, rest = TOKENS[:3], TOKENS[3:]
    assert "".join(first) == "Good morning,"
    client = await connect(moxie_tts)
    await client.write_event(SynthesizeStart().event())
    for token in first:
        await client.write_event(SynthesizeChunk(text=token).event())
    early = await read_until(client, "audio-chunk")  # nothing more is sent before this arrives
    for token in rest:
        await client.write_event(SynthesizeChunk(text=token).event())
    await client.write_event(Synthesize(text=GREETING).event())
    await client.write_event(SynthesizeStop().event())
    events = early + await read_until(client, "synthesize-stopped")
    await client.disconnect()

    audio = blocks(events)
    assert len(audio) == 3  # "Good morning," / "I hope you slept well." / "The stars ..."
    assert abs(seconds(audio[0]) - reference("Good morning,")) < 0.15 * reference("Good morning,")
    total = seconds(b"".join(audio))
    assert abs(total - reference(GREETING)) < 0.1 * reference(GREETING)
    assert [e.type for e in events].count("audio-stop") == 3


@pytest.mark.parametrize("text", ["", "   \n", "... ¡! -"], ids=["empty", "blank", "punctuation"])
async def test_nothing_to_say_is_an_empty_audio_block(
    moxie_tts: MoxieTts, socket_enabled: None, text: str
) -> None:
    """No words, whole or streamed: an empty audio block, never a bare audio-stop.

    audio-start, one audio-chunk with no samples, audio-stop; a stream then ends with
    synthesize-stopped as usual, a stream with no synthesize-chunk at all too. The connection
    keeps serving.
    """
    client = await connect(moxie_tts)
    await client.write_event(Synthesize(text=text).event())
    whole = await read_until(client, "audio-stop")
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeChunk(text=text).event())
    await client.write_event(Synthesize(text=text).event())  # Home Assistant's duplicate
    await client.write_event(SynthesizeStop().event())
    streamed = await read_until(client, "synthesize-stopped")
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeStop().event())
    no_chunk = await read_until(client, "synthesize-stopped")
    await client.write_event(Ping(text="still here").event())
    pong = (await read_until(client, "pong"))[-1]
    await client.disconnect()

    block = ["audio-start", "audio-chunk", "audio-stop"]
    assert [e.type for e in whole] == block
    assert [e.type for e in streamed] == [*block, "synthesize-stopped"]
    assert [e.type for e in no_chunk] == [*block, "synthesize-stopped"]
    for events in (whole, streamed, no_chunk):
        assert pcm_of(events) == b""
        for event in events[:2]:
            assert {k: event.data[k] for k in ("rate", "width", "channels")} == {
                "rate": 22050, "width": 2, "channels": 1
            }  # fmt: skip
    assert pong.data["text"] == "still here"


async def test_voice_by_language_and_unknown_voice(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """A language picks its voice (what moxie-speaker sends); an unknown name is an error."""
    client = await connect(moxie_tts)
    await client.write_event(
        Synthesize(text="Hello.", voice=SynthesizeVoice(language="en")).event()
    )
    spoken = await read_until(client, "audio-stop")
    await client.write_event(
        Synthesize(text="Hello.", voice=SynthesizeVoice(name="nobody")).event()
    )
    (error,) = await read_until(client, "error")
    await client.disconnect()

    assert seconds(pcm_of(spoken)) > 0.3
    assert error.data["code"] == "voice-not-found"
    assert "nobody" in error.data["text"]


async def test_bad_events_get_an_error_and_the_server_keeps_serving(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """Malformed and unknown events are answered with `error`; the same connection still works."""
    client = await connect(moxie_tts)
    assert client._writer is not None
    client._writer.write(b"{not json\n")
    await client._writer.drain()
    malformed = (await read_until(client, "error"))[-1]
    await client.write_event(Event(type="make-coffee", data={"strong": True}))
    unknown = (await read_until(client, "error"))[-1]
    await client.write_event(SynthesizeChunk(text="orphan").event())
    orphan = (await read_until(client, "error"))[-1]
    await client.write_event(Event(type="synthesize", data={"text": 42}))
    not_text = (await read_until(client, "error"))[-1]
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeStart().event())
    twice = (await read_until(client, "error"))[-1]
    await client.write_event(SynthesizeChunk(text="Still here.").event())
    await client.write_event(SynthesizeStop().event())
    stream = await read_until(client, "synthesize-stopped")
    await client.write_event(Ping(text="hi").event())
    pong = (await read_until(client, "pong"))[-1]
    await client.disconnect()

    assert [e.data["code"] for e in (malformed, unknown, orphan, not_text, twice)] == [
        "malformed-event", "unknown-event", "no-stream", "malformed-event",
        "stream-already-started",
    ]  # fmt: skip
    assert "make-coffee" in unknown.data["text"]
    assert abs(seconds(pcm_of(stream)) - reference("Still here.")) < 0.15 * reference("Still here.")
    assert pong.data["text"] == "hi"
    assert moxie_tts.running


async def test_hang_up_drops_the_rest_and_frees_the_server(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """A client gone mid-story: the server abandons it and the next client gets its audio whole.

    The story is twenty sentences; the server says it abandoned it after fewer pieces, so the
    next client never waited for the dropped text.
    """
    before = moxie_tts.log_text().count("synthesis abandoned")
    story = await connect(moxie_tts)
    await story.write_event(Synthesize(text=STORY).event())
    await read_until(story, "audio-chunk")
    await story.disconnect()

    streamed = await connect(moxie_tts)
    await streamed.write_event(SynthesizeStart().event())
    await streamed.write_event(SynthesizeChunk(text=STORY).event())
    await read_until(streamed, "audio-chunk")
    await streamed.disconnect()

    client = await connect(moxie_tts)
    await client.write_event(Synthesize(text=GREETING).event())
    events = await read_until(client, "audio-stop")
    await client.disconnect()

    assert abs(seconds(pcm_of(events)) - reference(GREETING)) < 0.1 * reference(GREETING)
    log = moxie_tts.log_text()
    abandoned = [int(n) for n in re.findall(r"synthesis abandoned after (\d+) pieces", log)]
    assert len(abandoned) - before == 2, log[-3000:]
    assert all(pieces < 20 for pieces in abandoned[before:])


async def test_spanish_question_opens_a_new_piece(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """An inverted ¿ inside a sentence is a clause boundary: "Mira amigo" is spoken first."""
    text = "Mira amigo ¿quieres jugar conmigo? ¡Vamos!"
    client = await connect(moxie_tts)
    await client.write_event(SynthesizeStart(voice=SynthesizeVoice(language="es")).event())
    for token in re.findall(r"\s*\S+", text):
        await client.write_event(SynthesizeChunk(text=token).event())
    await client.write_event(SynthesizeStop().event())
    events = await read_until(client, "synthesize-stopped")
    await client.disconnect()

    audio = blocks(events)
    assert len(audio) == 3  # "Mira amigo" / "¿quieres jugar conmigo?" / "¡Vamos!"
    first = reference("Mira amigo,")  # said as a clause, not as the end of a sentence
    assert abs(seconds(audio[0]) - first) < 0.15 * first


async def test_a_stalled_stream_goes_on_clause_by_clause(
    moxie_tts: MoxieTts, socket_enabled: None
) -> None:
    """Little audio ahead and no sentence end yet: the next complete clause is spoken anyway.

    The client sends the next words only after hearing the second clause, so a server that
    waited for the sentence to end would never answer.
    """
    client = await connect(moxie_tts)
    await client.write_event(SynthesizeStart().event())
    for token in ["Good", " morning", ",", " I", " hope", " you", " slept", " well", ",", " and"]:
        await client.write_event(SynthesizeChunk(text=token).event())
    early = await read_until(client, "audio-stop")
    early += await read_until(client, "audio-stop")
    await client.write_event(SynthesizeChunk(text=" that you had sweet dreams.").event())
    await client.write_event(SynthesizeStop().event())
    events = early + await read_until(client, "synthesize-stopped")
    await client.disconnect()

    audio = blocks(events)
    assert len(audio) == 3  # "Good morning," / "I hope you slept well," / "and that ..."
    second = reference("I hope you slept well,")
    assert abs(seconds(audio[1]) - second) < 0.15 * second
