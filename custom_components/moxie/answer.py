"""Moxie's answers as they stream: who voices them, their pieces on the mirror, and "heard".

- Who voices an answer is decided once, here (`speaker_playback`), by the agent that answers:
  Moxie's speaker, or the voice satellite that asked (then nothing reaches `<base>/tts/text`).
- An answer is mirrored piece by piece as it streams (its first clause alone, then each
  sentence: the speech core's text cutting), each piece an utterance of the answer's group.
- A stop (any, seen by the mirror) ends every answer in flight: nothing more of it is mirrored
  and the speaker drops the rest of its group.
- The AnswerBook keeps the answers by conversation, so the voice satellite knows whether the
  answer to its question was voiced, and waits for it to be heard by id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
import logging

from homeassistant.components import conversation
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .assistant_status import AssistantStatus
from .const import DOMAIN, PLAYBACK_ALWAYS, PLAYBACK_AUTOMATIC, ROBOT_UNIQUE_SUFFIX
from .mirror import SpeechMirror
from .speech_core import SOURCE_ASSISTANT, Cut, StopRequest, TextBuffer, new_id, speakable

_LOGGER = logging.getLogger(__name__)

# The first clause of an answer is said alone once it has this many words ("Good morning,").
FIRST_CLAUSE_WORDS = 2
# Without a sentence end, a run longer than this is cut at its last clause (or a space).
LONG_RUN = 200
# Answers remembered by conversation (for the satellite's follow-up).
REMEMBERED = 32


@callback
def speaker_playback(
    hass: HomeAssistant, user_input: conversation.ConversationInput, playback: str
) -> tuple[bool, str | None]:
    """Return whether Moxie's speaker voices the answer, and the satellite that asked.

    A voice satellite (other than Moxie's own) plays the pipeline's TTS itself, so with
    `automatic` the speaker stays silent then; without a satellite (dashboard chat,
    conversation.process, automations) the speaker says it. `always` / `never` override.
    """
    satellite = user_input.satellite_id
    asked_by_satellite = satellite is not None or user_input.device_id is not None
    if satellite is not None:
        entity = er.async_get(hass).async_get(satellite)
        if (
            entity is not None
            and entity.platform == DOMAIN
            and not entity.unique_id.endswith(ROBOT_UNIQUE_SUFFIX)
        ):
            # Moxie's own satellite: Moxie's speaker voices its answers. (The robot Moxie
            # serves is a satellite like any other: it says its answers itself.)
            satellite, asked_by_satellite = None, False
    elif user_input.device_id is not None:
        device = dr.async_get(hass).async_get(user_input.device_id)
        if device is not None and any(domain == DOMAIN for domain, _ in device.identifiers):
            asked_by_satellite = False
    speak = playback == PLAYBACK_ALWAYS or (
        playback == PLAYBACK_AUTOMATIC and not asked_by_satellite
    )
    return speak, satellite


class AnswerSpeaker:
    """Feed it content as it streams; it mirrors each finished piece, in order.

    Publishing runs in the background so the stream is never held up; `async_finish` says the
    rest and waits until everything is published. The first utterance ends the Status'
    `thinking`; an answer voiced by Moxie's speaker is `speaking` until it has been heard.
    With speak=False (a voice satellite plays it) the utterances are Speech events only.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        mirror: SpeechMirror,
        status: AssistantStatus,
        language: str | None,
        *,
        speak: bool = True,
        satellite: str | None = None,
    ) -> None:
        """Prepare an empty answer; speak=False when a voice satellite plays it instead."""
        self.hass = hass
        self.mirror = mirror
        self.status = status
        self.language = language
        self.speak = speak
        self.satellite = satellite
        self.group = new_id()
        self.said: list[str] = []
        # The utterance ids mirrored, in order (known once async_finish returned).
        self.ids: list[str] = []
        self.stopped = False
        self._buffer = TextBuffer(Cut(clause_words=FIRST_CLAUSE_WORDS, max_chars=LONG_RUN))
        self._last: asyncio.Task[None] | None = None

    def feed(self, text: str) -> None:
        """Add streamed content; mirror the first clause, then the sentences it completes.

        The sentences completed by one piece of content are said together (one utterance).
        """
        self._buffer.add(text)
        self._take(final=False)

    def say_now(self, text: str) -> None:
        """Mirror a whole line (an error or takeover line) after what was fed before."""
        self.flush()
        self._say(text)

    def flush(self) -> None:
        """Mirror whatever is left."""
        self._take(final=True)

    def _take(self, *, final: bool) -> None:
        if not self.said and (clause := self._buffer.take(clause=True, final=final)) is not None:
            self._say(clause)
        pieces: list[str] = []
        while (piece := self._buffer.take(clause=False, final=final)) is not None:
            pieces.append(piece)
        if pieces:
            self._say(" ".join(pieces))

    @callback
    def stop(self) -> None:
        """Moxie was told to stop: nothing more of this answer is said."""
        self.stopped = True

    async def async_finish(self) -> None:
        """Mirror the rest and wait until every utterance is published (idle follows)."""
        self.flush()
        if self._last is not None:
            await self._last
        self.status.async_done(self, self.ids if self.speak else [])

    async def async_think(self) -> None:
        """Show the Status `thinking` until the first text of the answer."""
        await self.status.async_thinking(self)

    def _say(self, piece: str) -> None:
        text = speakable(piece)
        if self.stopped or not any(char.isalnum() for char in text):
            return
        first = not self.said
        self.said.append(text)
        previous = self._last
        self._last = self.hass.async_create_task(
            self._async_publish(previous, text, first=first), "moxie answer speech"
        )

    async def _async_publish(
        self, previous: asyncio.Task[None] | None, text: str, *, first: bool
    ) -> None:
        if previous is not None:
            await previous
        if first:
            await self.status.async_answering(self, spoken=self.speak)
        if self.stopped:
            return
        try:
            uid = await self.mirror.async_say(
                text,
                source=SOURCE_ASSISTANT,
                language=self.language,
                speak=self.speak,
                satellite=self.satellite,
                group=self.group,
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not mirror Moxie's answer: %s", err)
            return
        self.ids.append(uid)


class AnswerBook:
    """The answers of one Moxie: started by its agents, ended by stops, found by conversation."""

    def __init__(
        self,
        hass: HomeAssistant,
        mirror: SpeechMirror,
        status: AssistantStatus,
    ) -> None:
        """Keep answers of mirror's Moxie; call async_start to end them on every stop."""
        self.hass = hass
        self.mirror = mirror
        self.status = status
        self._answers: OrderedDict[str, AnswerSpeaker] = OrderedDict()

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """End the answers in flight whenever Moxie is told to stop; returns the undo."""
        return self.mirror.async_listen_stop(self._stopped)

    @callback
    def answer(
        self,
        conversation_id: str,
        language: str | None,
        *,
        speak: bool,
        satellite: str | None,
    ) -> AnswerSpeaker:
        """Start the answer of conversation_id (it replaces the conversation's previous one)."""
        answer = AnswerSpeaker(
            self.hass,
            self.mirror,
            self.status,
            language,
            speak=speak,
            satellite=satellite,
        )
        self._answers.pop(conversation_id, None)
        self._answers[conversation_id] = answer
        while len(self._answers) > REMEMBERED:
            self._answers.popitem(last=False)
        return answer

    def of(self, conversation_id: str | None) -> AnswerSpeaker | None:
        """Return the latest answer a Moxie agent gave in conversation_id (None: none did)."""
        if conversation_id is None:
            return None
        return self._answers.get(conversation_id)

    @callback
    def _stopped(self, request: StopRequest) -> None:
        del request  # any stop ends the answers: a person hears one thing
        for answer in self._answers.values():
            answer.stop()
