"""Mirror an answer as Moxie speech while it streams: its first clause, then each sentence."""

from __future__ import annotations

import asyncio
import logging
import re

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .assistant_status import AssistantStatus
from .const import DOMAIN, PLAYBACK_ALWAYS, PLAYBACK_AUTOMATIC, SOURCE_ASSISTANT
from .mirror import SpeechMirror

_LOGGER = logging.getLogger(__name__)

# The end of a sentence (. ! ? … and closing quotes or brackets) followed by white space, or
# right after a word at the end of what arrived so far (not after a digit: 3.5 may follow), or
# the end of a line.
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”)\]]*\s+|(?<=[^\W\d_])[.!?…]+[\"'»”)\]]*$|\n+")
# Markup a model may write despite the persona, which a voice should not read out.
_MARKUP = re.compile(r"[*#`~]+")
_BULLET = re.compile(r"^\s*[-•]\s+", re.MULTILINE)
# Without punctuation, a long run is cut at a comma, semicolon or colon.
_CLAUSE = re.compile(r"[,;:]\s+")
LONG_RUN = 200
# The first clause of an answer is said alone as soon as it is complete, so Moxie starts
# speaking after a few words ("Good morning," then the rest): a comma, semicolon or colon
# followed by white space or right after a word at the end of what arrived so far (1,000 is not
# cut), a dash between spaces, or the space before a Spanish ¿ or ¡ inside a sentence; only
# with FIRST_CLAUSE_WORDS words before it, and only before the first sentence has ended.
_FIRST_CLAUSE = re.compile(
    r"[,;:][\"'»”)\]]*(?=\s)|(?<=[^\W\d_])[,;:][\"'»”)\]]*$|\s[-–—]+(?=\s)|\s(?=[¿¡])"  # noqa: RUF001
)
_WORD = re.compile(r"[^\W_]+")
FIRST_CLAUSE_WORDS = 2


def speakable(text: str) -> str:
    """Return text without markup and with white space folded."""
    return " ".join(_BULLET.sub(" ", _MARKUP.sub("", text)).split())


def _first_clause_end(text: str) -> int | None:
    """Where the first clause of text ends, if it is complete before any sentence end."""
    sentence = _BOUNDARY.search(text)
    for match in _FIRST_CLAUSE.finditer(text):
        if sentence is not None and match.start() >= sentence.start():
            return None
        if len(_WORD.findall(text[: match.end()])) >= FIRST_CLAUSE_WORDS:
            return match.end()
    return None


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
        if entity is not None and entity.platform == DOMAIN:
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
    """Feed it content as it streams; it mirrors each finished sentence, in order.

    Publishing runs in the background so the stream is never held up; `async_finish` says the
    rest and waits until everything is published. The first utterance ends the Status'
    `thinking`; an answer voiced by Moxie's speaker is `speaking` until it has been heard.
    With speak=False (a voice satellite plays it) the utterances are mirrored unspoken.
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
        self.said: list[str] = []
        self._buffer = ""
        self._last: asyncio.Task[None] | None = None

    def feed(self, text: str) -> None:
        """Add streamed content; mirror the first clause, then the sentences it completes."""
        self._buffer += text
        if not self.said and (end := _first_clause_end(self._buffer)) is not None:
            piece, self._buffer = self._buffer[:end], self._buffer[end:]
            self._say(piece)
        last = None
        for last in _BOUNDARY.finditer(self._buffer):  # noqa: B007
            pass
        if last is None and len(self._buffer) > LONG_RUN:
            for last in _CLAUSE.finditer(self._buffer):  # noqa: B007
                pass
        if last is not None:
            piece, self._buffer = self._buffer[: last.end()], self._buffer[last.end() :]
            self._say(piece)

    def say_now(self, text: str) -> None:
        """Mirror a whole line (an error or takeover line) after what was fed before."""
        self.flush()
        self._say(text)

    def flush(self) -> None:
        """Mirror whatever is left in the buffer."""
        piece, self._buffer = self._buffer, ""
        self._say(piece)

    async def async_finish(self) -> None:
        """Mirror the rest and wait until every utterance is published (idle follows)."""
        self.flush()
        if self._last is not None:
            await self._last
        self.status.async_done(self, sum(len(text) for text in self.said))

    async def async_think(self) -> None:
        """Show the Status `thinking` until the first text of the answer."""
        await self.status.async_thinking(self)

    def _say(self, piece: str) -> None:
        text = speakable(piece)
        if not any(char.isalnum() for char in text):
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
        try:
            await self.mirror.async_say(
                text,
                source=SOURCE_ASSISTANT,
                language=self.language,
                speak=self.speak,
                satellite=self.satellite,
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not mirror Moxie's answer: %s", err)
