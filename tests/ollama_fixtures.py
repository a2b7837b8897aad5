"""Pytest fixtures for Moxie's brain: the loopback Ollama and a Moxie entry connected to it.

Import them into a conftest with `from tests.ollama_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.broker import Mosquitto
from peers.entries import AGENT_OPTIONS, brain_entry
from peers.ollama_server import OllamaServer

__all__ = [
    "agent_options",
    "extra_subentries",
    "moxie_brain",
    "ollama_server",
]


@pytest.fixture
async def ollama_server(socket_enabled: None) -> AsyncIterator[OllamaServer]:
    """The loopback Ollama with `qwen3:4b` installed, stopped after the test."""
    server = OllamaServer(models=["qwen3:4b"])
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def agent_options() -> dict[str, Any]:
    """The options of the agent subentry of `moxie_brain` (override to change them)."""
    return dict(AGENT_OPTIONS)


@pytest.fixture
def extra_subentries() -> list[ConfigSubentryData]:
    """More subentries for `moxie_brain` (override to add AI tasks or agents)."""
    return []


@pytest.fixture
async def moxie_brain(
    hass: HomeAssistant,
    ollama_server: OllamaServer,
    agent_options: dict[str, Any],
    extra_subentries: list[ConfigSubentryData],
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    mosquitto: Mosquitto,
) -> MockConfigEntry:
    """A loaded Spanish Moxie whose brain is the loopback Ollama, with one agent `Cerebro de Moxie`.

    The agent is `conversation.moxie`, its takeover switch `switch.moxie_puppet_takeover`.
    """
    assert await async_setup_component(hass, "homeassistant", {})
    entry = brain_entry(ollama_server.url, agent_options, extra_subentries)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await mosquitto.wait_subscribed("moxie/tts/text")
    await mosquitto.wait_subscribed("moxie/puppet/set")
    return entry
