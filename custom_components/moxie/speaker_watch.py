"""What Moxie's speaker is doing: online, speaking, and what it says (one watch per entry).

The assistant Status and the voice satellite both follow the speaker through this one watch.

The speaker reports on `<base>/tts/status` (retained JSON `status`, `current_text`,
`queue_size`) and `<base>/speaker/availability` (retained `online` / `offline`, its last will).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .topics import MoxieTopics

_LOGGER = logging.getLogger(__name__)

# How long the speaker may take to start on an utterance (a long queue ahead of it included).
START_TIMEOUT = 15.0
# How long an utterance may take to be said: a base plus this many seconds per character.
SAY_BASE = 10.0
SAY_PER_CHAR = 0.1


def _fold(text: str | None) -> str:
    return " ".join((text or "").split())


class SpeakerWatch:
    """Follows Moxie's speaker through its retained status and availability."""

    def __init__(self, hass: HomeAssistant, topics: MoxieTopics) -> None:
        """Prepare; call async_start to subscribe."""
        self.hass = hass
        self.topics = topics
        self.online: bool | None = None
        # Whether a speaker ever reported its status (without one, nothing waits for it).
        self.seen = False
        self.speaking = False
        self.current_text: str | None = None
        self.queue_size = 0
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def busy(self) -> bool:
        """Whether the speaker is speaking or has something queued."""
        return self.speaking or self.queue_size > 0

    async def async_start(self) -> None:
        """Subscribe to the speaker's status and availability."""
        self._unsubscribe = [
            await mqtt.async_subscribe(
                self.hass, self.topics.tts_status, self._async_status, qos=1
            ),
            await mqtt.async_subscribe(
                self.hass, self.topics.speaker_availability, self._async_availability, qos=1
            ),
        ]

    @callback
    def async_stop(self) -> None:
        """Unsubscribe."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @callback
    def async_listen(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener whenever the speaker's state changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def async_wait(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait until condition holds; False when `within` seconds passed first."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def saying(self, text: str) -> bool:
        """Whether the speaker is saying text now (a long text may still be arriving)."""
        current = _fold(self.current_text)
        return self.speaking and bool(current) and _fold(text).startswith(current)

    async def async_wait_said(self, text: str) -> bool | None:
        """Wait until the speaker has said text: None when it never started, else whether it ended.

        The speaker reports each utterance it speaks as `current_text`; the utterance is said
        once the speaker moves on from it (idle, or another text).
        """
        if not await self.async_wait(lambda: self.saying(text), START_TIMEOUT):
            return None
        return await self.async_wait(
            lambda: not self.saying(text), SAY_BASE + SAY_PER_CHAR * len(text)
        )

    async def async_wait_quiet(self, start_timeout: float) -> None:
        """Wait until the speaker starts (within start_timeout) and is then done with its queue."""
        if not await self.async_wait(lambda: self.busy, start_timeout):
            return
        await self.async_wait(lambda: not self.busy, SAY_BASE + SAY_PER_CHAR * 1000)

    @callback
    def _async_status(self, msg: mqtt.ReceiveMessage) -> None:
        try:
            data = json.loads(msg.payload)
            status = data["status"]
        except ValueError, TypeError, KeyError:
            _LOGGER.debug("Ignoring speaker status %r", msg.payload)
            return
        self.seen = True
        self.speaking = status == "speaking"
        current = data.get("current_text")
        self.current_text = current if isinstance(current, str) else None
        queue_size = data.get("queue_size")
        self.queue_size = queue_size if isinstance(queue_size, int) else 0
        self._notify()

    @callback
    def _async_availability(self, msg: mqtt.ReceiveMessage) -> None:
        self.online = msg.payload == "online"
        if not self.online:
            self.speaking = False
            self.queue_size = 0
        self._notify()

    @callback
    def _notify(self) -> None:
        self._changed.set()
        for listener in list(self._listeners):
            listener()
