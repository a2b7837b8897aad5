"""Moxie's memory: short facts each person told Moxie, kept in Home Assistant's storage.

A memory belongs to a scope: the person who said it (`user:<id>`, the Home Assistant user of a
chat), the device they spoke to (`device:<id>`, a voice satellite or the robot) or the whole
household (`household`, what everyone may know). Whoever speaks only ever reaches their own
memories and the household's. Each memory keeps when it was learned and last used; a dated fact
("el viernes tengo excursión") expires after its day; a memory unused for the retention period
(the agent option `memory_retention_days`) is forgotten. The store is private storage, never in
diagnostics; parents see and edit it in the Moxie card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
import logging
from typing import TYPE_CHECKING, Any, TypedDict
import uuid

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SUBENTRY_AGENT
from .listeners import add_listener
from .memory_dates import fact_date
from .memory_search import Index, fold

if TYPE_CHECKING:
    from homeassistant.helpers import llm

    from .models import MoxieConfigEntry

_LOGGER = logging.getLogger(__name__)

# Agent options: days a memory is kept after it was last used (0: Moxie remembers nothing), and
# whether Moxie saves what it notices by itself (off: only when asked; ask: asks first; on).
CONF_MEMORY_RETENTION_DAYS = "memory_retention_days"
DEFAULT_MEMORY_RETENTION_DAYS = 365
CONF_MEMORY_NOTICE = "memory_notice"
NOTICE_OFF = "off"
NOTICE_ASK = "ask"
NOTICE_ON = "on"
NOTICE_OPTIONS = [NOTICE_OFF, NOTICE_ASK, NOTICE_ON]
DEFAULT_MEMORY_NOTICE = NOTICE_ASK

HOUSEHOLD = "household"
STORAGE_VERSION = 1
SAVE_DELAY = 1.0
MAX_TEXT = 300
# Memories offered with each question: the best matches, else the most recently used.
PROMPT_MEMORIES = 3

type MemoryListener = Callable[[], None]


@dataclass
class Memory:
    """One thing Moxie remembers."""

    id: str
    scope: str
    text: str
    language: str
    created: str
    last_used: str | None = None
    expires: str | None = None

    @property
    def expires_at(self) -> datetime | None:
        """When the memory stops being true (None: it does not expire)."""
        return dt_util.parse_datetime(self.expires) if self.expires else None


class _Stored(TypedDict):
    memories: list[dict[str, Any]]


def scope_of(llm_context: llm.LLMContext) -> str:
    """Whose memories a conversation reaches: its user, else its device, else the household."""
    if llm_context.context is not None and llm_context.context.user_id:
        return f"user:{llm_context.context.user_id}"
    if llm_context.device_id:
        return f"device:{llm_context.device_id}"
    return HOUSEHOLD


def end_of(day: date) -> datetime:
    """Return when a fact dated day ends: the next midnight in Home Assistant's time zone."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=dt_util.get_default_time_zone())


class MemoryStore:
    """Every memory of one Moxie, kept across restarts."""

    def __init__(self, hass: HomeAssistant, entry_id: str, retention_days: int) -> None:
        """Prepare an empty store; call async_load."""
        self.hass = hass
        self.retention_days = retention_days
        self.memories: dict[str, Memory] = {}
        self._store: Store[_Stored] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.memory.{entry_id}", private=True
        )
        self._listeners: list[MemoryListener] = []
        self._index: Index | None = None

    @property
    def enabled(self) -> bool:
        """Whether Moxie remembers at all (retention 0 turns memory off)."""
        return self.retention_days > 0

    async def async_load(self) -> None:
        """Read the kept memories, dropping those that expired while Home Assistant was off."""
        stored = await self._store.async_load()
        for raw in stored["memories"] if stored else []:
            memory = Memory(**raw)
            self.memories[memory.id] = memory
        if self.prune():
            self._save()

    async def async_stop(self) -> None:
        """Write what is pending and let the listeners go."""
        await self._store.async_save(self._data())
        self._listeners.clear()

    @callback
    def async_listen(self, listener: MemoryListener) -> CALLBACK_TYPE:
        """Call listener after every change."""
        return add_listener(self._listeners, listener)

    def prune(self) -> bool:
        """Forget expired memories and those unused for the retention period."""
        now = dt_util.utcnow()
        unused_since = now - timedelta(days=self.retention_days)
        gone = [
            memory.id
            for memory in self.memories.values()
            if ((expires := memory.expires_at) is not None and expires <= now)
            or _time(memory.last_used or memory.created) < unused_since
        ]
        for memory_id in gone:
            del self.memories[memory_id]
        if gone:
            self._changed()
        return bool(gone)

    def visible_to(self, scope: str) -> list[Memory]:
        """Return the memories whoever speaks in scope may reach: their own and the household's."""
        self.prune()
        return [m for m in self.memories.values() if m.scope in (scope, HOUSEHOLD)]

    def all(self) -> list[Memory]:
        """Every memory, oldest first (for the parents)."""
        self.prune()
        return sorted(self.memories.values(), key=lambda memory: memory.created)

    @callback
    def async_add(self, scope: str, text: str, language: str, until: date | None = None) -> Memory:
        """Remember text for scope; a dated text expires after its day.

        Saying the same thing again refreshes the memory instead of adding a copy.
        """
        text = " ".join(text.split())[:MAX_TEXT]
        now = dt_util.now()
        day = until or fact_date(text, now.date())
        expires = end_of(day).isoformat() if day is not None and day >= now.date() else None
        for memory in self.memories.values():
            if memory.scope == scope and fold(memory.text) == fold(text):
                memory.last_used = now.isoformat()
                memory.expires = expires
                self._changed()
                return memory
        memory = Memory(
            id=uuid.uuid4().hex[:8],
            scope=scope,
            text=text,
            language=language,
            created=now.isoformat(),
            expires=expires,
        )
        self.memories[memory.id] = memory
        self._changed()
        return memory

    @callback
    def async_update(self, memory_id: str, text: str) -> Memory | None:
        """Change what a memory says (a parent's correction); its date is read again."""
        if (memory := self.memories.get(memory_id)) is None:
            return None
        memory.text = " ".join(text.split())[:MAX_TEXT]
        day = fact_date(memory.text, _time(memory.created).date())
        memory.expires = end_of(day).isoformat() if day is not None else None
        self._changed()
        self.prune()
        return memory

    @callback
    def async_delete(self, memory_id: str, scopes: tuple[str, ...] | None = None) -> bool:
        """Forget one memory (only within scopes, when given); return whether it was there."""
        memory = self.memories.get(memory_id)
        if memory is None or (scopes is not None and memory.scope not in scopes):
            return False
        del self.memories[memory_id]
        self._changed()
        return True

    @callback
    def async_clear(self, scope: str | None = None) -> int:
        """Forget every memory of scope (of everyone when None); return how many."""
        gone = [m.id for m in self.memories.values() if scope is None or m.scope == scope]
        for memory_id in gone:
            del self.memories[memory_id]
        self._changed()
        return len(gone)

    def search(self, scope: str, query: str, k: int) -> list[Memory]:
        """Return the k memories of scope (and the household's) that best match query."""
        visible = {memory.id: memory for memory in self.visible_to(scope)}
        index = Index((memory.id, memory.text) for memory in visible.values())
        return [visible[key] for key in index.top(query, k)]

    def for_prompt(self, scope: str, question: str, k: int = PROMPT_MEMORIES) -> list[Memory]:
        """Return what Moxie is reminded of with a question: best matches, else latest used.

        The matches count as used (the latest-used filler does not, or it would never age).
        """
        chosen = self.search(scope, question, k)
        self.async_mark_used(chosen)
        if len(chosen) < k:
            rest = sorted(
                (m for m in self.visible_to(scope) if m not in chosen),
                key=lambda memory: memory.last_used or memory.created,
                reverse=True,
            )
            chosen += rest[: k - len(chosen)]
        return chosen

    @callback
    def async_mark_used(self, memories: list[Memory]) -> None:
        """Note that memories were just offered to Moxie or recalled."""
        if not memories:
            return
        now = dt_util.now().isoformat()
        for memory in memories:
            memory.last_used = now
        self._changed()

    def _changed(self, *, save: bool = True) -> None:
        if save:
            self._save()
        for listener in list(self._listeners):
            listener()

    def _save(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> _Stored:
        return _Stored(memories=[asdict(memory) for memory in self.memories.values()])


def _time(value: str) -> datetime:
    parsed = dt_util.parse_datetime(value)
    return parsed if parsed is not None else dt_util.utcnow()


async def async_start_memory(hass: HomeAssistant, entry: MoxieConfigEntry) -> MemoryStore:
    """Load the memories of entry; they are saved when the entry unloads."""
    retention = [
        int(sub.data.get(CONF_MEMORY_RETENTION_DAYS, DEFAULT_MEMORY_RETENTION_DAYS))
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_AGENT
    ]
    store = MemoryStore(hass, entry.entry_id, max(retention, default=DEFAULT_MEMORY_RETENTION_DAYS))
    await store.async_load()
    entry.async_on_unload(store.async_stop)
    return store
