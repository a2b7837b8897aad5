"""Moxie's conversation, kept: questions and answers, Puppet lines, announcements, outside speech.

Each Moxie keeps its last turns in Home Assistant's storage (private, never in diagnostics) for
a number of days (the entry option `conversation_retention_days`, 7 by default; 0 keeps nothing
on disk). Questions come from Moxie's conversation agent (`log_turn` wraps its message handler);
everything else Moxie says comes from the speech mirror's utterances, in process; what Moxie is
saying now follows the speaker's status by utterance id (or, with no speaker reporting, the
latest utterance). The Moxie card reads the log through the websocket command
`moxie/conversation/subscribe`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
import functools
import logging
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
import uuid

from homeassistant.components import conversation
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .listeners import add_listener
from .speech_core import SOURCE_ASSISTANT, Utterance

if TYPE_CHECKING:
    from .mirror import SpeechMirror
    from .models import MoxieConfigEntry
    from .speaker_watch import SpeakerWatch

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


class ConversationLog:
    """The recent conversation of one Moxie, kept across restarts for the retention period."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        mirror: SpeechMirror,
        speaker: SpeakerWatch,
        retention_days: int,
    ) -> None:
        """Prepare an empty log; call async_start to load it and follow Moxie's speech."""
        self.hass = hass
        self.mirror = mirror
        self.speaker = speaker
        self.now: dict[str, Any] = {"type": "now", "text": None, "id": None, "source": None}
        self.retention = timedelta(days=retention_days)
        self.turns: deque[Turn] = deque(maxlen=MAX_TURNS)
        self._store: Store[_Stored] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.conversation.{entry_id}", private=True
        )
        self._listeners: list[LogListener] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._sources: dict[str, str] = {}

    @property
    def keeps(self) -> bool:
        """Whether turns are written to disk (retention is not off)."""
        return self.retention > timedelta(0)

    async def async_start(self) -> None:
        """Load the kept turns (dropping expired ones) and follow what Moxie says."""
        if self.keeps:
            stored = await self._store.async_load()
            if stored is not None:
                self.turns.extend(stored["turns"])
            if self._prune() or stored is None:
                self._save()
        else:
            await self._store.async_remove()
        self._unsubscribe = [
            self.mirror.async_listen_utterance(self._async_utterance),
            self.speaker.async_listen(self._async_speaker_changed),
        ]

    async def async_stop(self) -> None:
        """Stop following Moxie's speech; write what is pending; tell the subscribers."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
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
        return add_listener(self._listeners, listener)

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

    @callback
    def _async_utterance(self, utterance: Utterance) -> None:
        """Keep what Moxie said that is not an answer (answers come with their question)."""
        self._sources[utterance.id] = utterance.source
        if len(self._sources) > MAX_TURNS:
            del self._sources[next(iter(self._sources))]
        if not self.speaker.seen:
            self._set_now(utterance.text, utterance.id, utterance.source)
        if utterance.source == SOURCE_ASSISTANT:
            return
        self.async_add(
            kind="speech",
            text=utterance.text,
            source=utterance.source,
            time=dt_util.utc_from_timestamp(utterance.timestamp).isoformat(),
            speech_id=utterance.id,
        )

    @callback
    def _async_speaker_changed(self) -> None:
        """Follow what the speaker says now, by id: shown while said, gone once stopped or done."""
        uid = self.speaker.current_id
        self._set_now(self.speaker.current_text, uid, self._sources.get(uid or ""))

    @callback
    def _set_now(self, text: str | None, uid: str | None, source: str | None) -> None:
        if (text, uid) == (self.now["text"], self.now["id"]):
            return
        self.now = {"type": "now", "text": text, "id": uid, "source": source}
        self._notify(self.now)

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
        entry.runtime_data.mirror,
        entry.runtime_data.speaker,
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
