"""Moxie's assistant Status as the agent drives it: thinking, speaking, then idle.

An answer is `speaking` from its first mirrored sentence until the Moxie speaker, when one
reports on `<base>/tts/status`, has said all of it; without a speaker it is idle once mirrored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .mirror import SpeechMirror

_LOGGER = logging.getLogger(__name__)

# How long the speaker may take to start on the answer's last sentence.
START_GRACE = 5.0
# How long an answer may take to be heard: a base plus this many seconds per character.
SPEAK_BASE = 10.0
SPEAK_PER_CHAR = 0.1


class AssistantStatus:
    """Publishes the agent's state; follows the speaker to know when an answer was heard."""

    def __init__(self, hass: HomeAssistant, mirror: SpeechMirror) -> None:
        """Prepare; call async_start to follow the speaker."""
        self.hass = hass
        self.mirror = mirror
        self.speaker_seen = False
        self.speaker_speaking = False
        self._speaker_changed = asyncio.Event()
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._idle_task: asyncio.Task[None] | None = None

    async def async_start(self) -> None:
        """Follow the speaker's retained status."""
        self._unsubscribe = await mqtt.async_subscribe(
            self.hass, self.mirror.topics.tts_status, self._async_speaker_status, qos=1
        )

    @callback
    def async_stop(self) -> None:
        """Stop following the speaker and forget a pending idle."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._cancel_idle()

    async def async_set(self, state: str) -> None:
        """Publish state now (a pending idle is dropped); broker problems are only logged."""
        self._cancel_idle()
        await self._async_publish(state)

    @callback
    def async_done(self, spoken_chars: int) -> None:
        """Go idle once the speaker has said the mirrored answer (in the background)."""
        self._cancel_idle()
        self._idle_task = self.hass.async_create_background_task(
            self._async_idle_when_heard(spoken_chars), "moxie status idle"
        )

    async def _async_idle_when_heard(self, spoken_chars: int) -> None:
        if spoken_chars and self.speaker_seen:
            try:
                async with asyncio.timeout(START_GRACE):
                    await self._wait_speaker(lambda speaking: speaking)
                async with asyncio.timeout(SPEAK_BASE + SPEAK_PER_CHAR * spoken_chars):
                    await self._wait_speaker(lambda speaking: not speaking)
            except TimeoutError:
                _LOGGER.debug("The speaker did not report the answer as said; going idle")
        self._idle_task = None
        await self._async_publish("idle")

    async def _wait_speaker(self, condition: Callable[[bool], bool]) -> None:
        while not condition(self.speaker_speaking):
            self._speaker_changed.clear()
            await self._speaker_changed.wait()

    @callback
    def _async_speaker_status(self, msg: mqtt.ReceiveMessage) -> None:
        try:
            status = json.loads(msg.payload).get("status")
        except ValueError, AttributeError:
            return
        self.speaker_seen = True
        self.speaker_speaking = status == "speaking"
        self._speaker_changed.set()

    def _cancel_idle(self) -> None:
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None

    async def _async_publish(self, state: str) -> None:
        try:
            await self.mirror.async_set_status(state)
        except HomeAssistantError as err:
            _LOGGER.warning("Could not publish Moxie's status %s: %s", state, err)
