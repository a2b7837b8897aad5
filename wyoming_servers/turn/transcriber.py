"""Who turns the audio of a turn into words: Whisper in this process, or a Wyoming server.

`LocalWhisper` runs faster-whisper here. A question of a few seconds does not need Whisper's
whole 30 s window: the encoder's cost grows faster than the window (3000 frames took 0.32 s
here, 1500 frames 0.06 s, Whisper tiny.en, int8, 2 threads), so the audio is heard in a window
of `MIN_WINDOW` seconds or the audio plus `WINDOW_MARGIN`. A short window can make Whisper
repeat itself ("what do cows drink? what do cows drink? ..." on a 1 s question in an 8 s
window), so a transcript that runs past what the audio could hold, says a sentence twice in a
row or the same few words four times is redone the usual way (faster-whisper's transcribe: the
whole window, its temperature fallback and compression checks) and counted.

Whisper in this process also says how sure it is (the mean log-probability of its tokens), so a
turn is not ended on words it barely made out. `RemoteWhisper` sends the audio to a Wyoming
speech-to-text server (moxie-whisper), whose transcript carries no such figure.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import itertools
import logging
import math
import re
from typing import Any, Protocol

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient, AsyncTcpClient
from wyoming.error import Error

from .detector import RATE, WIDTH

_LOGGER = logging.getLogger(__name__)

SEND_BYTES = RATE * WIDTH  # one second of audio per chunk sent to a Whisper server
UPSTREAM_TIMEOUT = 60.0
FULL_WINDOW = 30  # seconds Whisper was trained on
MIN_WINDOW = 12  # seconds; 8 made short questions loop, 12 did not on the test questions
WINDOW_MARGIN = 2  # seconds of quiet after the audio in a longer window
TOKENS_PER_SECOND = 8  # far more than anyone says; a transcript longer than this loops
TOKENS_SLACK = 12
_SENTENCE_END = re.compile(r"(?<=[.?!…])\s+")
# One to four words (or "...") said four times in a row: "... ... ... ...", "la la la la".
_RUN = re.compile(r"(?<!\S)(\S+(?:\s+\S+){0,3}?)(?:\s+\1){3,}(?!\S)")


class UpstreamError(Exception):
    """The Whisper server could not be reached or answered with an error."""


@dataclass(frozen=True, slots=True)
class Heard:
    """A transcript, and how sure Whisper was of it."""

    text: str
    logprob: float | None = None
    """Mean log-probability of its tokens (0: certain); None: not known (a Whisper server)."""


class Transcriber(Protocol):
    """Turns 16 kHz 16-bit mono audio into text."""

    @property
    def where(self) -> str:
        """Where the words come from, for the log."""

    async def transcribe(self, pcm16: bytes, language: str | None) -> Heard:
        """Return what was said in pcm16 (UpstreamError when it cannot be known)."""


def _endpoint(uri: str) -> tuple[str, int]:
    host, port = uri.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


async def open_client(uri: str) -> AsyncClient:
    """Connect a client to the Wyoming server at uri (tcp://host:port)."""
    host, port = _endpoint(uri)
    client = AsyncTcpClient(host, port)
    try:
        await client.connect()
    except OSError as err:
        raise UpstreamError(f"cannot reach the Whisper server at {uri}: {err}") from err
    return client


async def read_transcript(client: AsyncClient) -> str:
    """Read events until the transcript (UpstreamError on an error event or a hang-up)."""
    while True:
        event = await client.read_event()
        if event is None:
            raise UpstreamError("the Whisper server hung up without a transcript")
        if Transcript.is_type(event.type):
            return Transcript.from_event(event).text
        if Error.is_type(event.type):
            raise UpstreamError(f"the Whisper server failed: {Error.from_event(event).text}")


@dataclass(slots=True)
class RemoteWhisper:
    """A Wyoming speech-to-text server (moxie-whisper)."""

    uri: str

    @property
    def where(self) -> str:
        """The server's address."""
        return self.uri

    async def transcribe(self, pcm16: bytes, language: str | None) -> Heard:
        """Send the audio to the server and return its transcript."""
        async with asyncio.timeout(UPSTREAM_TIMEOUT):
            client = await open_client(self.uri)
            try:
                await client.write_event(Transcribe(language=language).event())
                await client.write_event(AudioStart(rate=RATE, width=WIDTH, channels=1).event())
                for start in range(0, len(pcm16), SEND_BYTES):
                    chunk = pcm16[start : start + SEND_BYTES]
                    await client.write_event(
                        AudioChunk(rate=RATE, width=WIDTH, channels=1, audio=chunk).event()
                    )
                await client.write_event(AudioStop().event())
                return Heard(await read_transcript(client))
            except (OSError, ConnectionError) as err:
                raise UpstreamError(f"the Whisper server at {self.uri} failed: {err}") from err
            finally:
                with contextlib.suppress(OSError, ConnectionError):
                    await client.disconnect()


def window_seconds(seconds: float) -> int:
    """Return the window (seconds) a stretch of audio this long is heard in."""
    return min(FULL_WINDOW, max(MIN_WINDOW, math.ceil(seconds) + WINDOW_MARGIN))


def looped(text: str, tokens: int, seconds: float) -> bool:
    """Whether a short-window transcript repeats itself instead of saying what was said."""
    if tokens >= TOKENS_SLACK + TOKENS_PER_SECOND * seconds:
        return True
    if _RUN.search(text.lower()):
        return True
    sentences = [s.strip(" .?!…¿¡").lower() for s in _SENTENCE_END.split(text.strip())]
    return any(a and a == b for a, b in itertools.pairwise(sentences))


class LocalWhisper:
    """faster-whisper in this process: one transcription at a time, in a worker thread."""

    def __init__(
        self, model: str, *, language: str, cpu_threads: int, beam_size: int = 1, **load: Any
    ) -> None:
        """Load the model (a folder, or a name faster-whisper finds in download_root)."""
        from faster_whisper import WhisperModel  # noqa: PLC0415 - heavy, only when used

        self.model_name = model
        self.language = language
        self.beam_size = beam_size
        self.whisper = WhisperModel(
            model, device="cpu", compute_type="int8", cpu_threads=cpu_threads, **load
        )
        self.short = 0
        self.redone = 0
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        """The model, in this process."""
        return f"Whisper {self.model_name} in this process"

    def languages(self) -> list[str]:
        """Return the languages the model hears."""
        return list(self.whisper.supported_languages)

    async def transcribe(self, pcm16: bytes, language: str | None) -> Heard:
        """Transcribe in a worker thread, one at a time.

        A caller cancelled while waiting costs nothing; one cancelled while its thread runs
        holds the turn until the thread is done, so transcriptions never run side by side.
        """
        async with self._lock:
            work = asyncio.ensure_future(asyncio.to_thread(self.transcribe_now, pcm16, language))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                await asyncio.wait([work])
                if not work.cancelled():
                    work.exception()  # read, so a failure nobody waits for is not reported
                raise
            except Exception as err:  # any failure of the model is the turn's error
                _LOGGER.exception("Whisper failed on %.1f s of audio", len(pcm16) / RATE / WIDTH)
                raise UpstreamError(f"Whisper in moxie-turn failed: {err}") from err

    def _language(self, language: str | None) -> str | None:
        if not self.whisper.model.is_multilingual:
            return None
        code = (language or self.language).replace("_", "-").split("-")[0].lower()
        return code if code in self.whisper.supported_languages else self.language

    def transcribe_now(self, pcm16: bytes, language: str | None) -> Heard:
        """Transcribe in this thread: a short window, or the usual way when it loops."""
        import ctranslate2  # noqa: PLC0415
        from faster_whisper.tokenizer import Tokenizer  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415

        audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
        seconds = len(audio) / RATE
        code = self._language(language)
        window = window_seconds(seconds)
        if window < FULL_WINDOW:
            whisper = self.whisper
            extractor = whisper.feature_extractor
            frames = window * RATE // extractor.hop_length
            features = extractor(audio)[:, :frames]
            # Zeros after the audio, as faster-whisper pads its 30 s window.
            features = np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
            features = np.ascontiguousarray(features, dtype=np.float32)
            tokenizer = Tokenizer(
                whisper.hf_tokenizer,
                whisper.model.is_multilingual,
                task="transcribe",
                language=code,
            )
            encoded = whisper.model.encode(
                ctranslate2.StorageView.from_array(features[None]), to_cpu=False
            )
            result = whisper.model.generate(
                encoded,
                [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
                beam_size=self.beam_size,
                max_length=int(TOKENS_SLACK + TOKENS_PER_SECOND * seconds) + 4,
                suppress_blank=True,
                suppress_tokens=[-1],
                return_scores=True,  # the sum of log-probabilities over the length
            )
            ids = result[0].sequences_ids[0]
            text: str = tokenizer.decode(ids).strip()
            if not looped(text, len(ids), seconds):
                self.short += 1
                return Heard(text, float(result[0].scores[0]))
            _LOGGER.debug("Short window repeated itself (%r): the whole window", text[:80])
            self.redone += 1
        segments = list(
            self.whisper.transcribe(
                audio,
                language=code,
                beam_size=self.beam_size,
                without_timestamps=True,
                condition_on_previous_text=False,
            )[0]
        )
        text = "".join(segment.text for segment in segments).strip()
        logprobs = [segment.avg_logprob for segment in segments]
        return Heard(text, sum(logprobs) / len(logprobs) if logprobs else None)
