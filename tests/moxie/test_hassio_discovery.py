"""The Moxie speaker add-on's microphone, found by Supervisor discovery (service `moxie`).

The add-on's run script POSTs `{"service": "moxie", "config": {"mic_host", "mic_port"}}` to the
Supervisor, which starts Moxie's config flow with source `hassio`. Here HA's flow manager gets
the same HassioServiceInfo; the user confirms; the Moxie entry's options hold the microphone and
Moxie's satellite connects to a real Wyoming microphone at that address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_IGNORE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.moxie.const import DOMAIN
from peers.mic import WyomingMic
from peers.process import free_port

USER_INPUT = {"name": "Moxie", "base_topic": "moxie", "language": "es"}
SLUG = "a0d7b954_moxie_speaker"


@pytest.fixture(autouse=True)
def _custom(enable_custom_integrations: None) -> None:
    """Load the integration from this repository."""


@pytest.fixture
async def mic(socket_enabled: None) -> AsyncIterator[WyomingMic]:
    """The Wyoming microphone the add-on serves (wyoming-mic-external's format)."""
    server = WyomingMic(free_port())
    await server.start()
    yield server
    await server.stop()


def discovery(host: str, port: int, *, echo_cancel: bool = True) -> HassioServiceInfo:
    """What the Supervisor hands Home Assistant for the add-on's announcement."""
    return HassioServiceInfo(
        config={"mic_host": host, "mic_port": port, "echo_cancel": echo_cancel},
        name="Moxie speaker",
        slug=SLUG,
        uuid="5c2b5e4a7d3f4b0e9f0e1d2c3b4a5968",
    )


async def discover(hass: HomeAssistant, info: HassioServiceInfo) -> Any:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )


async def test_existing_moxie_takes_the_addon_mic(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mic: WyomingMic
) -> None:
    """Confirmed, the Moxie entry's options get the mic; the satellite connects to it."""
    assert mic.clients == 0
    result = await discover(hass, discovery(mic.host, mic.port))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hassio_confirm"
    assert result["description_placeholders"] == {
        "addon": "Moxie speaker",
        "host": mic.host,
        "port": str(mic.port),
    }
    assert not result["data_schema"].schema  # one Moxie: nothing to choose
    # The discovered card names the add-on.
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["title_placeholders"] == {"name": "Moxie speaker"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mic_updated"
    assert result["description_placeholders"] == {"name": "Moxie"}
    # The add-on cancels Moxie's voice in its microphone: talking over Moxie may interrupt it.
    assert moxie_entry.options == {"mic_host": mic.host, "mic_port": mic.port, "barge_in": True}
    async with asyncio.timeout(10):
        while mic.clients < 1:
            await asyncio.sleep(0.05)

    # The add-on announces again at its next start: nothing to ask.
    result = await discover(hass, discovery(mic.host, mic.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await hass.config_entries.async_unload(moxie_entry.entry_id)


async def test_other_options_are_kept(hass: HomeAssistant, moxie_entry: MockConfigEntry) -> None:
    """A mic set by hand is replaced; other options stay."""
    hass.config_entries.async_update_entry(
        moxie_entry, options={"mic_host": "127.0.0.1", "mic_port": 9, "other": 1}
    )
    result = await discover(hass, discovery("a0d7b954-moxie-speaker", 10601))
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "mic_updated"
    assert moxie_entry.options == {
        "mic_host": "a0d7b954-moxie-speaker",
        "mic_port": 10601,
        "barge_in": True,
        "other": 1,
    }
    await hass.config_entries.async_unload(moxie_entry.entry_id)


async def test_two_moxies_choose_which(hass: HomeAssistant, moxie_entry: MockConfigEntry) -> None:
    """With two Moxies the confirm step asks which one listens; only that one changes."""
    kitchen = MockConfigEntry(domain=DOMAIN, title="Kitchen Moxie", unique_id="kitchen")
    kitchen.add_to_hass(hass)
    result = await discover(hass, discovery("a0d7b954-moxie-speaker", 10600, echo_cancel=False))
    assert result["step_id"] == "hassio_confirm"
    assert [str(key) for key in result["data_schema"].schema] == ["entry"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"entry": kitchen.entry_id}
    )
    assert result["reason"] == "mic_updated"
    assert result["description_placeholders"] == {"name": "Kitchen Moxie"}
    # Without echo cancellation Moxie would hear itself: barge-in stays off.
    assert kitchen.options == {
        "mic_host": "a0d7b954-moxie-speaker",
        "mic_port": 10600,
        "barge_in": False,
    }
    assert "mic_host" not in moxie_entry.options
    await hass.config_entries.async_unload(moxie_entry.entry_id)


async def test_no_moxie_yet_starts_setup_with_the_mic(
    hass: HomeAssistant, mqtt_ready: MockConfigEntry
) -> None:
    """Without a Moxie, confirming starts the normal setup; the entry starts with the mic."""
    result = await discover(hass, discovery("a0d7b954-moxie-speaker", 10600))
    assert result["step_id"] == "hassio_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
    assert result["step_id"] == "brain"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == USER_INPUT
    assert entry.unique_id == "moxie"
    assert entry.options == {
        "mic_host": "a0d7b954-moxie-speaker",
        "mic_port": 10600,
        "barge_in": True,
    }
    await hass.async_block_till_done()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_ignored_addon_is_not_offered_again(
    hass: HomeAssistant, mqtt_ready: MockConfigEntry
) -> None:
    """Ignoring the discovered card silences the add-on's later announcements."""
    result = await discover(hass, discovery("a0d7b954-moxie-speaker", 10600))
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_IGNORE},
        data={"unique_id": f"hassio_{SLUG}", "title": "Moxie speaker"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await discover(hass, discovery("a0d7b954-moxie-speaker", 10600))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize("host", ["", "tcp://x:1", "two words"])
async def test_invalid_announcement_aborts(
    hass: HomeAssistant, mqtt_ready: MockConfigEntry, host: str
) -> None:
    result = await discover(hass, discovery(host, 10600))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery_info"
