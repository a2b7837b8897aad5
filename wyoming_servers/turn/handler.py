"""One Wyoming speech-to-text client: hear the turn, end it when it is over, answer its transcript.

Home Assistant's Wyoming speech-to-text streams audio and waits for a `transcript`; a server
whose info says `requires_external_vad: false` ends the turn itself, and Home Assistant stops
streaming when the transcript arrives. What was said is transcribed (Whisper in this process,
or the Whisper server behind) at every pause, ahead, so that at the end of the turn the
transcript is usually ready or nearly so.
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
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncEventHandler

from .detector import RATE, WIDTH, Ears, SmartTurn, Tuning, Verdict
from .transcriber import Heard, Transcriber, UpstreamError
from .words import unfinished

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class Counters:
    """What the service did, for its log and its tests."""

    turns: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    speculations: int = 0
    speculations_used: int = 0
    held_by_model: int = 0
    held_by_words: int = 0
    held_by_doubt: int = 0
    upstream_errors: int = 0

    def end(self, verdict: Verdict) -> None:
        """Count a turn ended by verdict."""
        self.turns += 1
        self.ended[verdict.value] = self.ended.get(verdict.value, 0) + 1


@dataclass(slots=True)
class Service:
    """What every client shares."""

    transcriber: Transcriber
    info: Callable[[], Awaitable[Info]]
    tuning: Tuning
    model: SmartTurn | None
    vad: Callable[[], Callable[[bytes], float]]
    counters: Counters = field(default_factory=Counters)
    ask_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(slots=True)
class _Ahead:
    """A transcription of the audio up to `upto` bytes, started at a pause."""

    upto: int
    task: asyncio.Task[Heard]


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
        self._heard: bytearray | None = None  # pass-through (no model): all of the audio
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
            if self._ears is None and self._heard is None and not self._finished:
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
            self._heard = bytearray()
            return
        self._ears = Ears(self.service.tuning, self.service.vad())

    async def _hear(self, pcm16: bytes) -> None:
        if self._finished:
            return
        if self._heard is not None:
            # Whisper hears 30 s at most: what comes after max_turn is not kept.
            room = int(self.service.tuning.max_turn * RATE) * WIDTH - len(self._heard)
            self._heard += pcm16[: max(0, room)]
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
        task = asyncio.create_task(self.service.transcriber.transcribe(ears.spoken, self._language))
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
            heard = await asyncio.shield(ahead.task)
        except UpstreamError:
            return  # the turn ends at max_silence, with a fresh transcription or its error
        if self._stale(ears, mark):
            return
        if unfinished(heard.text, self._language):
            self.service.counters.held_by_words += 1
            _LOGGER.debug("Not over: %r stops mid-sentence", heard.text)
            return
        if heard.logprob is not None and heard.logprob < self.service.tuning.min_logprob:
            self.service.counters.held_by_doubt += 1
            _LOGGER.debug("Not over: %r is not sure (%.2f)", heard.text, heard.logprob)
            return
        self.service.counters.speculations_used += 1
        await self._finish(Verdict.COMPLETE, heard.text)

    def _stale(self, ears: Ears, mark: int) -> bool:
        """Whether the turn ended or the child spoke again since the pause at mark."""
        return self._finished or ears is not self._ears or ears.last_speech_end != mark

    async def _finish(self, verdict: Verdict | None, text: str | None = None) -> None:
        """End the turn (verdict None: the client stopped the audio) and send its transcript."""
        if self._finished:
            return
        self._finished = True
        if self._heard is not None:
            await self._pass_through_stop(bytes(self._heard))
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
                heard = await ahead.task
                self.service.counters.speculations_used += 1
                return heard.text
        return (await self.service.transcriber.transcribe(ears.spoken, self._language)).text

    async def _pass_through_stop(self, pcm16: bytes) -> None:
        try:
            text = (await self.service.transcriber.transcribe(pcm16, self._language)).text
        except (UpstreamError, TimeoutError) as err:
            await self._fail(UpstreamError(str(err) or "the Whisper server did not answer"))
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
        self._heard = None


def _quiet(task: asyncio.Task[Heard]) -> None:
    """Read a speculative transcription's failure so it is never reported as unretrieved."""
    if not task.cancelled():
        task.exception()
