"""Utterances reassembled from mirror chunks, de-duplicated, in a priority queue.

A stopped answer (its `group`) is remembered, so its utterances still waiting or still to come
are dropped.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
import heapq
import itertools
import logging
import time

from wyoming_servers.speech_core import SOURCE_EXTERNAL, Priority, SpeechChunk, join_chunks

_LOGGER = logging.getLogger(__name__)

SEEN_LIMIT = 8192
STOPPED_GROUPS_LIMIT = 256
"""How many stopped answers (groups) are remembered."""


class AddResult(StrEnum):
    """What the queue did with a part."""

    NEW = "new"  # first part of a new utterance: queued
    PART = "part"  # a further chunk of a known utterance
    DUPLICATE = "duplicate"  # a redelivery of a part already accepted
    LATE = "late"  # a chunk of an utterance that was stopped or has already finished
    STOPPED = "stopped"  # the first chunk of an utterance of a stopped answer: dropped


@dataclass(eq=False)
class Utterance:
    """Everything Moxie says in one mirror message (possibly several chunks)."""

    id: str
    priority: Priority
    total_chunks: int
    source: str = SOURCE_EXTERNAL
    language: str | None = None
    group: str | None = None
    parts: dict[int, str] = field(default_factory=dict)
    received: float = field(default_factory=time.time)
    received_monotonic: float = field(default_factory=time.monotonic)
    attempts: int = 0
    incomplete: bool = False
    first_audio_monotonic: float | None = None  # of the current attempt
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @classmethod
    def from_part(cls, part: SpeechChunk) -> Utterance:
        """Start an utterance from its first received part."""
        utterance = cls(
            id=part.id,
            priority=part.priority,
            total_chunks=part.total_chunks,
            source=part.source,
            language=part.language,
            group=part.group,
        )
        utterance.add(part)
        return utterance

    def add(self, part: SpeechChunk) -> None:
        """Store a part and wake whoever waits for it."""
        self.parts[part.chunk] = part.text
        self._changed.set()

    @property
    def complete(self) -> bool:
        """Whether every chunk has arrived."""
        return len(self.parts) >= self.total_chunks

    @property
    def text(self) -> str:
        """The text received so far, in chunk order."""
        return join_chunks(self.parts[i] for i in sorted(self.parts))

    async def iter_parts(self, chunk_timeout: float) -> AsyncIterator[str]:
        """Yield the chunks in order, waiting up to `chunk_timeout` seconds for each missing one.

        A chunk that never arrives ends the utterance there (logged): what came is spoken.
        """
        for index in range(1, self.total_chunks + 1):
            while index not in self.parts:
                self._changed.clear()
                try:
                    async with asyncio.timeout(chunk_timeout):
                        await self._changed.wait()
                except TimeoutError:
                    _LOGGER.warning(
                        "Chunk %s/%s of %s did not arrive in %.0f s; speaking what came",
                        index,
                        self.total_chunks,
                        self.id,
                        chunk_timeout,
                    )
                    self.incomplete = True
                    return
            yield self.parts[index]


class SpeechQueue:
    """Priority queue (critical > high > normal, FIFO within a priority) with de-duplication."""

    def __init__(self) -> None:
        """Create an empty queue."""
        self._heap: list[tuple[int, int, Utterance]] = []
        self._seq = itertools.count()
        self._front = itertools.count(-1, -1)
        self._active: dict[str, Utterance] = {}
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._stopped_groups: OrderedDict[str, None] = OrderedDict()
        self._available = asyncio.Event()

    def __len__(self) -> int:
        """Count the utterances waiting (not counting the one playing)."""
        return len(self._heap)

    def add(self, part: SpeechChunk) -> tuple[AddResult, Utterance | None]:
        """Accept a part: queue a new utterance, complete a known one or drop a duplicate.

        An utterance of a stopped answer is dropped (STOPPED once, its other chunks LATE).
        """
        key = (part.id, part.chunk)
        if key in self._seen:
            return AddResult.DUPLICATE, None
        if part.id in self._closed:
            return AddResult.LATE, None
        remember(self._seen, key)
        if part.group is not None and part.group in self._stopped_groups:
            remember(self._closed, part.id)
            return AddResult.STOPPED, None
        utterance = self._active.get(part.id)
        if utterance is not None:
            utterance.add(part)
            return AddResult.PART, utterance
        utterance = Utterance.from_part(part)
        self._active[part.id] = utterance
        self._push(utterance, next(self._seq))
        return AddResult.NEW, utterance

    def _push(self, utterance: Utterance, seq: int) -> None:
        heapq.heappush(self._heap, (-int(utterance.priority), seq, utterance))
        self._available.set()

    def requeue_front(self, utterance: Utterance) -> None:
        """Put an interrupted utterance back at the head of its priority."""
        self._push(utterance, next(self._front))

    def remove(self, utterance: Utterance) -> None:
        """Drop a waiting utterance."""
        self._heap = [entry for entry in self._heap if entry[2] is not utterance]
        heapq.heapify(self._heap)
        self.done(utterance)

    async def get(self) -> Utterance:
        """Wait for and remove the next utterance to play."""
        while not self._heap:
            self._available.clear()
            await self._available.wait()
        return heapq.heappop(self._heap)[2]

    def done(self, utterance: Utterance) -> None:
        """Forget an utterance that finished or was dropped: later chunks of it are ignored."""
        self._active.pop(utterance.id, None)
        remember(self._closed, utterance.id)

    def forget(self, message_id: str) -> None:
        """Treat an id as finished (e.g. completed before a restart): redeliveries are ignored."""
        remember(self._closed, message_id)

    def stop_group(self, group: str) -> list[Utterance]:
        """Remember group as stopped; drop its waiting utterances and return them."""
        remember(self._stopped_groups, group, STOPPED_GROUPS_LIMIT)
        dropped = [utterance for utterance in self.snapshot() if utterance.group == group]
        for utterance in dropped:
            self.remove(utterance)
        return dropped

    def clear(self) -> list[Utterance]:
        """Drop every waiting utterance and return them."""
        dropped = self.snapshot()
        self._heap.clear()
        for utterance in dropped:
            self.done(utterance)
        return dropped

    def snapshot(self) -> list[Utterance]:
        """Return the waiting utterances in play order."""
        return [entry[2] for entry in sorted(self._heap, key=lambda e: (e[0], e[1]))]


def remember[K](store: OrderedDict[K, None], key: K, limit: int = SEEN_LIMIT) -> None:
    """Add key to a bounded, insertion-ordered set (the oldest keys are forgotten)."""
    store[key] = None
    store.move_to_end(key)
    while len(store) > limit:
        store.popitem(last=False)
