"""The Puppet takeover switch: on while a human speaks through Moxie and the agent waits."""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN, SwitchEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import MoxieEntity, base_entity_id_changed
from .models import MoxieConfigEntry
from .takeover import Takeover

# The switch only reads the takeover's state; nothing is polled.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one takeover switch per agent."""
    for subentry_id, takeover in entry.runtime_data.takeovers.items():
        async_add_entities(
            [TakeoverSwitch(entry, entry.subentries[subentry_id], takeover)],
            config_subentry_id=subentry_id,
        )


class TakeoverSwitch(MoxieEntity, SwitchEntity):
    """Shows the pause; turning it off gives the conversation back to the agent at once."""

    _attr_translation_key = "takeover"
    _attr_should_poll = False
    # A control of the owner's: configuration entities are not exposed to Assist by default,
    # so whoever talks to Moxie cannot ask it to end the takeover.
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(
        self, entry: MoxieConfigEntry, subentry: ConfigSubentry, takeover: Takeover
    ) -> None:
        """Follow the takeover of one agent."""
        super().__init__(
            entry,
            subentry,
            SWITCH_DOMAIN,
            key_suffix="_takeover",
            id_suffix="_puppet_takeover",
        )
        self.takeover = takeover

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the takeover's changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.takeover.async_add_listener(self.async_write_ha_state))

    # Not @override: Home Assistant 2026.10 has no such hook (it re-adds the entity instead).
    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Take a new entity id in place (Home Assistant 2026.11): nothing is keyed on it."""
        base_entity_id_changed(super(), old_entity_id)

    @property
    @override
    def is_on(self) -> bool:
        """Whether the agent is paused."""
        return self.takeover.active

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """When the pause ends by itself."""
        until = self.takeover.until
        return {"ends_at": until.isoformat() if until else None}

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Pause the agent for the configured time (as if the Puppet spoke)."""
        self.takeover.async_start()

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """End the pause now."""
        self.takeover.async_end()
