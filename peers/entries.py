"""Moxie's config entries as tests and benchmarks add them to a Home Assistant under test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_LLM_HASS_API, CONF_MODEL, CONF_PROMPT
from pytest_homeassistant_custom_component.common import MockConfigEntry

AGENT_OPTIONS: dict[str, Any] = {
    CONF_MODEL: "qwen3:4b",
    CONF_PROMPT: "Eres Moxie.",
    CONF_LLM_HASS_API: ["assist"],
    "max_history": 20,
    "keep_alive": -1,
    "num_ctx": 8192,
    "think": False,
    "takeover_minutes": 10,
}


def brain_entry(
    url: str, agent_options: dict[str, Any], extra: Sequence[ConfigSubentryData] = ()
) -> MockConfigEntry:
    """A Moxie entry (base topic `moxie`, Spanish) whose brain is the Ollama at url."""
    return MockConfigEntry(
        domain="moxie",
        title="Moxie",
        data={"name": "Moxie", "base_topic": "moxie", "language": "es", "url": url},
        unique_id="moxie",
        version=1,
        subentries_data=[
            ConfigSubentryData(
                data=agent_options,
                subentry_type="conversation",
                title="Cerebro de Moxie",
                unique_id=None,
            ),
            *extra,
        ],
    )


def moxie_entry(
    url: str,
    language: str,
    agent: dict[str, Any],
    pipeline: Mapping[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A Moxie entry (base topic `moxie`) whose agent `Moxie` (options: agent) talks to url."""
    data: dict[str, Any] = {
        "name": "Moxie",
        "base_topic": "moxie",
        "language": language,
        "url": url,
    }
    if pipeline is not None:
        data["pipeline"] = pipeline
    return MockConfigEntry(
        domain="moxie",
        title="Moxie",
        data=data,
        options=options,
        unique_id="moxie",
        version=1,
        subentries_data=[
            ConfigSubentryData(
                data=agent, subentry_type="conversation", title="Moxie", unique_id=None
            )
        ],
    )
