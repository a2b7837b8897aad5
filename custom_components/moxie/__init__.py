"""Moxie for Home Assistant: Moxie's speech mirror, MQTT device and Assist brain."""

from __future__ import annotations

import logging

from homeassistant.components import mqtt
from homeassistant.const import CONF_NAME, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .assistant_status import AssistantStatus
from .brain import async_remove_issues, async_start_brain
from .const import CONF_BASE_TOPIC, CONF_LANGUAGE, DEFAULT_LANGUAGE, DEFAULT_NAME, DOMAIN
from .discovery import MoxieDiscovery
from .mirror import SpeechMirror
from .models import MoxieConfigEntry, MoxieData
from .services import async_setup_services
from .takeover import async_setup_takeovers
from .topics import MoxieTopics

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.AI_TASK, Platform.CONVERSATION, Platform.SWITCH]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register Moxie's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MoxieConfigEntry) -> bool:
    """Start the speech mirror and publish the Moxie device."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_unavailable")
    topics = MoxieTopics(entry.data[CONF_BASE_TOPIC])
    language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
    mirror = SpeechMirror(hass, topics, language)
    discovery = MoxieDiscovery(hass, topics, entry.data.get(CONF_NAME, DEFAULT_NAME), language)
    status = AssistantStatus(hass, mirror)
    try:
        await mirror.async_start()
        await status.async_start()
        await discovery.async_start()
        await mirror.async_set_status("idle")
    except HomeAssistantError as err:
        mirror.async_stop()
        status.async_stop()
        discovery.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="mqtt_unavailable",
        ) from err
    entry.runtime_data = MoxieData(
        mirror=mirror,
        discovery=discovery,
        status=status,
        brain=async_start_brain(hass, entry),
        takeovers=async_setup_takeovers(hass, entry, mirror),
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def _async_reload(hass: HomeAssistant, entry: MoxieConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: MoxieConfigEntry) -> bool:
    """Stop the mirror and mark Moxie offline."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    data = entry.runtime_data
    data.mirror.async_stop()
    data.status.async_stop()
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
    topics = MoxieTopics(entry.data[CONF_BASE_TOPIC])
    discovery = MoxieDiscovery(hass, topics, entry.title, DEFAULT_LANGUAGE)
    try:
        await discovery.async_remove()
    except HomeAssistantError as err:
        _LOGGER.warning("Could not remove the Moxie device from MQTT discovery: %s", err)
