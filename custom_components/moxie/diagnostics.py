"""Diagnostics for Moxie: configuration, MQTT topics, the mirror's counters and the brain.

What people said (persona prompts, utterances, Puppet lines) is redacted: a bug report must not
carry a child's words. Of Moxie's memory only counts are given, never a memory nor whose it is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PROMPT
from homeassistant.core import HomeAssistant

from .models import MoxieConfigEntry

TO_REDACT = {CONF_API_KEY, "password", "username", CONF_PROMPT}
# Fields of a recent utterance that may hold what someone said.
UTTERANCE_TEXT = {"text"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MoxieConfigEntry
) -> dict[str, Any]:
    """Return what helps to understand a Moxie entry, without secrets nor anyone's words."""
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
            "published_utterances": mirror.published,
            "heard_utterances": mirror.heard,
            "rejected": dict(mirror.rejected),
            "rejected_total": sum(mirror.rejected.values()),
            "recent_utterances": [
                async_redact_data(utterance, UTTERANCE_TEXT) for utterance in mirror.recent
            ],
        },
        "discovery": {"published": data.discovery.published, "payload": data.discovery.payload},
        "assistant": {
            "status": data.status.state,
            "speaker_seen": data.status.speaker_seen,
            "pipeline_id": data.pipeline.pipeline_id if data.pipeline else None,
        },
        "brain": _brain_diagnostics(entry),
        "robot": _robot_diagnostics(entry),
        "memory": _memory_diagnostics(entry),
    }


def _memory_diagnostics(entry: MoxieConfigEntry) -> dict[str, Any]:
    """How much Moxie remembers, by kind of scope (no text, no person)."""
    store = entry.runtime_data.memory
    if store is None:
        return {"enabled": False}
    kinds = Counter(memory.scope.partition(":")[0] for memory in store.memories.values())
    return {
        "enabled": store.enabled,
        "retention_days": store.retention_days,
        "memories": sum(kinds.values()),
        "by_kind": dict(kinds),
        "dated": sum(1 for memory in store.memories.values() if memory.expires),
    }


def _robot_diagnostics(entry: MoxieConfigEntry) -> dict[str, Any] | None:
    """Describe the link to the robot Moxie serves (None without Robot Moxie)."""
    link = entry.runtime_data.robot
    if link is None:
        return None
    return {
        "connected": link.connected,
        "connect_failures": link.connect_failures,
        "tls": link.settings.tls,
        "handled": dict(link.handled),
        "rejected": dict(link.rejected),
        "rejected_total": sum(link.rejected.values()),
    }


def _brain_diagnostics(entry: MoxieConfigEntry) -> dict[str, Any]:
    """Describe the brain and its agents (no API key, no persona prompt)."""
    data = entry.runtime_data
    brain = data.brain
    subentries = []
    for subentry in entry.subentries.values():
        takeover = data.takeovers.get(subentry.subentry_id)
        subentries.append(
            {
                "type": subentry.subentry_type,
                "title": subentry.title,
                "options": async_redact_data(dict(subentry.data), TO_REDACT),
                "takeover_active": bool(takeover and takeover.active),
                "takeover_until": takeover.until.isoformat()
                if takeover and takeover.until
                else None,
            }
        )
    return {
        "configured": brain is not None,
        "url": brain.url if brain else None,
        "api_key_set": bool(entry.data.get(CONF_API_KEY)),
        "problem": brain.problem if brain else None,
        "installed_models": brain.models if brain else [],
        "missing_models": sorted(brain.missing_models) if brain else [],
        "agents": subentries,
    }


__all__ = ["REDACTED", "async_get_config_entry_diagnostics"]
