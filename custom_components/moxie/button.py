"""The Listen button of Moxie's satellite: Moxie listens for a question, no wake word needed."""

from __future__ import annotations

from typing import override

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .models import MoxieConfigEntry
from .satellite_entity import MoxieSatelliteEntity

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Listen button."""
    async_add_entities([MoxieListenButton(entry)])


class MoxieListenButton(MoxieSatelliteEntity, ButtonEntity):
    """Press to make Moxie listen now."""

    _attr_translation_key = "listen"

    def __init__(self, entry: MoxieConfigEntry) -> None:
        """Initialize on the satellite's device."""
        super().__init__(entry, "button", "listen")

    @override
    async def async_press(self) -> None:
        """Start listening (raises why it cannot: no microphone set, or not connected)."""
        self.entry.runtime_data.satellite_device.async_listen()
