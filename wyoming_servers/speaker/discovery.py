"""MQTT device discovery for the speaker's entities on the shared Moxie device."""

from __future__ import annotations

import json
from typing import Any

from wyoming_servers.speech_core import Topics

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
            "state_topic": topics.tts_status,
            "value_template": "{{ 'ON' if value_json.status == 'speaking' else 'OFF' }}",
            "json_attributes_topic": topics.tts_status,
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
            "state_topic": topics.tts_status,
            "value_template": "{{ value_json.queue_size }}",
        },
        "stop": {
            "p": "button",
            "unique_id": f"{prefix}stop",
            "default_entity_id": f"button.{entity_prefix}stop",
            "name": names["stop"],
            "icon": "mdi:stop",
            "command_topic": topics.tts_stop,
            "payload_press": json.dumps({"reason": "button"}),
        },
        "volume": {
            "p": "number",
            "unique_id": f"{prefix}volume",
            "default_entity_id": f"number.{entity_prefix}volume",
            "name": names["volume"],
            "icon": "mdi:volume-high",
            "entity_category": "config",
            "command_topic": topics.speaker_volume_set,
            "state_topic": topics.speaker_volume,
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
        "availability_topic": topics.speaker_availability,
        "qos": 1,
        "cmps": components,
    }
    return json.dumps(payload).encode()
