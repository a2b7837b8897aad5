"""The speech mirror: publishes what Moxie says and follows everything said on the mirror topic."""

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
from homeassistant.util import dt as dt_util

from .const import (
    DEFAULT_PRIORITY,
    DOMAIN,
    PAYLOAD_MAX_BYTES,
    PRIORITIES,
    REASSEMBLY_TIMEOUT,
    SAY_MAX_CHARS,
    SOURCE_PUPPET,
)
from .discovery import puppet_state
from .speech import PayloadError, SpeechChunk, build_chunks, parse_payload
from .topics import MoxieTopics

_LOGGER = logging.getLogger(__name__)

RECENT_UTTERANCES = 20
RECENT_IDS = 512

type PuppetListener = Callable[[str], None]


@dataclass(slots=True)
class _Partial:
    """Chunks of one utterance received so far."""

    first: SpeechChunk
    parts: dict[int, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class SpeechMirror:
    """Publishes Moxie's speech to `<base>/tts/text` and fires the Speech event for each utterance.

    Every message on the mirror topic, from any publisher (this integration, OpenMoxie,
    anyone), is parsed, reassembled when chunked, and republished once as a Speech event.
    Malformed payloads are logged and counted; they never stop the mirror.
    """

    def __init__(self, hass: HomeAssistant, topics: MoxieTopics, language: str) -> None:
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
        self._unsubscribe: list[CALLBACK_TYPE] = []

    async def async_start(self) -> None:
        """Subscribe to the mirror and puppet topics."""
        self._unsubscribe = [
            await mqtt.async_subscribe(
                self.hass, self.topics.tts_text, self._async_mirror_received, qos=1, encoding=None
            ),
            await mqtt.async_subscribe(
                self.hass, self.topics.puppet_set, self._async_puppet_received, qos=1, encoding=None
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
        priority: str = DEFAULT_PRIORITY,
        language: str | None = None,
        speak: bool = True,
        satellite: str | None = None,
    ) -> str:
        """Publish one utterance (split into chunks over 400 chars); return its id.

        speak=False mirrors an utterance that speakers must not voice (a voice satellite, named
        by satellite, plays it); it still fires the Speech event.
        """
        if not text or not text.strip():
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="empty_text")
        if len(text) > SAY_MAX_CHARS:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="text_too_long",
                translation_placeholders={"length": str(len(text)), "max": str(SAY_MAX_CHARS)},
            )
        if priority not in PRIORITIES:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_priority",
                translation_placeholders={"priority": priority},
            )
        chunks = build_chunks(
            text,
            source=source,
            priority=priority,
            language=language or self.language,
            speak=speak,
            satellite=satellite,
        )
        for chunk in chunks:
            await self._async_publish(self.topics.tts_text, chunk.as_payload(), qos=1)
        self.published += 1
        _LOGGER.debug("Mirrored %s (%d chunks) from %s", chunks[0].id, len(chunks), source)
        return chunks[0].id

    async def async_stop_speaking(self, *, reason: str, clear_queue: bool) -> None:
        """Ask every speaker to stop now."""
        payload = json.dumps({"reason": reason, "clear_queue": clear_queue})
        await self._async_publish(self.topics.tts_stop, payload, qos=1)

    @callback
    def async_listen_puppet(self, listener: PuppetListener) -> CALLBACK_TYPE:
        """Call listener with the text whenever the Puppet makes Moxie speak."""
        self._puppet_listeners.append(listener)

        @callback
        def remove() -> None:
            self._puppet_listeners.remove(listener)

        return remove

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
            chunk = parse_payload(msg.payload)
        except PayloadError as err:
            self._reject(msg.topic, err.reason, str(err))
            return
        self._drop_stale_partials()
        if chunk.id in self._done_ids:
            _LOGGER.debug("Ignoring redelivered chunk %s of %s", chunk.chunk, chunk.id)
            return
        if chunk.total_chunks == 1:
            await self._async_utterance(chunk, chunk.text)
            return
        partial = self._partials.setdefault(chunk.id, _Partial(first=chunk))
        if partial.first.total_chunks != chunk.total_chunks:
            self._reject(msg.topic, "invalid_field", f"{chunk.id}: total_chunks changed")
            return
        partial.parts.setdefault(chunk.chunk, chunk.text)
        if len(partial.parts) == chunk.total_chunks:
            del self._partials[chunk.id]
            text = " ".join(partial.parts[index] for index in sorted(partial.parts))
            await self._async_utterance(partial.first, text)

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

    async def _async_utterance(self, first: SpeechChunk, text: str) -> None:
        """Fire the Speech event for one complete utterance."""
        self._done_ids.append(first.id)
        self.heard += 1
        event = {
            "event_type": "speech",
            "text": text,
            "id": first.id,
            "source": first.source,
            "priority": first.priority,
            "language": first.language or self.language,
            "chunks": first.total_chunks,
            # A date a person can read in the event's attributes (the mirror JSON keeps Unix time).
            "timestamp": dt_util.utc_from_timestamp(first.timestamp).isoformat(),
            "speak": first.speak,
            "satellite": first.satellite,
        }
        self.recent.append(event)
        await self._async_publish(self.topics.speech, json.dumps(event, ensure_ascii=False), qos=1)

    async def _async_puppet_received(self, msg: mqtt.ReceiveMessage) -> None:
        """Speak verbatim what was typed in the Puppet entity (or published to puppet/set)."""
        if msg.retain:
            return
        payload = msg.payload
        raw = payload.encode() if isinstance(payload, str) else payload
        if len(raw) > PAYLOAD_MAX_BYTES:
            self._reject(msg.topic, "too_large", f"{len(raw)} bytes")
            return
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            self._reject(msg.topic, "not_utf8", str(err))
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
