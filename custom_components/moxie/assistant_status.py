"""Moxie's assistant Status, published on `<base>/status` by its one owner.

- `speaking` while Moxie's speaker says anything (it reports on `<base>/tts/status`: answers,
  `moxie.say`, the Puppet, outside publishers), and for an answer mirrored to the speaker from
  its first sentence until the speaker has said it (without a speaker: until it is mirrored);
- `listening` while a run of Moxie's Assist pipeline is in its speech-to-text stage;
- `thinking` from the end of speech-to-text (or the question) until the first answer text;
- `idle` otherwise.
"""

from __future__ import annotations

import asyncio
import logging

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .speaker_watch import SpeakerWatch
from .speech_core import Topics

_LOGGER = logging.getLogger(__name__)

# How long the speaker may take to start on the answer's last sentence.
START_GRACE = 5.0


class AssistantStatus:
    """Derives Moxie's state from pipeline runs, answers and the speaker; publishes changes."""

    def __init__(self, hass: HomeAssistant, topics: Topics, speaker: SpeakerWatch) -> None:
        """Prepare; call async_start to follow the speaker and publish `idle`."""
        self.hass = hass
        self.topics = topics
        self.speaker = speaker
        self.state = "idle"
        self._published: str | None = None
        self._runs: dict[str, str] = {}
        self._thinking: set[object] = set()
        self._answers: dict[object, asyncio.Task[None] | None] = {}
        self._lock = asyncio.Lock()
        self._unsubscribe: CALLBACK_TYPE | None = None

    async def async_start(self) -> None:
        """Follow the speaker's retained status and publish the current state.

        Raises HomeAssistantError when the broker is not available.
        """
        self._unsubscribe = self.speaker.async_listen(self._async_changed)
        self.state = self._compute()
        await mqtt.async_publish(self.hass, self.topics.status, self.state, qos=1, retain=True)
        self._published = self.state

    @callback
    def async_stop(self) -> None:
        """Stop following the speaker and forget pending answers."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._answers.values():
            if task is not None:
                task.cancel()
        self._answers.clear()
        self._thinking.clear()
        self._runs.clear()

    @callback
    def async_run_phase(self, run_id: str, phase: str | None) -> None:
        """Record the phase of a Moxie pipeline run: `listening`, `thinking`, or None (over)."""
        if phase is None:
            self._runs.pop(run_id, None)
        else:
            self._runs[run_id] = phase
        self._async_changed()

    async def async_thinking(self, answer: object) -> None:
        """Count answer as thinking until async_answering; publish before returning."""
        self._thinking.add(answer)
        await self._async_sync()

    async def async_answering(self, answer: object, *, spoken: bool) -> None:
        """End the answer's thinking; spoken tells whether Moxie's speaker says it."""
        self._thinking.discard(answer)
        if spoken:
            self._answers.setdefault(answer, None)
        await self._async_sync()

    @callback
    def async_done(self, answer: object, spoken_ids: list[str]) -> None:
        """Finish answer: it stops counting once the speaker is done with spoken_ids."""
        self._thinking.discard(answer)
        if answer not in self._answers:
            self._async_changed()
            return
        if (task := self._answers[answer]) is not None:
            task.cancel()
        self._answers[answer] = self.hass.async_create_background_task(
            # Not started eagerly: the task forgets the answer, which must be kept first.
            self._async_heard(answer, spoken_ids),
            "moxie status idle",
            eager_start=False,
        )

    async def _async_heard(self, answer: object, spoken_ids: list[str]) -> None:
        if spoken_ids and self.speaker.seen:
            heard = await self.speaker.async_wait_heard(spoken_ids, START_GRACE)
            if not heard:
                _LOGGER.debug("The speaker did not report the answer as said (%s)", heard)
        self._answers.pop(answer, None)
        await self._async_sync()

    @property
    def speaker_seen(self) -> bool:
        """Whether a speaker ever reported (without one, answers do not wait for it)."""
        return self.speaker.seen

    @property
    def speaker_speaking(self) -> bool:
        """Whether Moxie's speaker says something now."""
        return self.speaker.speaking

    def _compute(self) -> str:
        if self.speaker.speaking or self._answers:
            return "speaking"
        if "listening" in self._runs.values():
            return "listening"
        if self._thinking or self._runs:
            return "thinking"
        return "idle"

    @callback
    def _async_changed(self) -> None:
        self.state = self._compute()
        if self.state != self._published:
            self.hass.async_create_background_task(self._async_sync(), "moxie status")

    async def _async_sync(self) -> None:
        """Publish the current state (retained) until what is published is the state.

        A change during a publish (the speaker said a short line at once) is published next,
        so the last state published is always the current one. Broker problems are logged.
        """
        async with self._lock:
            while (state := self._compute()) != self._published:
                self.state = state
                try:
                    await mqtt.async_publish(
                        self.hass, self.topics.status, state, qos=1, retain=True
                    )
                except HomeAssistantError as err:
                    _LOGGER.warning("Could not publish Moxie's status %s: %s", state, err)
                    return
                self._published = state
            self.state = state
