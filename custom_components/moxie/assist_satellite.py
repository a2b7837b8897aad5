"""Moxie as a voice satellite: it announces, starts conversations, asks, and can be interrupted.

- Speaking is Moxie's own: text on the speech mirror, voiced by moxie-speaker. Home Assistant's
  TTS audio is never made for Moxie's satellite: announcements are not synthesized, and its
  pipeline runs end with the intent stage (the agent's answer reaches the speaker through the
  mirror, as every Moxie answer does), so each answer is heard once.
- Listening: the audio of a Wyoming microphone next to Moxie (wyoming-mic-external), streamed
  into the pipeline from speech-to-text when a conversation starts (action, Listen button, a
  question, an answer that asks back) or from the wake word stage when the pipeline has a wake
  word engine.
- Barge-in: speech heard (microVAD) or the wake word while the speaker speaks stops the speaker
  at once (`moxie.stop`) and starts listening, the first words included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
import logging
import time
from typing import Any, Literal, override

from homeassistant.components.assist_pipeline import (
    PipelineEvent,
    PipelineEventType,
    PipelineNotFound,
    PipelineStage,
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
from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntry, ConfigEntryChange
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import (
    CONF_BARGE_IN,
    CONF_MIC_HOST,
    CONF_MIC_PORT,
    DEFAULT_BARGE_IN,
    DEFAULT_MIC_PORT,
    DOMAIN,
)
from .entity import base_entity_id_changed
from .ha_private import (
    TextAnnouncements,
    cancel_satellite_run,
    keep_responding_after_run,
    satellite_announcing,
    satellite_pipeline_id,
    show_satellite_state,
)
from .models import MoxieConfigEntry
from .robot import robot_settings
from .robot_satellite import RobotSatellite
from .satellite_audio import PreRoll, SpeechStart
from .satellite_device import SatelliteCallbacks
from .satellite_entity import MoxieSatelliteEntity, satellite_unique_id
from .satellite_mic import WyomingMic
from .speaker_watch import START_TIMEOUT, SpeakerWatch
from .speech_core import SOURCE_ANNOUNCEMENT, SOURCE_SATELLITE

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

# How long the speaker may take to start on an answer mirrored before the run ended.
ANSWER_START_GRACE = 5.0
# A wake word stage that ends sooner than this (its service failed) is retried after as long.
WAKE_RETRY = 5.0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add Moxie's satellite, and the robot Moxie serves when Robot Moxie is on."""
    entities: list[AssistSatelliteEntity] = [MoxieSatellite(entry)]
    if (robot := robot_settings(entry.options)) is not None:
        entities.append(RobotSatellite(entry, robot))
    async_add_entities(entities)


def mic_address(entry: ConfigEntry) -> tuple[str, int] | None:
    """Return the microphone's (host, port) from the entry's options, None when not set."""
    host = str(entry.options.get(CONF_MIC_HOST) or "").strip()
    if not host:
        return None
    return host, int(entry.options.get(CONF_MIC_PORT) or DEFAULT_MIC_PORT)


async def _drain(route: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    """Yield the audio put on route until None."""
    while (chunk := await route.get()) is not None:
        yield chunk


class MoxieSatellite(MoxieSatelliteEntity, TextAnnouncements, AssistSatelliteEntity):
    """Moxie's voice satellite: Moxie's speaker for the voice, a Wyoming mic for the ears."""

    entity_description = AssistSatelliteEntityDescription(key="assist_satellite")
    _attr_name = None
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )
    _attr_available = False

    def __init__(self, entry: MoxieConfigEntry) -> None:
        """Prepare the satellite of entry (the microphone connects once added)."""
        super().__init__(entry, "assist_satellite", None)
        self.speaker: SpeakerWatch | None = None
        self._mic: WyomingMic | None = None
        self._mic_task: asyncio.Task[None] | None = None
        self._route: asyncio.Queue[bytes | None] | None = None
        self._route_stage: PipelineStage | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._follow_up: asyncio.Task[None] | None = None
        self._answer: tuple[str, bool, str | None] | None = None
        self._preroll = PreRoll()
        self._speech_start = SpeechStart()

    @property
    @override
    def pipeline_entity_id(self) -> str | None:
        """The satellite's pipeline select (looked up: the platforms start in any order)."""
        return self._select_entity_id("pipeline")

    @property
    @override
    def vad_sensitivity_entity_id(self) -> str | None:
        """The satellite's finished-speaking detection select."""
        return self._select_entity_id("vad_sensitivity")

    def _select_entity_id(self, key: str) -> str | None:
        return er.async_get(self.hass).async_get_entity_id(
            Platform.SELECT, DOMAIN, f"{satellite_unique_id(self.entry)}-{key}"
        )

    @property
    def _status_key(self) -> str:
        # Keyed on the unique id: nothing here depends on the entity id, which may change.
        return f"satellite:{self.unique_id}"

    # -- life cycle -------------------------------------------------------------------------

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the speaker, watch the options, connect the microphone."""
        await super().async_added_to_hass()
        data = self.entry.runtime_data
        self.speaker = data.speaker
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._entry_changed)
        )
        self.async_on_remove(
            data.satellite_device.async_register(
                SatelliteCallbacks(
                    listen=self.async_listen, pipeline_changed=self.async_pipeline_changed
                )
            )
        )
        self._connect_mic()

    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Follow an entity id changed in place (Home Assistant 2026.11+): nothing keys on it."""
        base_entity_id_changed(super(), old_entity_id)

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Disconnect the microphone and stop whatever runs."""
        self._disconnect_mic()
        for task in (self._follow_up, self._run_task):
            if task is not None:
                task.cancel()
        self.entry.runtime_data.status.async_run_phase(self._status_key, None)
        await super().async_will_remove_from_hass()

    @callback
    def _entry_changed(self, change: ConfigEntryChange, entry: ConfigEntry) -> None:
        """Reconnect when the microphone option changed."""
        if change is not ConfigEntryChange.UPDATED or entry.entry_id != self.entry.entry_id:
            return
        current = (self._mic.host, self._mic.port) if self._mic is not None else None
        if mic_address(entry) != current:
            self._disconnect_mic()
            self._connect_mic()

    @callback
    def _connect_mic(self) -> None:
        if (address := mic_address(self.entry)) is None:
            _LOGGER.debug("%s has no microphone configured", self.entry.title)
            return
        self._mic = WyomingMic(*address, self._on_audio, self._on_mic_state, name=self.entry.title)
        self._mic_task = self.entry.async_create_background_task(
            self.hass, self._mic.run(), f"{self.entity_id} microphone"
        )

    @callback
    def _disconnect_mic(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
        self._mic_task = self._mic = None
        self._on_mic_state(False)

    @callback
    def _on_mic_state(self, connected: bool) -> None:
        if connected == self._attr_available:
            return
        self._attr_available = connected
        if not connected:
            self._end_route()
        self.async_write_ha_state()
        if connected:
            self._listen_for_wake_word()

    # -- configuration (wake words live in the pipeline's wake word engine) ------------------

    @callback
    @override
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """Moxie has no on-device wake words."""
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=0
        )

    @override
    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to set: wake words come from the pipeline's wake word engine."""

    # -- speaking -----------------------------------------------------------------------------

    @override
    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Say the announcement on Moxie's speaker; return once it has been said."""
        if not announcement.message.strip():
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="satellite_text_only"
            )
        await self._async_say(announcement.message, SOURCE_ANNOUNCEMENT)

    @override
    async def async_start_conversation(
        self, start_announcement: AssistSatelliteAnnouncement
    ) -> None:
        """Say the opening line (if any), then listen for the answer without a wake word."""
        if start_announcement.message.strip():
            await self._async_say(start_announcement.message, SOURCE_SATELLITE)
        if self._route_stage is not PipelineStage.STT:  # a barge-in may already listen
            self.async_listen()

    async def _async_say(self, message: str, source: str) -> None:
        """Mirror message for Moxie's speaker and wait until the speaker has said it."""
        assert self.speaker is not None
        if self.speaker.online is False:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="speaker_offline")
        uid = await self.entry.runtime_data.mirror.async_say(message, source=source)
        if await self.speaker.async_wait_heard([uid]) is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="speaker_silent",
                translation_placeholders={"seconds": str(int(START_TIMEOUT))},
            )

    # -- listening ----------------------------------------------------------------------------

    @callback
    def async_listen(self, preroll: Iterable[bytes] = (), *, barge_in: bool = False) -> None:
        """Start listening for a question now (no wake word), preroll first.

        Raises ServiceValidationError without a microphone configured (where to set it), and
        HomeAssistantError while the configured microphone is not connected.
        """
        if mic_address(self.entry) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="microphone_not_set"
            )
        if not self.available:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="microphone_unavailable"
            )
        self._start_run(PipelineStage.STT, preroll, barge_in=barge_in)

    @callback
    def _listen_for_wake_word(self) -> None:
        """Stream the microphone into the wake word stage, when the pipeline has one."""
        if (
            not self.available
            or self._route is not None
            or satellite_announcing(self)
            or not self._pipeline_has_wake_word()
        ):
            return
        self._start_run(PipelineStage.WAKE_WORD, ())

    @callback
    def async_pipeline_changed(self) -> None:
        """Another pipeline (or its settings): restart or stop the wake word stage."""
        if self._route_stage is PipelineStage.WAKE_WORD and (task := self._run_task) is not None:
            self._run_task = None
            self._end_route()
            task.cancel()
        self._listen_for_wake_word()

    @callback
    def _start_run(
        self, stage: PipelineStage, preroll: Iterable[bytes], *, barge_in: bool = False
    ) -> None:
        if self._follow_up is not None and stage is not PipelineStage.WAKE_WORD:
            # (The wake word stage runs while an answer is said: the wake word interrupts it.)
            self._follow_up.cancel()
            self._follow_up = None
        route: asyncio.Queue[bytes | None] = asyncio.Queue()
        for chunk in preroll:
            route.put_nowait(chunk)
        self._end_route()
        self._route, self._route_stage = route, stage
        self._speech_start.reset()
        self._run_task = self.entry.async_create_background_task(
            self.hass,
            self._async_run(route, stage, barge_in=barge_in),
            f"{self.entity_id} {stage} run",
        )

    async def _async_run(
        self, route: asyncio.Queue[bytes | None], stage: PipelineStage, *, barge_in: bool
    ) -> None:
        """Run the pipeline on the microphone's audio, from stage to the intent."""
        started = time.monotonic()
        try:
            if barge_in:
                # An answer still streaming is cancelled; what it mirrored meanwhile is
                # stopped too (the first stop went out the moment the speech was heard).
                await cancel_satellite_run(self)
                await self._async_stop_speaker("speech")
            await self.async_accept_pipeline_from_satellite(
                _drain(route), start_stage=stage, end_stage=PipelineStage.INTENT
            )
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # Another run (a barge-in, an action) replaced this one.
        except PipelineNotFound as err:
            _LOGGER.warning("%s cannot listen: %s", self.entity_id, err)
        finally:
            if self._route is route:
                self._end_route()
        if stage is PipelineStage.WAKE_WORD and time.monotonic() - started < WAKE_RETRY:
            # The wake word service failed at once (unreachable?): do not retry in a loop.
            await asyncio.sleep(WAKE_RETRY)
        if self._run_task is asyncio.current_task():
            self._run_task = None
            self._listen_for_wake_word()

    @callback
    def _end_route(self) -> None:
        if (route := self._route) is not None:
            self._route = self._route_stage = None
            route.put_nowait(None)

    @callback
    def _on_audio(self, chunk: bytes) -> None:
        """Route the microphone's audio: to the run listening, and to barge-in detection."""
        # microVAD hears everything, so its state always matches the audio.
        speech = self._speech_start.process(chunk)
        if (route := self._route) is not None:
            route.put_nowait(chunk)
            if self._route_stage is PipelineStage.STT:
                return
        self._preroll.add(chunk)
        if (
            speech
            and self.speaker is not None
            and self.speaker.speaking
            and self.entry.options.get(CONF_BARGE_IN, DEFAULT_BARGE_IN)
        ):
            self._barge_in("speech")

    @callback
    def _barge_in(self, reason: Literal["speech", "wake_word"]) -> None:
        """Stop the speaker now; listen (from the first words heard) unless a run already does."""
        _LOGGER.debug("Barge-in (%s) on %s", reason, self.entity_id)
        self.hass.async_create_task(self._async_stop_speaker(reason))
        if reason == "speech":
            self._speech_start.reset()
            self.async_listen(self._preroll.take(), barge_in=True)

    async def _async_stop_speaker(self, reason: str) -> None:
        try:
            await self.entry.runtime_data.mirror.async_stop_speaking(
                reason=f"barge_in_{reason}", clear_queue=True
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not stop Moxie's speaker: %s", err)

    # -- pipeline events ----------------------------------------------------------------------

    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Follow the run: Status, end of listening, the answer and what comes after it."""
        status = self.entry.runtime_data.status
        data = event.data or {}
        match event.type:
            case PipelineEventType.WAKE_WORD_END:
                if (follow_up := self._follow_up) is not None:
                    self._follow_up = None  # a new turn: the state goes on to listening
                    follow_up.cancel()
                if self.speaker and self.speaker.speaking:
                    self._barge_in("wake_word")
            case PipelineEventType.STT_START:
                if self._route is not None:
                    self._route_stage = PipelineStage.STT
                status.async_run_phase(self._status_key, "listening")
            case PipelineEventType.STT_END:
                self._end_route()
                self._speech_start.reset()
                status.async_run_phase(self._status_key, "thinking")
            case PipelineEventType.INTENT_END:
                output: dict[str, Any] = data.get("intent_output") or {}
                speech = (
                    (output.get("response") or {}).get("speech", {}).get("plain", {}).get("speech")
                )
                if speech and speech.strip():
                    self._answer = (
                        speech,
                        bool(output.get("continue_conversation")),
                        output.get("conversation_id"),
                    )
                    # The answer is still to be heard: stay responding after the run's end.
                    keep_responding_after_run(self)
            case PipelineEventType.RUN_END:
                # (The route ends with its own run: a cancelled run ends after a new one began.)
                status.async_run_phase(self._status_key, None)
                if (answer := self._answer) is not None:
                    self._answer = None
                    show_satellite_state(self, AssistSatelliteState.RESPONDING)
                    self._follow_up = self.entry.async_create_background_task(
                        self.hass, self._async_follow_up(*answer), f"{self.entity_id} answer"
                    )

    async def _async_follow_up(
        self, speech: str, continue_conversation: bool, conversation_id: str | None
    ) -> None:
        """Wait until the answer is heard; listen again when it asked something back.

        A Moxie agent mirrored its answer itself (the answer book knows it, with its ids);
        another agent's answer is said here, as the satellite's.
        """
        data = self.entry.runtime_data
        try:
            answer = data.answers.of(conversation_id)
            if answer is None:
                ids = [await data.mirror.async_say(speech, source=SOURCE_SATELLITE)]
            else:
                ids = answer.ids if answer.speak else []
            if not continue_conversation:
                self._listen_for_wake_word()  # the wake word may interrupt the answer
            if data.speaker.seen:
                await data.speaker.async_wait_heard(ids, ANSWER_START_GRACE)
        except HomeAssistantError as err:
            _LOGGER.warning("Could not say the answer on Moxie's speaker: %s", err)
        finally:
            if self._follow_up is asyncio.current_task():
                self._follow_up = None
                self.tts_response_finished()
        if continue_conversation and self.available:
            self.async_listen()
        else:
            self._listen_for_wake_word()

    # -- the pipeline -------------------------------------------------------------------------

    @callback
    def _pipeline_has_wake_word(self) -> bool:
        try:
            return bool(async_get_pipeline(self.hass, satellite_pipeline_id(self)).wake_word_entity)
        except PipelineNotFound, RuntimeError:
            return False
