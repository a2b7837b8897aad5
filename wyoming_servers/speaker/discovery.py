"""MQTT device discovery for the speaker's entities on the shared Moxie device."""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import Any

from .contract import DEFAULT_DISCOVERY_PREFIX, device_id

ORIGIN_NAME = "moxie-speaker"
VERSION = "0.1.0"

DEFAULT_LANGUAGE = "es"
# Entity names in the user's language (entity ids stay English and stable).
NAMES: dict[str, dict[str, str]] = {
    "es": {
        "speaking": "Hablando",
        "queue_size": "Cola de habla",
        "stop": "Dejar de hablar",
        "volume": "Volumen del altavoz",
    },
    "en": {
        "speaking": "Speaking",
        "queue_size": "Speech queue",
        "stop": "Stop speaking",
        "volume": "Speaker volume",
    },
}
LANGUAGES = tuple(NAMES)


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic the speaker reads or writes, derived from the base topic."""

    base: str
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX

    @property
    def text(self) -> str:
        """Speech mirror (input)."""
        return f"{self.base}/tts/text"

    @property
    def status(self) -> str:
        """Retained speaker status (output)."""
        return f"{self.base}/tts/status"

    @property
    def stop(self) -> str:
        """Interrupt (input)."""
        return f"{self.base}/tts/stop"

    @property
    def availability(self) -> str:
        """online/offline with last will (output)."""
        return f"{self.base}/speaker/availability"

    @property
    def volume(self) -> str:
        """Retained volume state (output)."""
        return f"{self.base}/speaker/volume"

    @property
    def volume_set(self) -> str:
        """Volume command (input)."""
        return f"{self.base}/speaker/volume/set"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic (input)."""
        return f"{self.discovery_prefix}/status"

    @property
    def device_id(self) -> str:
        """Id of the Moxie device shared with the integration."""
        return device_id(self.base)

    @property
    def discovery(self) -> str:
        """Device discovery topic for the speaker's components."""
        return f"{self.discovery_prefix}/device/{self.device_id}_speaker/config"


def discovery_payload(topics: Topics, language: str = DEFAULT_LANGUAGE) -> bytes:
    """Device discovery config: speaking, queue size, stop button and volume."""
    names = NAMES[language]
    dev_id = topics.device_id
    prefix = f"{dev_id}_speaker_"
    # Entity ids like the integration's (text.moxie_puppet): binary_sensor.moxie_speaker_speaking.
    entity_prefix = f"{dev_id.removeprefix('moxie_')}_speaker_"
    components: dict[str, dict[str, Any]] = {
        "speaking": {
            "p": "binary_sensor",
            "unique_id": f"{prefix}speaking",
            "default_entity_id": f"binary_sensor.{entity_prefix}speaking",
            "name": names["speaking"],
            "device_class": "sound",
            "state_topic": topics.status,
            "value_template": "{{ 'ON' if value_json.status == 'speaking' else 'OFF' }}",
            "json_attributes_topic": topics.status,
            "json_attributes_template": (
                "{{ {'current_text': value_json.current_text,"
                " 'speaker_status': value_json.status} | tojson }}"
            ),
        },
        "queue_size": {
            "p": "sensor",
            "unique_id": f"{prefix}queue_size",
            "default_entity_id": f"sensor.{entity_prefix}queue_size",
            "name": names["queue_size"],
            "icon": "mdi:playlist-play",
            "state_class": "measurement",
            "state_topic": topics.status,
            "value_template": "{{ value_json.queue_size }}",
        },
        "stop": {
            "p": "button",
            "unique_id": f"{prefix}stop",
            "default_entity_id": f"button.{entity_prefix}stop",
            "name": names["stop"],
            "icon": "mdi:stop",
            "command_topic": topics.stop,
            "payload_press": json.dumps({"reason": "button"}),
        },
        "volume": {
            "p": "number",
            "unique_id": f"{prefix}volume",
            "default_entity_id": f"number.{entity_prefix}volume",
            "name": names["volume"],
            "icon": "mdi:volume-high",
            "entity_category": "config",
            "command_topic": topics.volume_set,
            "state_topic": topics.volume,
            "min": 0,
            "max": 100,
            "step": 1,
            "unit_of_measurement": "%",
            "mode": "slider",
        },
    }
    payload = {
        "dev": {"ids": [dev_id], "name": "Moxie"},
        "o": {"name": ORIGIN_NAME, "sw": VERSION},
        "availability_topic": topics.availability,
        "qos": 1,
        "cmps": components,
    }
    return json.dumps(payload).encode()
