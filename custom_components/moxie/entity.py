"""Base entity for Moxie's own (non-MQTT) entities: one device per agent or AI task subentry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_MODEL
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.util import slugify

from .const import DOMAIN
from .models import MoxieConfigEntry


@callback
def base_entity_id_changed(base: object, old_entity_id: str) -> None:
    """Let the base classes follow an entity id changed in place.

    Since Home Assistant 2026.11 a custom integration's entity opts in to changing its entity
    id in place by defining `async_entity_id_changed` on the class that defines
    `async_added_to_hass` (or a subclass); otherwise Home Assistant removes and re-adds it
    (until 2027.11). Home Assistant 2026.10 has no such hook and never calls it.
    """
    if (changed := getattr(base, "async_entity_id_changed", None)) is not None:
        changed(old_entity_id)


def object_id(entry: MoxieConfigEntry, subentry: ConfigSubentry) -> str:
    """Return the English, language-independent object id of a subentry's entities.

    The entry's first subentry of a type is the Moxie itself (`conversation.moxie`,
    `switch.moxie_puppet_takeover`); the others add their own title (`conversation.moxie_profe`).
    """
    moxie = slugify(entry.title)
    first = next(s for s in entry.subentries.values() if s.subentry_type == subentry.subentry_type)
    if subentry.subentry_id == first.subentry_id:
        return moxie
    own = slugify(subentry.title)
    return own if own.startswith(f"{moxie}_") else f"{moxie}_{own}"


class MoxieEntity(Entity):
    """An entity of one of Moxie's subentries, on that subentry's device.

    The MQTT-discovered Moxie device belongs to the MQTT config entry, and a device belongs to one
    config entry and one subentry, so each agent (and AI task) is a service device named after its
    subentry; Home Assistant removes it, and its entities, with the subentry.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        entry: MoxieConfigEntry,
        subentry: ConfigSubentry,
        domain: str,
        *,
        key_suffix: str = "",
        id_suffix: str = "",
    ) -> None:
        """Set the unique id, the suggested entity id and the subentry's device."""
        self.entry = entry
        self.subentry = subentry
        self._attr_unique_id = f"{entry.entry_id}_{subentry.subentry_id}{key_suffix}"
        self.entity_id = f"{domain}.{object_id(entry, subentry)}{id_suffix}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer="OpenMoxie community",
            model=f"Ollama {subentry.data.get(CONF_MODEL, '')}".strip(),
            entry_type=DeviceEntryType.SERVICE,
        )
