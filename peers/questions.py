"""Questions with a thinking pause, said by joe, for the turn-taking tests and benchmark.

A child thinking in the middle of a question ("how many legs does a... spider have?") stops
mid-sentence, with the voice of a sentence that goes on. Each recording here is joe saying the
whole question once (piper-tts, no noise, with its phoneme alignments); the audio is cut at the
word boundary after `pause_after` (the middle of the space between the two words) and the pause
is stretched to the wanted length with silence. So both halves keep the prosody of one sentence.

`ask_in_real_time` streams a recording to a Wyoming speech-to-text server as Home Assistant does.
`PAUSED` is the English set and `PLAIN` are whole questions without a pause. `PAUSED_ES` is the
Spanish set, said by espeak-ng's Spanish voice (the only Spanish voice that installs offline
here; read in Spanish, joe's phonemes are English) with an SSML break of the pause's length
where the child stops, so espeak keeps one sentence's intonation around it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import functools
import time
from typing import Any

import audioop
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event

from peers.voices import JOE_VOICE, STT_RATE, STT_WIDTH, WAIT, espeak_pcm16, joe_voice_dir

CHUNK_BYTES = 1024 * STT_WIDTH  # what a satellite's microphone sends at a time


@dataclass(frozen=True, slots=True)
class PausedQuestion:
    """A question said with a pause of `pause` seconds after the word `pause_after`."""

    text: str
    pause_after: str
    pause: float
    language: str = "en"

    @property
    def before(self) -> str:
        """The words before the pause."""
        words = self.text.split()
        return " ".join(words[: words.index(self.pause_after) + 1])

    @property
    def after(self) -> str:
        """The words after the pause."""
        return self.text[len(self.before) :].strip()


PAUSED = (
    PausedQuestion("How many legs does a spider have?", "a", 0.8),
    PausedQuestion("Why is the sky blue?", "the", 0.6),
    PausedQuestion("Can you tell me a story about dragons?", "about", 1.0),
    PausedQuestion("What do bees make from flowers?", "from", 0.8),
    PausedQuestion("Where do penguins live in the winter?", "the", 0.7),
    PausedQuestion("What is the name of my dog?", "of", 0.9),
)
PAUSED_ES = (
    PausedQuestion("¿Cuántas patas tiene una araña?", "una", 0.8, "es"),
    PausedQuestion("¿Por qué el cielo es azul?", "qué", 0.6, "es"),
    PausedQuestion("¿Me cuentas un cuento de dragones?", "de", 1.0, "es"),
    PausedQuestion("¿Qué comen los pingüinos en invierno?", "en", 0.7, "es"),
    PausedQuestion("¿Cómo se llama mi perro?", "mi", 0.9, "es"),
    PausedQuestion("¿De qué color es el cielo?", "el", 0.8, "es"),
)
PLAIN = ("Why do cats purr?", "What do cows drink?", "Why do birds fly to the south?")


@functools.cache
def _aligned_voice() -> Any:
    from piper import PiperVoice

    return PiperVoice.load(joe_voice_dir() / f"{JOE_VOICE}.onnx", include_alignments=True)


@functools.cache
def _said_with_boundaries(text: str) -> tuple[bytes, int, list[int]]:
    """Joe saying text (no noise): pcm at the voice's rate, the rate, word-boundary samples."""
    from piper import SynthesisConfig

    voice = _aligned_voice()
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    pcm = b""
    boundaries: list[int] = []
    for chunk in voice.synthesize(text, quiet, include_alignments=True):
        offset = len(pcm) // 2
        for alignment in chunk.phoneme_alignments or ():
            if alignment.phoneme == " ":
                boundaries.append(offset + int(alignment.num_samples) // 2)
            offset += int(alignment.num_samples)
        pcm += chunk.audio_int16_bytes
    return pcm, int(voice.config.sample_rate), boundaries


def _to_stt(pcm: bytes, rate: int) -> bytes:
    return audioop.ratecv(pcm, STT_WIDTH, 1, rate, STT_RATE, None)[0]


@functools.cache
def halves(question: PausedQuestion) -> tuple[bytes, bytes]:
    """The two halves of the question (16 kHz 16-bit mono), cut at the pause's word boundary."""
    pcm, rate, boundaries = _said_with_boundaries(question.text)
    words = question.text.split()
    if len(boundaries) != len(words) - 1:  # espeak joined two words ("with the")
        raise ValueError(f"piper did not say {question.text!r} word by word")
    index = words.index(question.pause_after)
    cut = boundaries[index] * STT_WIDTH
    return _to_stt(pcm[:cut], rate), _to_stt(pcm[cut:], rate)


def paused_pcm16(question: PausedQuestion) -> bytes:
    """The whole question with its pause, 16 kHz 16-bit mono."""
    if question.language == "es":
        pause = f'<break time="{round(question.pause * 1000)}ms"/>'
        return espeak_pcm16(f"{question.before} {pause} {question.after}")
    first, second = halves(question)
    silence = bytes(int(question.pause * STT_RATE) * STT_WIDTH)
    return first + silence + second


@dataclass(frozen=True, slots=True)
class Heard:
    """What a Wyoming speech-to-text server answered to a question streamed in real time."""

    text: str | None
    """The transcript (None: an error event, or no transcript at all)."""
    error: str | None
    """The error event's code, if the server sent one."""
    after_speech: float
    """Seconds from the end of the question's audio to the answer."""
    before_audio_stop: bool
    """Whether the answer came while audio was still streaming (the server ended the turn)."""


async def ask_in_real_time(
    uri: str, pcm16: bytes, language: str | None = None, *, tail: float = 3.0
) -> Heard:
    """Stream pcm16 then `tail` seconds of silence in real time, as Home Assistant does.

    Like Home Assistant's Wyoming speech-to-text: `transcribe`, `audio-start`, chunks, and
    `audio-stop` only when the audio ends without an answer; the first `transcript` or `error`
    ends the stream.
    """
    host, port = uri.removeprefix("tcp://").rsplit(":", 1)
    client = AsyncTcpClient(host, int(port))
    await client.connect()
    answer: asyncio.Future[tuple[Event, float]] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type) or Error.is_type(event.type):
                answer.set_result((event, time.monotonic()))
                return
        answer.set_exception(ConnectionError("the server hung up without an answer"))

    reader = asyncio.create_task(read())
    try:
        await client.write_event(Transcribe(language=language).event())
        await client.write_event(AudioStart(rate=STT_RATE, width=STT_WIDTH, channels=1).event())
        audio = pcm16 + bytes(int(tail * STT_RATE) * STT_WIDTH)
        start = time.monotonic()
        speech_end = start + len(pcm16) / (STT_RATE * STT_WIDTH)
        sent = 0
        while sent < len(audio) and not answer.done():
            chunk = audio[sent : sent + CHUNK_BYTES]
            await client.write_event(
                AudioChunk(rate=STT_RATE, width=STT_WIDTH, channels=1, audio=chunk).event()
            )
            sent += len(chunk)
            await asyncio.sleep(max(0.0, start + sent / (STT_RATE * STT_WIDTH) - time.monotonic()))
        before_stop = answer.done()
        if not before_stop:
            await client.write_event(AudioStop().event())
        async with asyncio.timeout(WAIT):
            event, when = await answer
    finally:
        reader.cancel()
        await client.disconnect()
    if Error.is_type(event.type):
        return Heard(None, Error.from_event(event).code, when - speech_end, before_stop)
    return Heard(Transcript.from_event(event).text, None, when - speech_end, before_stop)
