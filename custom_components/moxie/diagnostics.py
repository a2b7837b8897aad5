"""Diagnostics for Moxie: configuration, MQTT topics and the mirror's counters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .brain import brain_diagnostics
from .models import MoxieConfigEntry

TO_REDACT = {"api_key", "password", "username"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MoxieConfigEntry
) -> dict[str, Any]:
    """Return what helps to understand a Moxie entry, without secrets."""
    data = entry.runtime_data
    mirror = data.mirror
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "mqtt_connected": mqtt.is_connected(hass),
        "topics": {
            name: getattr(mirror.topics, name)
            for name in ("tts_text", "tts_stop", "puppet_set", "speech", "status", "discovery")
        }
        | asdict(mirror.topics),
        "mirror": {
            "status": mirror.status,
            "published_utterances": mirror.published,
            "heard_utterances": mirror.heard,
            "rejected": dict(mirror.rejected),
            "rejected_total": sum(mirror.rejected.values()),
            "recent_utterances": list(mirror.recent),
        },
        "discovery": {"published": data.discovery.published, "payload": data.discovery.payload},
        "brain": brain_diagnostics(entry),
    }
