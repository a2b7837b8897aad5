"""Base entity for Moxie's own (non-MQTT) entities."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .models import MoxieConfigEntry


class MoxieEntity(Entity):
    """An entity of the Moxie entry's own device.

    The MQTT-discovered Moxie device belongs to the MQTT config entry, and device identifiers are
    unique per config entry since HA 2025, so Moxie's own entities (the conversation agent, the
    takeover switch) live on a service device of this entry, named like Moxie.
    """

    _attr_has_entity_name = True

    def __init__(self, entry: MoxieConfigEntry, key: str) -> None:
        """Set the unique id from the entry and the entity's key."""
        self.entry = entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="OpenMoxie community",
            model="Moxie assistant",
            entry_type=DeviceEntryType.SERVICE,
        )
