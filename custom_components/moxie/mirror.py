"""The speech mirror: what Moxie says, for speakers on `<base>/tts/text`, and as Speech events.

- Moxie's own speech (answers, `moxie.say`, the Puppet, announcements) is published on
  `<base>/tts/text` only when a speaker must say it: an answer that a voice satellite plays is
  never sent there, so a plain subscriber (OpenMoxie Español's speaker) says each answer once.
  Its Speech event and the in-process listeners (the conversation kept for the card) are fed
  here directly; the copy that comes back from the broker is recognised by id and ignored.
- Everyone else's speech on `<base>/tts/text` (OpenMoxie, Node-RED...) is parsed with the speech
  core, reassembled when chunked, and becomes a Speech event too. Malformed payloads are logged
  and counted; they never stop the mirror.
- Any stop seen on `<base>/tts/stop` (Moxie's own, a speaker's button, anyone) is told to the
  stop listeners, so answers still streaming end with it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
import json
import logging
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .discovery import puppet_state
from .listeners import add_listener
from .speech_core import (
    REASSEMBLY_TIMEOUT,
    SAY_MAX_CHARS,
    SOURCE_PUPPET,
    PayloadError,
    SpeechChunk,
    StopRequest,
    Topics,
    Utterance,
    build_speech,
    decode,
    join_chunks,
    new_id,
    parse_priority,
    parse_speech,
    parse_stop,
)

_LOGGER = logging.getLogger(__name__)

RECENT_UTTERANCES = 20
RECENT_IDS = 512

type PuppetListener = Callable[[str], None]
type UtteranceListener = Callable[[Utterance], None]
type StopListener = Callable[[StopRequest], None]


@dataclass(slots=True)
class _Partial:
    """Chunks of one utterance received so far."""

    first: SpeechChunk
    parts: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class SpeechMirror:
    """Publishes Moxie's speech for speakers and fires the Speech event for every utterance."""

    def __init__(self, hass: HomeAssistant, topics: Topics, language: str) -> None:
        """Prepare the mirror; call async_start to subscribe."""
        self.hass = hass
        self.topics = topics
        self.language = language
        self.rejected: Counter[str] = Counter()
        self.published = 0
        self.heard = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_UTTERANCES)
        self._partials: dict[str, _Partial] = {}
        self._done_ids: deque[str] = deque(maxlen=RECENT_IDS)
        self._puppet_listeners: list[PuppetListener] = []
        self._utterance_listeners: list[UtteranceListener] = []
        self._stop_listeners: list[StopListener] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []

    async def async_start(self) -> None:
        """Subscribe to the mirror, stop and puppet topics."""
        topics = self.topics
        self._unsubscribe = [
            await mqtt.async_subscribe(
                self.hass, topics.tts_text, self._async_mirror_received, qos=1, encoding=None
            ),
            await mqtt.async_subscribe(
                self.hass, topics.tts_stop, self._async_stop_received, qos=1, encoding=None
            ),
            await mqtt.async_subscribe(
                self.hass, topics.puppet_set, self._async_puppet_received, qos=1, encoding=None
            ),
        ]

    @callback
    def async_stop(self) -> None:
        """Unsubscribe and forget partial utterances."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._partials.clear()

    async def async_say(
        self,
        text: str,
        *,
        source: str,
        priority: str = "normal",
        language: str | None = None,
        speak: bool = True,
        satellite: str | None = None,
        group: str | None = None,
    ) -> str:
        """Make Moxie say text (split into chunks over 400 characters); return its id.

        speak=False: a voice satellite (named by satellite) plays it, so no speaker must say it:
        it is not published on `<base>/tts/text`, but it is an utterance (Speech event). The
        utterances of one answer share group: a stop ends the whole group.
        """
        if not text or not text.strip():
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="empty_text")
        if len(text) > SAY_MAX_CHARS:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="text_too_long",
                translation_placeholders={"length": str(len(text)), "max": str(SAY_MAX_CHARS)},
            )
        try:
            level = parse_priority(priority)
        except ValueError:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_priority",
                translation_placeholders={"priority": priority},
            ) from None
        language = language or self.language
        uid = new_id()
        chunks = build_speech(
            text, source=source, priority=level, language=language, utterance_id=uid, group=group
        )
        if speak:
            # The copy the broker sends back is this utterance already: not a second one.
            self._done_ids.append(uid)
            for chunk in chunks:
                await self._async_publish(self.topics.tts_text, chunk.as_payload(), qos=1)
            self.published += 1
        _LOGGER.debug(
            "%s %s (%d chunks) from %s",
            "Mirrored" if speak else "Kept unspoken",
            uid,
            len(chunks),
            source,
        )
        await self._async_utterance(
            Utterance(
                text=join_chunks(chunk.text for chunk in chunks),
                id=uid,
                source=source,
                priority=level,
                language=language,
                chunks=len(chunks),
                timestamp=chunks[0].timestamp or time.time(),
                speak=speak,
                satellite=satellite,
                group=group,
            )
        )
        return uid

    async def async_stop_speaking(self, *, reason: str, clear_queue: bool) -> None:
        """Ask every speaker to stop now (the answers being said end with it)."""
        request = StopRequest(reason=reason, clear_queue=clear_queue)
        self._notify_stop(request)
        await self._async_publish(self.topics.tts_stop, request.as_payload(), qos=1)

    @callback
    def async_listen_puppet(self, listener: PuppetListener) -> CALLBACK_TYPE:
        """Call listener with the text whenever the Puppet makes Moxie speak."""
        return add_listener(self._puppet_listeners, listener)

    @callback
    def async_listen_utterance(self, listener: UtteranceListener) -> CALLBACK_TYPE:
        """Call listener with every utterance (Moxie's own and everyone's), as its event fires."""
        return add_listener(self._utterance_listeners, listener)

    @callback
    def async_listen_stop(self, listener: StopListener) -> CALLBACK_TYPE:
        """Call listener whenever Moxie is told to stop (by Moxie or through the broker)."""
        return add_listener(self._stop_listeners, listener)

    async def _async_publish(
        self, topic: str, payload: str, *, qos: int, retain: bool = False
    ) -> None:
        """Publish through Home Assistant's MQTT client, with a translated error."""
        try:
            await mqtt.async_publish(self.hass, topic, payload, qos=qos, retain=retain)
        except HomeAssistantError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="mqtt_publish_failed",
                translation_placeholders={"topic": topic, "error": str(err)},
            ) from err

    def _reject(self, topic: str, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        _LOGGER.warning("Rejected message on %s (%s): %s", topic, reason, detail)

    async def _async_mirror_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Handle one message on the mirror topic."""
        if msg.retain:
            return  # speech is never retained; a retained leftover is not an utterance
        try:
            chunk = parse_speech(msg.payload)
        except PayloadError as err:
            self._reject(msg.topic, err.reason, err.detail)
            return
        self._drop_stale_partials()
        if chunk.id in self._done_ids:
            _LOGGER.debug("Ignoring chunk %s of %s (already an utterance)", chunk.chunk, chunk.id)
            return
        if chunk.total_chunks == 1:
            await self._async_received_utterance(chunk, chunk.text)
            return
        partial = self._partials.setdefault(chunk.id, _Partial(first=chunk))
        if partial.first.total_chunks != chunk.total_chunks:
            self._reject(msg.topic, "invalid_field", f"{chunk.id}: total_chunks changed")
            return
        partial.parts.setdefault(chunk.chunk, chunk.text)
        if len(partial.parts) == chunk.total_chunks:
            del self._partials[chunk.id]
            text = join_chunks(partial.parts[index] for index in sorted(partial.parts))
            await self._async_received_utterance(partial.first, text)

    def _drop_stale_partials(self) -> None:
        """Forget utterances whose chunks stopped arriving (counted as incomplete)."""
        deadline = time.monotonic() - REASSEMBLY_TIMEOUT
        for uid in [uid for uid, p in self._partials.items() if p.started < deadline]:
            partial = self._partials.pop(uid)
            self._reject(
                self.topics.tts_text,
                "incomplete",
                f"{uid}: {len(partial.parts)} of {partial.first.total_chunks} chunks arrived",
            )

    async def _async_received_utterance(self, first: SpeechChunk, text: str) -> None:
        self._done_ids.append(first.id)
        await self._async_utterance(
            Utterance(
                text=text,
                id=first.id,
                source=first.source,
                priority=first.priority,
                language=first.language or self.language,
                chunks=first.total_chunks,
                timestamp=first.timestamp if first.timestamp is not None else time.time(),
                group=first.group,
            )
        )

    async def _async_utterance(self, utterance: Utterance) -> None:
        """Tell the listeners and fire the Speech event for one complete utterance."""
        self.heard += 1
        event = utterance.event()
        self.recent.append(event)
        for listener in list(self._utterance_listeners):
            listener(utterance)
        try:
            await self._async_publish(
                self.topics.speech, json.dumps(event, ensure_ascii=False), qos=1
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not fire the Speech event of %s: %s", utterance.id, err)

    @callback
    def _async_stop_received(self, msg: mqtt.ReceiveMessage) -> None:
        self._notify_stop(parse_stop(msg.payload))

    @callback
    def _notify_stop(self, request: StopRequest) -> None:
        for listener in list(self._stop_listeners):
            listener(request)

    async def _async_puppet_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Speak verbatim what was typed in the Puppet entity (or published to puppet/set)."""
        if msg.retain:
            return
        try:
            text = decode(msg.payload).strip()
        except PayloadError as err:
            self._reject(msg.topic, err.reason, err.detail)
            return
        if not text:
            self._reject(msg.topic, "empty", "empty puppet text")
            return
        if len(text) > SAY_MAX_CHARS:
            self._reject(msg.topic, "too_long", f"{len(text)} characters, over {SAY_MAX_CHARS}")
            return
        try:
            await self.async_say(text, source=SOURCE_PUPPET)
            # The box shows the line, then empties for the next one (a state change each, so
            # the dashboard's text box clears too).
            await self._async_publish(self.topics.puppet_state, puppet_state(text), qos=1)
            await self._async_publish(
                self.topics.puppet_state, puppet_state(""), qos=1, retain=True
            )
        except HomeAssistantError as err:
            _LOGGER.error("Could not mirror puppet text: %s", err)
            return
        for listener in list(self._puppet_listeners):
            listener(text)
