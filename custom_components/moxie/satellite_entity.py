"""The device of Moxie's voice satellite and the base of its entities.

A Home Assistant device belongs to one config entry: the MQTT-discovered Moxie device is the
MQTT entry's, so the satellite and its settings (pipeline, finished-speaking detection, Listen)
live on a service device of the Moxie entry itself (identifiers `(moxie, <entry id>)`), which
Home Assistant removes with the entry. It is named "Asistente de voz Moxie" / "Moxie voice
assistant" (translated), so it is never a second device called plain "Moxie".
"""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.util import slugify

from .const import DOMAIN
from .models import MoxieConfigEntry


def satellite_unique_id(entry: MoxieConfigEntry) -> str:
    """Return the prefix of the satellite's unique ids (`<prefix>-pipeline` for the select)."""
    return f"{entry.entry_id}-satellite"


def satellite_device_info(entry: MoxieConfigEntry) -> DeviceInfo:
    """Return the satellite's device: a service device of the Moxie entry."""
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        translation_key="satellite",
        translation_placeholders={"name": entry.title},
        manufacturer="OpenMoxie community",
        model="Moxie voice satellite",
        entry_type=DeviceEntryType.SERVICE,
    )


class MoxieSatelliteEntity(Entity):
    """An entity on the satellite's device, with a stable English entity id."""

    _attr_has_entity_name = True

    def __init__(self, entry: MoxieConfigEntry, domain: str, key: str | None) -> None:
        """Set the unique id (`<entry>-satellite[-key]`), entity id and device."""
        self.entry = entry
        prefix = satellite_unique_id(entry)
        moxie = slugify(entry.title)
        self._attr_unique_id = prefix if key is None else f"{prefix}-{key}"
        self.entity_id = f"{domain}.{moxie}" if key is None else f"{domain}.{moxie}_{key}"
        self._attr_device_info = satellite_device_info(entry)
