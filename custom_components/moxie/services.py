"""Moxie's actions: moxie.say, moxie.stop, moxie.clear_conversation and moxie.forget."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio as vol

from .const import DOMAIN, SERVICE_SAY, SERVICE_STOP
from .models import MoxieConfigEntry
from .speech_core import DEFAULT_PRIORITY, SOURCE_ACTION

SERVICE_CLEAR_CONVERSATION = "clear_conversation"
SERVICE_FORGET = "forget"

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_TEXT = "text"
ATTR_SOURCE = "source"
ATTR_PRIORITY = "priority"
ATTR_LANGUAGE = "language"
ATTR_REASON = "reason"
ATTR_CLEAR_QUEUE = "clear_queue"
ATTR_MEMORY_ID = "memory_id"
ATTR_SCOPE = "scope"
ATTR_EVERYTHING = "everything"

SAY_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        # Length is checked by the mirror, so an oversized text gets a translated error.
        vol.Required(ATTR_TEXT): cv.string,
        vol.Optional(ATTR_SOURCE, default=SOURCE_ACTION): vol.All(cv.string, vol.Length(1, 64)),
        # Checked by the mirror too, so an unknown priority gets a translated error.
        vol.Optional(ATTR_PRIORITY, default=DEFAULT_PRIORITY): cv.string,
        vol.Optional(ATTR_LANGUAGE): vol.All(cv.string, vol.Length(2, 16)),
    }
)
CLEAR_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})
FORGET_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_MEMORY_ID): cv.string,
        vol.Optional(ATTR_SCOPE): cv.string,
        vol.Optional(ATTR_EVERYTHING, default=False): cv.boolean,
    }
)
STOP_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_REASON, default="action"): vol.All(cv.string, vol.Length(0, 200)),
        vol.Optional(ATTR_CLEAR_QUEUE, default=False): cv.boolean,
    }
)


def _entry_for(hass: HomeAssistant, call: ServiceCall) -> MoxieConfigEntry:
    """Return the Moxie entry an action is for (the only one, when none is named)."""
    loaded: list[MoxieConfigEntry] = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]
    if entry_id := call.data.get(ATTR_CONFIG_ENTRY_ID):
        for entry in loaded:
            if entry.entry_id == entry_id:
                return entry
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry_id": entry_id},
        )
    if len(loaded) == 1:
        return loaded[0]
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="no_moxie" if not loaded else "several_moxies",
    )


async def _async_say(call: ServiceCall) -> ServiceResponse:
    entry = _entry_for(call.hass, call)
    utterance_id = await entry.runtime_data.mirror.async_say(
        call.data[ATTR_TEXT],
        source=call.data[ATTR_SOURCE],
        priority=call.data[ATTR_PRIORITY],
        language=call.data.get(ATTR_LANGUAGE),
    )
    return {"id": utterance_id}


async def _async_stop(call: ServiceCall) -> None:
    entry = _entry_for(call.hass, call)
    await entry.runtime_data.mirror.async_stop_speaking(
        reason=call.data[ATTR_REASON], clear_queue=call.data[ATTR_CLEAR_QUEUE]
    )


async def _async_clear_conversation(call: ServiceCall) -> None:
    entry = _entry_for(call.hass, call)
    if (log := entry.runtime_data.conversation_log) is not None:
        await log.async_clear()


async def _async_forget(call: ServiceCall) -> ServiceResponse:
    """Forget one memory, every memory of a person (scope), or everything Moxie remembers."""
    entry = _entry_for(call.hass, call)
    if (store := entry.runtime_data.memory) is None:
        return {"forgotten": 0}
    if memory_id := call.data.get(ATTR_MEMORY_ID):
        if not store.async_delete(memory_id):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="memory_not_found",
                translation_placeholders={"memory_id": memory_id},
            )
        return {"forgotten": 1}
    if scope := call.data.get(ATTR_SCOPE):
        return {"forgotten": store.async_clear(scope)}
    if call.data[ATTR_EVERYTHING]:
        return {"forgotten": store.async_clear()}
    raise ServiceValidationError(translation_domain=DOMAIN, translation_key="forget_what")


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every Moxie entry)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SAY,
        _async_say,
        schema=SAY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(DOMAIN, SERVICE_STOP, _async_stop, schema=STOP_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_CLEAR_CONVERSATION, _async_clear_conversation, schema=CLEAR_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_FORGET,
        _async_forget,
        schema=FORGET_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
