"""Moxie's conversation, kept: questions and answers, Puppet lines, announcements, outside speech.

Each Moxie keeps its last turns in Home Assistant's storage (private, never in diagnostics) for
a number of days (the entry option `conversation_retention_days`, 7 by default; 0 keeps nothing
on disk). Questions come from Moxie's conversation agent (`log_turn` wraps its message handler);
everything else Moxie says comes from the Speech events on `<base>/speech`. The Moxie card reads
the log through the websocket command `moxie/conversation/subscribe`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
import functools
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
import uuid

from homeassistant.components import conversation, mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SOURCE_ASSISTANT
from .topics import MoxieTopics

if TYPE_CHECKING:
    from .models import MoxieConfigEntry

_LOGGER = logging.getLogger(__name__)

CONF_RETENTION_DAYS = "conversation_retention_days"
DEFAULT_RETENTION_DAYS = 7
MAX_TURNS = 200
STORAGE_VERSION = 1
SAVE_DELAY = 2.0

type Turn = dict[str, Any]
type LogListener = Callable[[dict[str, Any]], None]


class _Stored(TypedDict):
    turns: list[Turn]


def _as_iso(value: object) -> str:
    """Return a Speech event's timestamp (Unix seconds or ISO text) as an ISO date."""
    if isinstance(value, int | float):
        return dt_util.utc_from_timestamp(float(value)).isoformat()
    if isinstance(value, str) and (parsed := dt_util.parse_datetime(value)) is not None:
        return dt_util.as_utc(parsed).isoformat()
    return dt_util.utcnow().isoformat()


class ConversationLog:
    """The recent conversation of one Moxie, kept across restarts for the retention period."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, topics: MoxieTopics, retention_days: int
    ) -> None:
        """Prepare an empty log; call async_start to load it and follow the Speech events."""
        self.hass = hass
        self.topics = topics
        self.retention = timedelta(days=retention_days)
        self.turns: deque[Turn] = deque(maxlen=MAX_TURNS)
        self._store: Store[_Stored] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.conversation.{entry_id}", private=True
        )
        self._listeners: list[LogListener] = []
        self._unsubscribe: CALLBACK_TYPE | None = None

    @property
    def keeps(self) -> bool:
        """Whether turns are written to disk (retention is not off)."""
        return self.retention > timedelta(0)

    async def async_start(self) -> None:
        """Load the kept turns (dropping expired ones) and follow the Speech events."""
        if self.keeps:
            stored = await self._store.async_load()
            if stored is not None:
                self.turns.extend(stored["turns"])
            if self._prune() or stored is None:
                self._save()
        else:
            await self._store.async_remove()
        self._unsubscribe = await mqtt.async_subscribe(
            self.hass, self.topics.speech, self._async_speech_received, qos=1
        )

    async def async_stop(self) -> None:
        """Stop following the Speech events; write what is pending; tell the subscribers."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.keeps:
            await self._store.async_save(self._data())
        self._notify({"type": "unloaded"})
        self._listeners.clear()

    def history(self) -> list[Turn]:
        """Return the kept turns, oldest first."""
        self._prune()
        return list(self.turns)

    @callback
    def async_listen(self, listener: LogListener) -> CALLBACK_TYPE:
        """Call listener with each new turn, what Moxie is saying now, and clears."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    @callback
    def async_add(self, **turn: Any) -> Turn:
        """Keep one turn (question/answer or speech) and tell the subscribers."""
        turn = {"id": uuid.uuid4().hex, "time": dt_util.utcnow().isoformat(), **turn}
        self.turns.append(turn)
        self._prune()
        self._save()
        self._notify({"type": "turn", "turn": turn})
        return turn

    async def async_set_retention(self, days: int) -> None:
        """Keep turns for days from now on; 0 removes them from disk (the card keeps them)."""
        self.retention = timedelta(days=days)
        if self.keeps:
            self._prune()
            await self._store.async_save(self._data())
        else:
            await self._store.async_remove()

    async def async_clear(self) -> None:
        """Forget the whole conversation, on disk too."""
        self.turns.clear()
        await self._store.async_remove()
        if self.keeps:
            await self._store.async_save(self._data())
        self._notify({"type": "cleared"})

    async def _async_speech_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Keep what Moxie said that is not an answer (answers come with their question)."""
        try:
            event = json.loads(msg.payload)
            text = event["text"]
            source = str(event.get("source") or "external")
        except (ValueError, KeyError, TypeError) as err:
            _LOGGER.debug("Ignoring a Speech event that is not Moxie's JSON: %s", err)
            return
        self._notify({"type": "now", "text": text, "source": source})
        if source == SOURCE_ASSISTANT:
            return
        self.async_add(
            kind="speech",
            text=text,
            source=source,
            time=_as_iso(event.get("timestamp")),
            speech_id=event.get("id"),
        )

    def _prune(self) -> bool:
        """Drop turns older than the retention period; return whether any were dropped."""
        if not self.keeps:
            return False
        oldest = dt_util.utcnow() - self.retention
        before = len(self.turns)
        while self.turns and _turn_time(self.turns[0]) < oldest:
            self.turns.popleft()
        return len(self.turns) != before

    def _save(self) -> None:
        if self.keeps:
            self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> _Stored:
        return _Stored(turns=list(self.turns))

    def _notify(self, message: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(message)


def _turn_time(turn: Turn) -> datetime:
    parsed = dt_util.parse_datetime(str(turn.get("time", "")))
    return parsed if parsed is not None else dt_util.utcnow()


async def async_start_conversation_log(
    hass: HomeAssistant, entry: MoxieConfigEntry
) -> ConversationLog:
    """Create, load and start the log of entry; it stops (and saves) when the entry unloads."""
    log = ConversationLog(
        hass,
        entry.entry_id,
        entry.runtime_data.mirror.topics,
        int(entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)),
    )
    await log.async_start()
    entry.async_on_unload(log.async_stop)
    return log


async def _async_asked_by(
    hass: HomeAssistant, user_input: conversation.ConversationInput
) -> dict[str, str | None]:
    """Which device and which person asked, by name, as far as Home Assistant knows."""
    device: str | None = None
    if user_input.satellite_id and (state := hass.states.get(user_input.satellite_id)):
        device = state.name
    elif user_input.device_id and (entry := dr.async_get(hass).async_get(user_input.device_id)):
        device = entry.name_by_user or entry.name
    person: str | None = None
    if user_input.context.user_id and (
        user := await hass.auth.async_get_user(user_input.context.user_id)
    ):
        person = user.name
    return {"device": device, "user": person}


class _MoxieAgent(Protocol):
    hass: HomeAssistant
    entry: MoxieConfigEntry
    entity_id: str


type _Handler[A: _MoxieAgent] = Callable[
    [A, conversation.ConversationInput, conversation.ChatLog],
    Coroutine[Any, Any, conversation.ConversationResult],
]


def log_turn[A: _MoxieAgent](handler: _Handler[A]) -> _Handler[A]:
    """Keep each question to a Moxie agent with the answer it got (wraps its message handler)."""

    @functools.wraps(handler)
    async def handle(
        agent: A, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        result = await handler(agent, user_input, chat_log)
        if (log := agent.entry.runtime_data.conversation_log) is not None:
            answer = result.response.speech.get("plain", {}).get("speech", "")
            log.async_add(
                kind="question",
                question=user_input.text,
                text=answer,
                source=SOURCE_ASSISTANT,
                agent=agent.entity_id,
                language=user_input.language,
                **await _async_asked_by(agent.hass, user_input),
            )
        return result

    return handle
