"""Robot Moxie as a satellite: the robot's ears and mouth through Moxie's pipeline.

The robot (OpenMoxie's protocol, through robot.RobotLink) streams what it hears; Moxie
transcribes it with its Assist pipeline's speech-to-text (in the pipeline's language), answers
the robot's chat turn with Moxie's agent (memory, home control), and the robot says the answer
with its own voice. So, like any voice satellite's answer, the robot's is never published on
`<base>/tts/text` (Moxie's speaker must not say it a second time): it is a Speech event with
`"speak": false` and `"satellite"` this entity, which the card shows.

- `assist_satellite.announce` on this entity: the robot says the text (telehealth PLAY_OUTPUT).
- Any stop of Moxie (`moxie.stop`, the card, a barge-in on Moxie's microphone) interrupts the
  robot (telehealth INTERRUPT).
- The robot's `notify` (what it really said): a Speech event too, unless it is the answer just
  given (already one).
- The Status follows the robot: `listening` while it streams a question, `thinking` until the
  answer is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
import re
from typing import Any, override

from homeassistant.components import conversation, stt
from homeassistant.components.assist_pipeline import (
    PipelineEvent,
    PipelineNotFound,
    async_get_pipeline,
)
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityDescription,
    AssistSatelliteEntityFeature,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import CALLBACK_TYPE, Context, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later
from homeassistant.util import slugify

from .const import CONF_LANGUAGE, DEFAULT_LANGUAGE, DOMAIN, ROBOT_UNIQUE_SUFFIX
from .ha_private import TextAnnouncements, show_satellite_state
from .models import MoxieConfigEntry
from .pipeline import agent_entity_id, moxie_pipeline_id
from .robot import RobotLink, RobotSettings
from .robot_protocol import (
    AUDIO_RATE,
    RemoteChatRequest,
    speakable_text,
    telehealth_interrupt,
    telehealth_play,
)
from .speech_core import SOURCE_ANNOUNCEMENT, SOURCE_SATELLITE, StopRequest

_LOGGER = logging.getLogger(__name__)

# The key of the robot's unique id and device (`<entry id>-robot`).
ROBOT_KEY = ROBOT_UNIQUE_SUFFIX.removeprefix("-")
# What Moxie says when the robot opens its chat (`prompt`), by the entry's language.
OPENERS = {"es": "¡Hola! ¿De qué quieres hablar?", "en": "Hi! What would you like to talk about?"}
# The satellite shows `responding` this long per word of the answer (the robot says it).
SECONDS_PER_WORD = 0.4


def robot_unique_id(entry: MoxieConfigEntry) -> str:
    """Return the robot satellite's unique id (also its device's identifier)."""
    return f"{entry.entry_id}-{ROBOT_KEY}"


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


async def _pcm_stream(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


class RobotSatellite(TextAnnouncements, AssistSatelliteEntity):
    """A Moxie robot served by Moxie (OpenMoxie's protocol over the robot's broker)."""

    entity_description = AssistSatelliteEntityDescription(key="robot")
    _attr_has_entity_name = True
    _attr_name = None
    _attr_supported_features = AssistSatelliteEntityFeature.ANNOUNCE
    _attr_available = False

    def __init__(self, entry: MoxieConfigEntry, settings: RobotSettings) -> None:
        """Prepare the robot's satellite (the link connects once added)."""
        self.entry = entry
        self.settings = settings
        self._attr_unique_id = robot_unique_id(entry)
        self.entity_id = f"assist_satellite.{slugify(entry.title)}_{ROBOT_KEY}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, robot_unique_id(entry))},
            translation_key=ROBOT_KEY,
            translation_placeholders={"name": entry.title},
            manufacturer="Embodied (OpenMoxie)",
            model="Moxie robot",
            serial_number=settings.device_id,
        )
        self.link: RobotLink | None = None
        self._conversation_id: str | None = None
        self._last_answer: str | None = None
        self._idle_later: CALLBACK_TYPE | None = None
        # Counts Moxie's stops: an answer still being thought when one comes is not sent.
        self._stops = 0

    @property
    def _status_key(self) -> str:
        return f"robot:{self.unique_id}"

    # -- life cycle -------------------------------------------------------------------------

    @override
    async def async_added_to_hass(self) -> None:
        """Connect to the robot's broker; interrupt the robot whenever Moxie is stopped."""
        await super().async_added_to_hass()
        self.link = RobotLink(
            self.hass,
            self.settings,
            transcribe=self._async_transcribe,
            chat=self._async_chat,
            notify=self._notify,
            utterance_started=self._utterance_started,
            utterance_ended=self._utterance_ended,
            connection_changed=self._connection_changed,
        )
        self.async_on_remove(self.entry.runtime_data.mirror.async_listen_stop(self._stopped))
        self.entry.runtime_data.robot = self.link
        await self.link.async_start()

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Disconnect from the robot's broker."""
        self._cancel_idle()
        if self.link is not None:
            await self.link.async_stop()
            if self.entry.runtime_data.robot is self.link:
                self.entry.runtime_data.robot = None
        self.entry.runtime_data.status.async_run_phase(self._status_key, None)
        await super().async_will_remove_from_hass()

    @callback
    def _connection_changed(self, connected: bool) -> None:
        self._attr_available = connected
        if self.hass is not None and self.entity_id:
            self.async_write_ha_state()

    # -- configuration: the robot hears its wake word itself --------------------------------

    @callback
    @override
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """Offer no wake words: the robot recognizes its own."""
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=0
        )

    @override
    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to set."""

    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """No pipeline runs on this satellite: the robot's turns are followed by the link."""

    # -- hearing ----------------------------------------------------------------------------

    @callback
    def _utterance_started(self, uid: str) -> None:
        self._cancel_idle()
        show_satellite_state(self, AssistSatelliteState.LISTENING)
        self.entry.runtime_data.status.async_run_phase(self._status_key, "listening")

    @callback
    def _utterance_ended(self, uid: str) -> None:
        show_satellite_state(self, AssistSatelliteState.PROCESSING)
        self.entry.runtime_data.status.async_run_phase(self._status_key, "thinking")
        # Back to idle if no chat turn follows (the robot answered locally, or heard nothing).
        self._idle_in(10.0)

    def _pipeline(self) -> Any:
        """Moxie's Assist pipeline (the preferred one while Moxie has none)."""
        try:
            return async_get_pipeline(self.hass, moxie_pipeline_id(self.hass, self.entry))
        except PipelineNotFound:
            return async_get_pipeline(self.hass, None)

    async def _async_transcribe(self, audio: AsyncIterator[bytes]) -> tuple[str, str]:
        """Transcribe the robot's audio with the pipeline's speech-to-text; (text, language)."""
        pipeline = self._pipeline()
        engine_id = pipeline.stt_engine
        engine = stt.async_get_speech_to_text_engine(self.hass, engine_id) if engine_id else None
        if engine is None:
            raise HomeAssistantError(f"no speech-to-text engine {engine_id!r}")
        language = (
            pipeline.stt_language
            or pipeline.language
            or self.entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
        )
        metadata = stt.SpeechMetadata(
            language=language,
            format=stt.AudioFormats.WAV,
            codec=stt.AudioCodecs.PCM,
            bit_rate=stt.AudioBitRates.BITRATE_16,
            sample_rate=stt.AudioSampleRates(AUDIO_RATE),
            channel=stt.AudioChannels.CHANNEL_MONO,
        )
        result = await engine.async_process_audio_stream(metadata, _pcm_stream(audio))
        if result.result is not stt.SpeechResultState.SUCCESS or result.text is None:
            raise HomeAssistantError("speech-to-text failed")
        text = result.text.strip()
        _LOGGER.debug("The robot heard %r", text)
        return text, language

    # -- the chat turn ----------------------------------------------------------------------

    async def _async_chat(self, request: RemoteChatRequest) -> str | None:
        """Answer the robot's turn with Moxie's agent; the reply's text (no tags).

        `prompt` opens the chat on the robot: a new conversation, greeted with an opening line.
        """
        if request.command == "prompt":
            self._conversation_id = None
            language = str(self.entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE))
            opener = OPENERS.get(language, OPENERS["en"])
            await self._async_mirror(opener, SOURCE_SATELLITE)
            self._last_answer = opener
            return opener
        data = self.entry.runtime_data
        stops = self._stops
        self._cancel_idle()
        show_satellite_state(self, AssistSatelliteState.PROCESSING)
        data.status.async_run_phase(self._status_key, "thinking")
        pipeline = self._pipeline()
        agent = agent_entity_id(self.hass, self.entry) or pipeline.conversation_engine
        language = pipeline.conversation_language or pipeline.language
        try:
            result = await conversation.async_converse(
                self.hass,
                request.speech,
                self._conversation_id,
                Context(),
                language=None if language == "*" else language,
                agent_id=agent,
                device_id=self.device_entry.id if self.device_entry else None,
                satellite_id=self.entity_id,
            )
        finally:
            data.status.async_run_phase(self._status_key, None)
        self._conversation_id = result.conversation_id
        speech = result.response.speech.get("plain", {}).get("speech") or ""
        text = speakable_text(speech)
        if stops != self._stops:
            _LOGGER.debug("Moxie was stopped while answering the robot: the answer is not sent")
            return None
        if not text:
            self._idle_in(0)
            return None
        if data.answers.of(result.conversation_id) is None:
            # Another agent than Moxie's answered: its answer is a Speech event here.
            await self._async_mirror(text, SOURCE_SATELLITE)
        self._last_answer = text
        show_satellite_state(self, AssistSatelliteState.RESPONDING)
        self._idle_in(SECONDS_PER_WORD * len(text.split()))
        return text

    @callback
    def _notify(self, request: RemoteChatRequest) -> None:
        """Fire a Speech event for what the robot said, unless it is the answer just given."""
        said = speakable_text(request.speech)
        if not said:
            return
        last, self._last_answer = self._last_answer, None
        if last is not None and _words(last) == _words(said):
            return
        self.hass.async_create_task(self._async_mirror(said, SOURCE_SATELLITE))

    async def _async_mirror(self, text: str, source: str) -> None:
        """Fire a Speech event for what the robot says (never on `<base>/tts/text`)."""
        try:
            await self.entry.runtime_data.mirror.async_say(
                text, source=source, speak=False, satellite=self.entity_id
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not mirror what the robot says: %s", err)

    # -- speaking and stopping --------------------------------------------------------------

    @override
    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Make the robot say the announcement now (telehealth PLAY_OUTPUT)."""
        text = speakable_text(announcement.message)
        if not text:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="satellite_text_only"
            )
        if self.link is None or not self.link.connected:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="robot_offline")
        self.link.publish_command("telehealth", telehealth_play(text))
        self._last_answer = text
        await self._async_mirror(text, SOURCE_ANNOUNCEMENT)

    @callback
    def _stopped(self, request: StopRequest) -> None:
        """Moxie was told to stop: so is the robot (telehealth INTERRUPT), and its answer."""
        self._stops += 1
        if self.link is not None and self.link.connected:
            self.link.publish_command("telehealth", telehealth_interrupt())
        self._idle_in(0)

    # -- satellite state --------------------------------------------------------------------

    @callback
    def _idle_in(self, seconds: float) -> None:
        self._cancel_idle()

        @callback
        def idle(_now: Any = None) -> None:
            self._idle_later = None
            show_satellite_state(self, AssistSatelliteState.IDLE)

        if seconds <= 0:
            idle()
        else:
            self._idle_later = async_call_later(self.hass, seconds, idle)

    @callback
    def _cancel_idle(self) -> None:
        if self._idle_later is not None:
            self._idle_later()
            self._idle_later = None
