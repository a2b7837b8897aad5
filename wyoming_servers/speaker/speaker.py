"""The speaker: takes mirror messages, plays them by priority, stops instantly.

A stop ends the utterance being said and the rest of its answer (its `group`): the answer's
utterances waiting in the queue, and those still to come, are dropped as `stopped`.
"""

from __future__ import annotations

from array import array
import asyncio
from collections import Counter, deque
from collections.abc import Callable
import contextlib
from dataclasses import asdict, dataclass, field
import logging
import sys
import time
from typing import Any, NamedTuple

from wyoming_servers.speech_core import (
    SPEAKER_ERROR,
    SPEAKER_IDLE,
    SPEAKER_SPEAKING,
    PayloadError,
    Priority,
    SpeakerStatus,
    SpeechChunk,
    StopRequest,
    parse_speech,
)

from .journal import Journal
from .queue import AddResult, SpeechQueue, Utterance
from .sinks import AudioFormat, Sink
from .synth import SynthError, WyomingSynth

_LOGGER = logging.getLogger(__name__)

HISTORY_SIZE = 50
FINISHED_KEPT = 256
"""Finished utterances kept for the status publisher (published one by one, none lost)."""
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 5.0)


class Finished(NamedTuple):
    """An utterance that left the speaker: `finished_id` and `finished_outcome` of the status."""

    seq: int
    """1, 2, 3... in the order they finished."""
    id: str
    outcome: str
    """played, stopped, cleared, failed or expired (speech_core.OUTCOMES)."""


@dataclass(slots=True)
class HistoryEntry:
    """One utterance that was played, stopped, preempted or failed."""

    id: str
    text: str
    priority: str
    source: str
    outcome: str
    received: float
    started: float
    finished: float
    audio_seconds: float
    queue_wait_ms: float  # received -> the request to the TTS server of the attempt recorded
    synthesis_ms: float | None  # request to the TTS server -> first audio (None: no audio)


@dataclass
class Stats:
    """Counters for /api/stats and /metrics."""

    messages: int = 0
    utterances: int = 0
    chunks: int = 0
    duplicates: int = 0
    retained_ignored: int = 0
    expired: int = 0
    late_chunks: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    played: int = 0
    stopped: int = 0  # every utterance finished as stopped, said in part or not at all
    # Of those, the utterances of a stopped answer (group) dropped before a word was said:
    # waiting in the queue at the stop, or arriving after it.
    stopped_unsaid: int = 0
    preempted: int = 0
    cleared: int = 0
    failed: int = 0
    tts_errors: int = 0
    stop_requests: int = 0
    audio_seconds: float = 0.0
    # The last utterance that played audio: received -> first audio, split into the wait in
    # the queue and the synthesis (request to the TTS server -> first audio).
    last_first_audio_ms: float | None = None
    last_queue_wait_ms: float | None = None
    last_synthesis_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        data = asdict(self)
        data["rejected"] = dict(self.rejected)
        data["rejected_total"] = sum(self.rejected.values())
        return data


def scale_volume(audio: bytes, width: int, volume: int) -> bytes:
    """Scale 16-bit PCM by volume percent (other widths pass through)."""
    if volume >= 100 or width != 2:
        return audio
    samples = array("h")
    samples.frombytes(audio[: len(audio) - len(audio) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    factor = max(volume, 0) / 100
    scaled = array("h", (int(s * factor) for s in samples))
    if sys.byteorder == "big":
        scaled.byteswap()
    return scaled.tobytes()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class Speaker:
    """Priority queue, playback worker, interrupt and the state everyone else reports."""

    def __init__(
        self,
        synth: WyomingSynth,
        sink: Sink,
        *,
        chunk_timeout: float = 30.0,
        max_age: float = 0.0,
        stop_clears_queue: bool = False,
        volume: int = 100,
        journal: Journal | None = None,
    ) -> None:
        """Play through synth into sink; with a journal, accepted speech survives a crash."""
        self.synth = synth
        self.sink = sink
        self.chunk_timeout = chunk_timeout
        self.max_age = max_age
        self.stop_clears_queue = stop_clears_queue
        self.volume = volume
        self.journal = journal
        self.queue = SpeechQueue()
        self.stats = Stats()
        self.history: deque[HistoryEntry] = deque(maxlen=HISTORY_SIZE)
        self.status = SPEAKER_IDLE
        self.current: Utterance | None = None
        self.finished: deque[Finished] = deque(maxlen=FINISHED_KEPT)
        self.last_error: str | None = None
        self.started = time.time()
        self._listeners: list[Callable[[], None]] = []
        self._play_task: asyncio.Task[float] | None = None
        self._interrupt: str | None = None
        self._retrying: Utterance | None = None
        self._played_seconds = 0.0
        self._wakeup = asyncio.Event()
        self._finished_seq = 0
        self._last_group: str | None = None  # of the last utterance taken to be said

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call listener (synchronously) whenever status, queue or volume changes."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def current_text(self) -> str | None:
        """Text being spoken now."""
        return self.current.text if self.current is not None else None

    def speaker_status(self, finished: Finished | None = None) -> SpeakerStatus:
        """Return what `<base>/tts/status` says now, naming finished (default: the last one)."""
        if finished is None and self.finished:
            finished = self.finished[-1]
        return SpeakerStatus(
            status=self.status,
            current_text=self.current_text,
            current_id=self.current.id if self.current is not None else None,
            queue_size=len(self.queue),
            finished_id=finished.id if finished is not None else None,
            finished_outcome=finished.outcome if finished is not None else None,
        )

    def submit(self, payload: bytes) -> AddResult | None:
        """Accept a `<base>/tts/text` payload; None when it was rejected (counted)."""
        self.stats.messages += 1
        try:
            part = parse_speech(payload)
        except PayloadError as err:
            self.stats.rejected[err.reason] += 1
            _LOGGER.warning("Rejected speech payload (%s): %s", err.reason, err.detail)
            return None
        if self._expired(part):
            self._finished(part.id, "expired")
            return None
        result, utterance = self.queue.add(part)
        if self.journal is not None and result in {AddResult.NEW, AddResult.PART}:
            self.journal.record_part(part)
        if result is AddResult.DUPLICATE:
            self.stats.duplicates += 1
            _LOGGER.debug("Duplicate delivery of %s chunk %s ignored", part.id, part.chunk)
        elif result is AddResult.LATE:
            self.stats.late_chunks += 1
            _LOGGER.debug("Chunk %s of finished/stopped %s ignored", part.chunk, part.id)
        elif result is AddResult.STOPPED:
            self.stats.stopped += 1
            self.stats.stopped_unsaid += 1
            _LOGGER.debug("Dropping %s: its answer (group %s) was stopped", part.id, part.group)
            self._finished(part.id, "stopped")
        elif result is AddResult.PART:
            self.stats.chunks += 1
            self._changed()  # current_text grows
        else:
            self.stats.utterances += 1
            self.stats.chunks += 1
            assert utterance is not None
            _LOGGER.debug("Queued %s (%s): %s", utterance.id, part.priority.label, part.text)
            if utterance.priority is Priority.CRITICAL:
                self._wakeup.set()
                playing = self.current
                if playing is not None and playing.priority is not Priority.CRITICAL:
                    self._interrupt_playback("preempt")
            self._changed()
        return result

    def _expired(self, part: SpeechChunk) -> bool:
        """Whether --max-age drops this part (counted and logged)."""
        if self.max_age <= 0 or part.timestamp is None:
            return False
        age = time.time() - part.timestamp
        if age <= self.max_age:
            return False
        self.stats.expired += 1
        _LOGGER.info("Dropping %s: said %.0f s ago (--max-age %s)", part.id, age, self.max_age)
        return True

    def restore(self) -> int:
        """Queue again what the journal holds unfinished; return how many utterances.

        Call before consuming MQTT. Ids finished before the restart are remembered, so a
        redelivery of them is ignored like any duplicate.
        """
        if self.journal is None:
            return 0
        state = self.journal.load()
        for message_id in state.finished:
            self.queue.forget(message_id)
        restored = 0
        for part in state.pending:
            if self._expired(part):
                self.queue.forget(part.id)
                self._finished(part.id, "expired")
                continue
            result, _ = self.queue.add(part)
            if result is AddResult.NEW:
                restored += 1
                self.stats.utterances += 1
            if result in {AddResult.NEW, AddResult.PART}:
                self.stats.chunks += 1
        if restored:
            _LOGGER.info("Restored %s unfinished utterances from %s", restored, self.journal.path)
            self._changed()
        return restored

    def _finished(self, message_id: str, outcome: str) -> None:
        """Record that an utterance left the speaker (journal and status)."""
        if self.journal is not None:
            self.journal.record_done(message_id, outcome)
        self._finished_seq += 1
        self.finished.append(Finished(self._finished_seq, message_id, outcome))
        self._changed()

    def stop(self, request: StopRequest | None = None) -> None:
        """Silence now; drop the rest of the answer being said (optionally the whole queue).

        The answer is the group of the utterance being said (or retried, or, when silent, of
        the last one said: the rest of a streamed answer may still be on its way).
        """
        request = request or StopRequest()
        self.stats.stop_requests += 1
        _LOGGER.info("Stop requested (%s)", request.reason or "no reason")
        group = self._last_group
        if self.current is not None:
            group = self.current.group
            self.queue.done(self.current)
            self._interrupt_playback("stop")
        elif self._retrying is not None:
            group = self._retrying.group
            self.queue.remove(self._retrying)
            self.stats.stopped += 1
            self._finished(self._retrying.id, "stopped")
        if group is not None:
            dropped = self.queue.stop_group(group)
            self.stats.stopped += len(dropped)
            self.stats.stopped_unsaid += len(dropped)
            for utterance in dropped:
                self._finished(utterance.id, "stopped")
            _LOGGER.debug("Answer %s stopped: %s waiting utterances dropped", group, len(dropped))
        if request.clear_queue or self.stop_clears_queue:
            dropped = self.queue.clear()
            self.stats.cleared += len(dropped)
            for utterance in dropped:
                self._finished(utterance.id, "cleared")
        self._wakeup.set()
        self._changed()

    def set_volume(self, volume: int) -> None:
        """Set playback volume in percent (0-100)."""
        self.volume = min(max(volume, 0), 100)
        self._changed()

    def _interrupt_playback(self, reason: str) -> None:
        self._interrupt = reason
        self.sink.abort()
        if self._play_task is not None and not self._play_task.done():
            self._play_task.cancel()

    def _set_status(self, status: str) -> None:
        self.status = status
        self._changed()

    async def run(self) -> None:
        """Play the queue forever."""
        failures = 0
        while True:
            utterance = await self.queue.get()
            self.current = utterance
            self._last_group = utterance.group
            self._interrupt = None
            self._wakeup.clear()
            self._set_status(SPEAKER_SPEAKING)
            started = time.time()
            started_monotonic = time.monotonic()
            utterance.attempts += 1
            utterance.first_audio_monotonic = None
            self._play_task = asyncio.create_task(self._play(utterance, started_monotonic))
            try:
                await asyncio.wait([self._play_task])
            except asyncio.CancelledError:
                self._play_task.cancel()
                self.sink.abort()
                raise
            task, self._play_task = self._play_task, None
            self.current = None
            outcome, seconds = self._outcome(task)
            if outcome == "preempted":
                self.queue.requeue_front(utterance)
            elif outcome == "error":
                self.queue.requeue_front(utterance)
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                self._set_status(SPEAKER_ERROR)
                _LOGGER.error(
                    "%s; keeping %s queued, retrying in %.1f s",
                    self.last_error,
                    utterance.id,
                    delay,
                )
                self._retrying = utterance
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wakeup.wait()
                self._retrying = None
            else:
                failures = 0
                self.last_error = None
                self.queue.done(utterance)
                self._finished(utterance.id, outcome)
                if utterance.incomplete:
                    self.stats.rejected["incomplete"] += 1
            if outcome != "error":
                self.history.append(
                    HistoryEntry(
                        id=utterance.id,
                        text=utterance.text,
                        priority=utterance.priority.label,
                        source=utterance.source,
                        outcome=outcome,
                        received=utterance.received,
                        started=started,
                        finished=time.time(),
                        audio_seconds=round(seconds, 3),
                        queue_wait_ms=_ms(started_monotonic - utterance.received_monotonic),
                        synthesis_ms=(
                            None
                            if utterance.first_audio_monotonic is None
                            else _ms(utterance.first_audio_monotonic - started_monotonic)
                        ),
                    )
                )
            if len(self.queue) == 0 and self.status != SPEAKER_IDLE:
                self._set_status(SPEAKER_IDLE)
            else:
                self._changed()

    def _outcome(self, task: asyncio.Task[float]) -> tuple[str, float]:
        if task.cancelled():
            if self._interrupt == "preempt":
                self.stats.preempted += 1
                return "preempted", self._played_seconds
            self.stats.stopped += 1
            return "stopped", self._played_seconds
        err = task.exception()
        if err is None:
            seconds = task.result()
            self.stats.played += 1
            self.stats.audio_seconds += seconds
            return "played", seconds
        if isinstance(err, SynthError):
            self.stats.tts_errors += 1
            self.last_error = str(err)
            return "error", 0.0
        self.stats.failed += 1
        _LOGGER.error("Playback failed", exc_info=err)
        return "failed", 0.0

    async def _play(self, utterance: Utterance, requested: float) -> float:
        """Synthesize and play one utterance; return the seconds of audio played.

        `requested` is the monotonic time the TTS request starts (after the queue wait).
        """
        audio_format: AudioFormat | None = None
        written = 0
        self._played_seconds = 0.0
        stream = self.synth.synthesize(utterance.iter_parts(self.chunk_timeout), utterance.language)
        try:
            async with contextlib.aclosing(stream):
                async for item in stream:
                    if isinstance(item, AudioFormat):
                        audio_format = item
                        await self.sink.open(utterance.id, item)
                        first_audio = time.monotonic()
                        utterance.first_audio_monotonic = first_audio
                        stats = self.stats
                        stats.last_first_audio_ms = _ms(first_audio - utterance.received_monotonic)
                        stats.last_queue_wait_ms = _ms(requested - utterance.received_monotonic)
                        stats.last_synthesis_ms = _ms(first_audio - requested)
                        continue
                    assert audio_format is not None
                    await self.sink.write(scale_volume(item, audio_format.width, self.volume))
                    written += len(item)
                    self._played_seconds = written / audio_format.bytes_per_second
            await self.sink.close()
        except BaseException:
            self.sink.abort()
            raise
        if audio_format is None:
            return 0.0
        return written / audio_format.bytes_per_second

    def snapshot(self) -> dict[str, Any]:
        """State for /api/status."""
        finished = self.finished[-1] if self.finished else None
        return {
            "status": self.status,
            "current_text": self.current_text,
            "current_id": self.current.id if self.current else None,
            "queue_size": len(self.queue),
            "finished_id": finished.id if finished is not None else None,
            "finished_outcome": finished.outcome if finished is not None else None,
            "volume": self.volume,
            "last_error": self.last_error,
            "tts_uri": self.synth.uri,
            "tts_streaming": self.synth.streaming,
            "uptime": round(time.time() - self.started, 1),
        }
