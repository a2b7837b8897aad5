"""One Wyoming speech-to-text client: hear the turn, end it when it is over, answer its transcript.

Home Assistant's Wyoming speech-to-text streams audio and waits for a `transcript`; a server
whose info says `requires_external_vad: false` ends the turn itself, and Home Assistant stops
streaming when the transcript arrives. What was said is transcribed by the Whisper server
behind (moxie-whisper) at every pause, ahead, so that at the end of the turn the transcript is
usually ready or nearly so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import logging
import time
from typing import override

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.client import AsyncClient, AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncEventHandler

from .detector import RATE, WIDTH, Ears, SmartTurn, Tuning, Verdict
from .words import unfinished

_LOGGER = logging.getLogger(__name__)

SEND_BYTES = RATE * WIDTH  # one second of audio per chunk sent to the Whisper server
UPSTREAM_TIMEOUT = 60.0


class UpstreamError(Exception):
    """The Whisper server behind could not be reached or answered with an error."""


@dataclass(slots=True)
class Counters:
    """What the service did, for its log and its tests."""

    turns: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    speculations: int = 0
    speculations_used: int = 0
    held_by_model: int = 0
    held_by_words: int = 0
    upstream_errors: int = 0

    def end(self, verdict: Verdict) -> None:
        """Count a turn ended by verdict."""
        self.turns += 1
        self.ended[verdict.value] = self.ended.get(verdict.value, 0) + 1


@dataclass(slots=True)
class Service:
    """What every client shares."""

    stt_uri: str
    info: Callable[[], Awaitable[Info]]
    tuning: Tuning
    model: SmartTurn | None
    vad: Callable[[], Callable[[bytes], float]]
    counters: Counters = field(default_factory=Counters)
    ask_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


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


async def _read_transcript(client: AsyncClient) -> str:
    while True:
        event = await client.read_event()
        if event is None:
            raise UpstreamError("the Whisper server hung up without a transcript")
        if Transcript.is_type(event.type):
            return Transcript.from_event(event).text
        if Error.is_type(event.type):
            raise UpstreamError(f"the Whisper server failed: {Error.from_event(event).text}")


async def transcribe(uri: str, language: str | None, pcm16: bytes) -> str:
    """Transcribe 16 kHz 16-bit mono audio with the Whisper server at uri."""
    async with asyncio.timeout(UPSTREAM_TIMEOUT):
        client = await open_client(uri)
        try:
            await client.write_event(Transcribe(language=language).event())
            await client.write_event(AudioStart(rate=RATE, width=WIDTH, channels=1).event())
            for start in range(0, len(pcm16), SEND_BYTES):
                chunk = pcm16[start : start + SEND_BYTES]
                await client.write_event(
                    AudioChunk(rate=RATE, width=WIDTH, channels=1, audio=chunk).event()
                )
            await client.write_event(AudioStop().event())
            return await _read_transcript(client)
        except (OSError, ConnectionError) as err:
            raise UpstreamError(f"the Whisper server at {uri} failed: {err}") from err
        finally:
            with contextlib.suppress(OSError, ConnectionError):
                await client.disconnect()


@dataclass(slots=True)
class _Ahead:
    """A transcription of the audio up to `upto` bytes, started at a pause."""

    upto: int
    task: asyncio.Task[str]


class TurnEventHandler(AsyncEventHandler):
    """Ends a turn when it is over (Smart Turn) and answers its transcript."""

    def __init__(self, service: Service, *args: object, **kwargs: object) -> None:
        """Per connection: no turn yet."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.service = service
        self._converter = AudioChunkConverter(rate=RATE, width=WIDTH, channels=1)
        self._language: str | None = None
        self._ears: Ears | None = None
        self._ahead: _Ahead | None = None
        self._asking: asyncio.Task[None] | None = None
        self._finished = False
        self._upstream: AsyncClient | None = None  # pass-through (no model)
        self._started_at = 0.0

    @override
    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event((await self.service.info()).event())
            return True
        if Transcribe.is_type(event.type):
            self._language = Transcribe.from_event(event).language
            return True
        if AudioStart.is_type(event.type):
            await self._start()
            return True
        if AudioChunk.is_type(event.type):
            if self._ears is None and self._upstream is None and not self._finished:
                await self._start()  # a client that sends audio without audio-start
            await self._hear(self._converter.convert(AudioChunk.from_event(event)).audio)
            return True
        if AudioStop.is_type(event.type):
            if not self._finished:
                await self._finish(None)
            return False
        return True

    @override
    async def disconnect(self) -> None:
        await self._drop()

    async def _start(self) -> None:
        await self._drop()
        self._finished = False
        self._started_at = time.monotonic()
        if self.service.model is None:
            try:
                self._upstream = await open_client(self.service.stt_uri)
                await self._upstream.write_event(Transcribe(language=self._language).event())
                await self._upstream.write_event(
                    AudioStart(rate=RATE, width=WIDTH, channels=1).event()
                )
            except UpstreamError as err:
                await self._fail(err)
            return
        self._ears = Ears(self.service.tuning, self.service.vad())

    async def _hear(self, pcm16: bytes) -> None:
        if self._finished:
            return
        if self._upstream is not None:
            try:
                await self._upstream.write_event(
                    AudioChunk(rate=RATE, width=WIDTH, channels=1, audio=pcm16).event()
                )
            except (OSError, ConnectionError) as err:
                await self._fail(UpstreamError(f"the Whisper server failed: {err}"))
            return
        ears = self._ears
        if ears is None:
            return
        verdict = ears.hear(pcm16)
        if verdict is Verdict.SPECULATE:
            self._speculate(ears)
        elif verdict is not Verdict.LISTEN:
            await self._finish(verdict)
            return
        if ears.time_to_ask() and (self._asking is None or self._asking.done()):
            self._asking = asyncio.create_task(self._ask(ears, ears.last_speech_end))

    def _speculate(self, ears: Ears) -> None:
        if self._ahead is not None and not self._ahead.task.done():
            self._ahead.task.cancel()
        upto = len(ears.audio)
        task = asyncio.create_task(transcribe(self.service.stt_uri, self._language, ears.spoken))
        task.add_done_callback(_quiet)
        self._ahead = _Ahead(upto, task)
        self.service.counters.speculations += 1

    async def _ask(self, ears: Ears, mark: int) -> None:
        """Ask Smart Turn about this pause; end the turn if it and the words say it is over."""
        model = self.service.model
        assert model is not None
        audio = ears.spoken
        async with self.service.ask_lock:
            probability = await asyncio.to_thread(model.probability, audio)
        _LOGGER.debug("Smart Turn: %.3f after %.2f s of silence", probability, ears.silence)
        if self._stale(ears, mark):
            return
        if not ears.complete(probability):
            self.service.counters.held_by_model += 1
            return  # a thinking pause, by how it sounded: max_silence ends it if it is not
        ahead = self._ahead
        if ahead is None or ahead.upto < mark:
            return  # cannot happen (speculate_after <= ask_after); max_silence ends the turn
        try:
            text = await asyncio.shield(ahead.task)
        except UpstreamError:
            return  # the turn ends at max_silence, with a fresh transcription or its error
        if self._stale(ears, mark):
            return
        if unfinished(text, self._language):
            self.service.counters.held_by_words += 1
            _LOGGER.debug("Not over: %r stops mid-sentence", text)
            return
        self.service.counters.speculations_used += 1
        await self._finish(Verdict.COMPLETE, text)

    def _stale(self, ears: Ears, mark: int) -> bool:
        """Whether the turn ended or the child spoke again since the pause at mark."""
        return self._finished or ears is not self._ears or ears.last_speech_end != mark

    async def _finish(self, verdict: Verdict | None, text: str | None = None) -> None:
        """End the turn (verdict None: the client stopped the audio) and send its transcript."""
        if self._finished:
            return
        self._finished = True
        if self._upstream is not None:
            await self._pass_through_stop()
            return
        ears = self._ears
        if ears is None:
            await self.write_event(Transcript(text="").event())
            return
        self.service.counters.end(verdict or Verdict.LISTEN)
        _LOGGER.debug(
            "Turn over (%s) after %.2f s, %.2f s of silence",
            verdict.value if verdict else "audio-stop",
            ears.seconds,
            ears.silence,
        )
        if not ears.started and verdict is not None:
            await self.write_event(Transcript(text="").event())
            return
        if text is None:
            try:
                text = await self._transcript(ears)
            except UpstreamError as err:
                await self._fail(err)
                return
        await self.write_event(Transcript(text=text).event())

    async def _transcript(self, ears: Ears) -> str:
        ahead = self._ahead
        if ahead is not None and ears.last_speech_end <= ahead.upto:
            with contextlib.suppress(asyncio.CancelledError, UpstreamError):
                text = await ahead.task
                self.service.counters.speculations_used += 1
                return text
        return await transcribe(self.service.stt_uri, self._language, ears.spoken)

    async def _pass_through_stop(self) -> None:
        upstream = self._upstream
        assert upstream is not None
        try:
            await upstream.write_event(AudioStop().event())
            async with asyncio.timeout(UPSTREAM_TIMEOUT):
                text = await _read_transcript(upstream)
        except (UpstreamError, OSError, ConnectionError, TimeoutError) as err:
            await self._fail(UpstreamError(str(err)))
            return
        await self.write_event(Transcript(text=text).event())

    async def _fail(self, err: UpstreamError) -> None:
        self.service.counters.upstream_errors += 1
        _LOGGER.error("%s", err)
        self._finished = True
        await self.write_event(Error(text=str(err), code="stt-unreachable").event())

    async def _drop(self) -> None:
        for task in (self._asking, self._ahead.task if self._ahead else None):
            if task is not None and not task.done():
                task.cancel()
        self._asking = None
        self._ahead = None
        self._ears = None
        if self._upstream is not None:
            with contextlib.suppress(OSError, ConnectionError):
                await self._upstream.disconnect()
            self._upstream = None


def _quiet(task: asyncio.Task[str]) -> None:
    """Read a speculative transcription's failure so it is never reported as unretrieved."""
    if not task.cancelled():
        task.exception()
