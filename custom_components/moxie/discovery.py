"""MQTT device discovery for the Moxie device: Puppet text, Speech event, Status sensor."""

from __future__ import annotations

import json
import logging
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .speech_core import ASSISTANT_STATES, HA_STATUS_TOPIC, Topics

_LOGGER = logging.getLogger(__name__)

VERSION = "0.1.0"
ORIGIN_URL = "https://github.com/openmoxie-community/moxie-home-assistant"

# Entity names in the language chosen for Moxie (entity ids stay English and stable).
NAMES: dict[str, dict[str, str]] = {
    "es": {"puppet": "Marioneta", "speech": "Habla", "status": "Estado"},
    "en": {"puppet": "Puppet", "speech": "Speech", "status": "Status"},
}


def discovery_payload(topics: Topics, name: str, language: str) -> dict[str, Any]:
    """Return the device discovery message of the integration's side of the Moxie device."""
    names = NAMES.get(language, NAMES["en"])
    dev_id = topics.device_id
    slug = dev_id.removeprefix("moxie_")
    return {
        "dev": {
            "ids": [dev_id],
            "name": name,
            "mf": "OpenMoxie community",
            "mdl": "Moxie",
            "sw": VERSION,
        },
        "o": {"name": "Moxie for Home Assistant", "sw": VERSION, "url": ORIGIN_URL},
        "avty_t": topics.availability,
        "qos": 1,
        "cmps": {
            "puppet": {
                "p": "text",
                "unique_id": f"{dev_id}_puppet",
                "def_ent_id": f"text.{slug}_puppet",
                "name": names["puppet"],
                "icon": "mdi:account-voice",
                "cmd_t": topics.puppet_set,
                "stat_t": topics.puppet_state,
                # JSON, since an empty retained payload would delete the retained message.
                "val_tpl": "{{ value_json.text }}",
                "max": 255,
                "mode": "text",
            },
            "speech": {
                "p": "event",
                "unique_id": f"{dev_id}_speech",
                "def_ent_id": f"event.{slug}_speech",
                "name": names["speech"],
                "icon": "mdi:comment-quote",
                "stat_t": topics.speech,
                "evt_typ": ["speech"],
            },
            "status": {
                "p": "sensor",
                "unique_id": f"{dev_id}_status",
                "def_ent_id": f"sensor.{slug}_status",
                "name": names["status"],
                "icon": "mdi:robot-happy",
                "stat_t": topics.status,
                "dev_cla": "enum",
                "ops": list(ASSISTANT_STATES),
            },
        },
    }


def puppet_state(text: str) -> str:
    """Return the payload of `<base>/puppet/state` showing text (up to 255 characters)."""
    return json.dumps({"text": text[:255]}, ensure_ascii=False)


class MoxieDiscovery:
    """Publishes (and removes) the Moxie device, and keeps it there across HA restarts."""

    def __init__(self, hass: HomeAssistant, topics: Topics, name: str, language: str) -> None:
        """Prepare the discovery message."""
        self.hass = hass
        self.topics = topics
        self.payload = discovery_payload(topics, name, language)
        self.published = 0
        self._unsubscribe: CALLBACK_TYPE | None = None

    async def async_start(self) -> None:
        """Publish discovery and availability; re-publish when HA's MQTT birth says online."""
        self._unsubscribe = await mqtt.async_subscribe(
            self.hass, HA_STATUS_TOPIC, self._async_ha_status, qos=1
        )
        await self.async_publish()

    async def async_publish(self) -> None:
        """Publish the device discovery message (retained) and mark Moxie online."""
        await mqtt.async_publish(
            self.hass, self.topics.discovery, json.dumps(self.payload), qos=1, retain=True
        )
        # The Puppet box starts empty (not "unknown"), ready for a line.
        await mqtt.async_publish(
            self.hass, self.topics.puppet_state, puppet_state(""), qos=1, retain=True
        )
        await mqtt.async_publish(self.hass, self.topics.availability, "online", qos=1, retain=True)
        self.published += 1

    async def _async_ha_status(self, msg: mqtt.ReceiveMessage) -> None:
        if msg.payload == "online":
            _LOGGER.debug("Home Assistant's MQTT birth seen: re-publishing Moxie discovery")
            await self.async_publish()

    @callback
    def async_stop(self) -> None:
        """Stop following HA's status topic."""
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    async def async_offline(self) -> None:
        """Mark Moxie offline (entry unloaded)."""
        await mqtt.async_publish(self.hass, self.topics.availability, "offline", qos=1, retain=True)

    async def async_remove(self) -> None:
        """Remove the device and clear every retained topic of this Moxie (entry removed)."""
        for topic in (
            self.topics.discovery,
            self.topics.availability,
            self.topics.status,
            self.topics.puppet_state,
        ):
            await mqtt.async_publish(self.hass, topic, "", qos=1, retain=True)
