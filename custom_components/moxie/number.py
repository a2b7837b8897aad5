"""How many days Moxie keeps its conversation (0: never written to disk)."""

from __future__ import annotations

from typing import override

from homeassistant.components.number import NumberEntity, NumberMode
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import slugify

from .conversation_log import CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, ConversationLog
from .models import MoxieConfigEntry

MAX_RETENTION_DAYS = 365


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the conversation retention setting."""
    if (log := entry.runtime_data.conversation_log) is not None:
        async_add_entities([ConversationRetentionNumber(entry, log)])


class ConversationRetentionNumber(NumberEntity):
    """The retention of the conversation shown in the Moxie card, kept in the entry's options.

    It belongs to the whole Moxie, not to one agent, so it is on no agent's device (a device
    belongs to one subentry); its entity id names the Moxie.
    """

    _attr_has_entity_name = True
    _attr_translation_key = "conversation_retention"
    _attr_entity_category = EntityCategory.CONFIG
    _attr_native_min_value = 0
    _attr_native_max_value = MAX_RETENTION_DAYS
    _attr_native_step = 1
    _attr_native_unit_of_measurement = UnitOfTime.DAYS
    _attr_mode = NumberMode.BOX
    _attr_should_poll = False

    def __init__(self, entry: MoxieConfigEntry, log: ConversationLog) -> None:
        """Follow the log of entry."""
        self.entry = entry
        self.log = log
        self._attr_unique_id = f"{entry.entry_id}_conversation_retention"
        self.entity_id = f"number.{slugify(entry.title)}_conversation_retention"

    @property
    @override
    def native_value(self) -> float:
        """Days the conversation is kept."""
        return float(self.entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS))

    @override
    async def async_set_native_value(self, value: float) -> None:
        """Keep the conversation for value days from now on (0 forgets it on disk at once)."""
        days = int(value)
        self.hass.config_entries.async_update_entry(
            self.entry, options={**self.entry.options, CONF_RETENTION_DAYS: days}
        )
        await self.log.async_set_retention(days)
        self.async_write_ha_state()
