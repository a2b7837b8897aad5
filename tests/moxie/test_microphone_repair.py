"""A Moxie without a microphone raises a fixable repair issue that asks for one.

The satellite alone only says "unavailable"; the issue (Settings > Repairs) says what to plug in
and its fix flow, through Home Assistant's repairs HTTP API as the frontend drives it, saves the
microphone in the entry's options: the issue goes and the satellite connects to a real Wyoming
test microphone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.moxie.const import DOMAIN
from peers.mic import WyomingMic
from peers.process import free_port
from tests.moxie.conftest import wait_state

SATELLITE = "assist_satellite.moxie"


@pytest.fixture
async def mic(socket_enabled: None) -> AsyncIterator[WyomingMic]:
    """A Wyoming microphone next to Moxie (wyoming-mic-external's format)."""
    server = WyomingMic(free_port())
    await server.start()
    yield server
    await server.stop()


def issue_id(entry: MockConfigEntry) -> str:
    return f"no_microphone_{entry.entry_id}"


async def test_fix_flow_gives_moxie_ears(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_entry: MockConfigEntry,
    mic: WyomingMic,
) -> None:
    """No microphone: a fixable issue; its fix flow saves the mic; the satellite connects."""
    assert await async_setup_component(hass, "repairs", {})
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id(moxie_entry))
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "no_microphone"
    assert issue.translation_placeholders == {"name": "Moxie"}
    assert hass.states.get(SATELLITE).state == STATE_UNAVAILABLE
    client = await hass_client()

    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id(moxie_entry)}
    )
    flow = await response.json()
    assert flow["type"] == "form"
    assert flow["step_id"] == "microphone"
    assert flow["description_placeholders"] == {"name": "Moxie"}
    assert [field["name"] for field in flow["data_schema"]] == ["mic_host", "mic_port", "barge_in"]

    # A URL is not a host; an empty host gives Moxie no ears: the form asks again.
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}",
        json={"mic_host": "tcp://x:1", "mic_port": mic.port},
    )
    flow = await response.json()
    assert flow["errors"] == {"mic_host": "invalid_host"}
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={"mic_host": " ", "mic_port": 10600}
    )
    flow = await response.json()
    assert flow["errors"] == {"mic_host": "host_required"}

    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}",
        json={"mic_host": mic.host, "mic_port": mic.port},
    )
    flow = await response.json()
    assert flow["type"] == "create_entry"
    assert moxie_entry.options == {"mic_host": mic.host, "mic_port": mic.port, "barge_in": False}
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(moxie_entry)) is None
    await wait_state(hass, SATELLITE, lambda s: s.state != STATE_UNAVAILABLE)
    assert mic.clients >= 1

    # At the next start the microphone is there: no issue.
    assert await hass.config_entries.async_reload(moxie_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(moxie_entry)) is None
    await hass.config_entries.async_unload(moxie_entry.entry_id)


async def test_issue_follows_the_options(hass: HomeAssistant, moxie_entry: MockConfigEntry) -> None:
    """A mic set elsewhere (Configure > Microphone, the add-on) closes it; emptied, it is back."""
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, issue_id(moxie_entry)) is not None
    hass.config_entries.async_update_entry(
        moxie_entry, options={"mic_host": "moxie-speaker", "mic_port": 10600}
    )
    assert registry.async_get_issue(DOMAIN, issue_id(moxie_entry)) is None
    hass.config_entries.async_update_entry(moxie_entry, options={"mic_host": ""})
    assert registry.async_get_issue(DOMAIN, issue_id(moxie_entry)) is not None

    # Removed, Moxie leaves no issue behind.
    assert await hass.config_entries.async_remove(moxie_entry.entry_id)
    await hass.async_block_till_done()
    assert moxie_entry.state is ConfigEntryState.NOT_LOADED
    assert registry.async_get_issue(DOMAIN, issue_id(moxie_entry)) is None


async def test_moxie_with_a_microphone_has_no_issue(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """Set up with a microphone in its options, Moxie raises nothing."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Moxie",
        data={"name": "Moxie", "base_topic": "moxie", "language": "es"},
        options={"mic_host": "127.0.0.1", "mic_port": free_port()},
        unique_id="moxie",
        version=1,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry)) is None
    await hass.config_entries.async_unload(entry.entry_id)
