"""Moxie for Home Assistant: Moxie's speech mirror, MQTT device and Assist brain."""

from __future__ import annotations

from datetime import timedelta
import logging

from homeassistant.components import mqtt
from homeassistant.const import CONF_API_KEY, CONF_NAME, CONF_URL, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .answer import AnswerBook
from .assistant_status import AssistantStatus
from .blueprint_install import async_install_blueprints
from .brain import Brain, async_remove_issues
from .card import async_setup_card
from .const import (
    CONF_BASE_TOPIC,
    CONF_LANGUAGE,
    CONF_TAKEOVER_MINUTES,
    DEFAULT_LANGUAGE,
    DEFAULT_NAME,
    DEFAULT_TAKEOVER_MINUTES,
    DOMAIN,
    SUBENTRY_AGENT,
)
from .conversation_log import async_start_conversation_log
from .discovery import MoxieDiscovery
from .memory import async_start_memory
from .memory_llm import async_register_memory_api
from .memory_ws import async_setup_memory_ws
from .mirror import SpeechMirror
from .models import MoxieConfigEntry, MoxieData
from .pipeline import MoxiePipeline, async_remove_pipeline
from .repairs import async_track_microphone
from .services import async_setup_services
from .speaker_watch import SpeakerWatch
from .speech_core import Topics
from .takeover import Takeover

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.AI_TASK,
    Platform.ASSIST_SATELLITE,
    Platform.BUTTON,
    Platform.CONVERSATION,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register Moxie's actions and install its blueprints."""
    async_setup_services(hass)
    await async_install_blueprints(hass)
    await async_setup_card(hass)
    async_setup_memory_ws(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MoxieConfigEntry) -> bool:
    """Start the speech mirror and publish the Moxie device."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
    topics = Topics(entry.data[CONF_BASE_TOPIC])
    language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
    mirror = SpeechMirror(hass, topics, language)
    discovery = MoxieDiscovery(hass, topics, entry.data.get(CONF_NAME, DEFAULT_NAME), language)
    speaker = SpeakerWatch(hass, topics)
    status = AssistantStatus(hass, topics, speaker)
    try:
        await mirror.async_start()
        await speaker.async_start()
        await status.async_start()
        await discovery.async_start()
    except HomeAssistantError as err:
        mirror.async_stop()
        speaker.async_stop()
        status.async_stop()
        discovery.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="mqtt_unavailable",
        ) from err
    answers = AnswerBook(hass, mirror, status)
    entry.async_on_unload(answers.async_start())
    entry.async_on_unload(mirror.async_listen_stop(speaker.async_stopped))
    entry.runtime_data = MoxieData(
        mirror=mirror,
        discovery=discovery,
        speaker=speaker,
        status=status,
        answers=answers,
        brain=_async_start_brain(hass, entry),
        takeovers=_async_setup_takeovers(hass, entry, mirror),
    )
    entry.runtime_data.conversation_log = await async_start_conversation_log(hass, entry)
    entry.runtime_data.memory = await async_start_memory(hass, entry)
    entry.async_on_unload(async_register_memory_api(hass, entry))
    # Without a microphone the satellite stays unavailable: a repair issue says what to plug in.
    entry.async_on_unload(async_track_microphone(hass, entry))
    # No update listener: the flows reload the entry themselves (once), as core does since
    # Home Assistant 2025.x (update listeners with async_update_reload_and_abort break in 2026.12).
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # Moxie's Assist pipeline needs the agent entity: created (or checked) once it exists.
    entry.runtime_data.pipeline = pipeline = MoxiePipeline(hass, entry, status.async_run_phase)
    entry.async_on_unload(pipeline.async_stop)
    await pipeline.async_start()
    return True


@callback
def _async_start_brain(hass: HomeAssistant, entry: MoxieConfigEntry) -> Brain | None:
    """Create the brain of entry and check it in the background; None without Ollama URL.

    The check never delays the setup: the speech mirror works whatever Ollama does.
    """
    if not (url := entry.data.get(CONF_URL)):
        return None
    brain = Brain(hass, entry.entry_id, entry.title, url, entry.data.get(CONF_API_KEY))
    brain.start_task = entry.async_create_background_task(
        hass, brain.async_check(), "Moxie brain check"
    )
    return brain


@callback
def _async_setup_takeovers(
    hass: HomeAssistant, entry: MoxieConfigEntry, mirror: SpeechMirror
) -> dict[str, Takeover]:
    """Create one takeover per agent subentry, started whenever the Puppet speaks."""
    takeovers: dict[str, Takeover] = {}
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_AGENT:
            continue
        minutes = float(subentry.data.get(CONF_TAKEOVER_MINUTES, DEFAULT_TAKEOVER_MINUTES))
        takeovers[subentry.subentry_id] = takeover = Takeover(hass, timedelta(minutes=minutes))
        entry.async_on_unload(takeover.async_shutdown)
        entry.async_on_unload(mirror.async_listen_puppet(takeover.async_puppet_spoke))
    return takeovers


async def async_unload_entry(hass: HomeAssistant, entry: MoxieConfigEntry) -> bool:
    """Stop the mirror and mark Moxie offline."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    data = entry.runtime_data
    data.mirror.async_stop()
    data.status.async_stop()
    data.speaker.async_stop()
    data.discovery.async_stop()
    if data.brain is not None:
        await data.brain.async_close()
    try:
        await data.discovery.async_offline()
    except HomeAssistantError as err:
        _LOGGER.debug("Could not publish offline availability: %s", err)
    return True


async def async_remove_entry(hass: HomeAssistant, entry: MoxieConfigEntry) -> None:
    """Remove the Moxie device from MQTT discovery and clear its retained topics."""
    async_remove_issues(hass, entry.entry_id)
    await async_remove_pipeline(hass, entry)
    topics = Topics(entry.data[CONF_BASE_TOPIC])
    discovery = MoxieDiscovery(hass, topics, entry.title, DEFAULT_LANGUAGE)
    try:
        await discovery.async_remove()
    except HomeAssistantError as err:
        _LOGGER.warning("Could not remove the Moxie device from MQTT discovery: %s", err)
