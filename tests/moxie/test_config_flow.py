"""Every branch of Moxie's config flow, with HA's real MQTT integration on a real broker."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.moxie.const import DOMAIN
from peers.mqtt import MqttProbe
from peers.ollama_server import OllamaServer

USER_INPUT = {"name": "Moxie", "base_topic": "moxie", "language": "es"}


async def skip_brain(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigFlowResult:
    """Leave the Ollama URL empty in the brain step (see test_agent_flow.py for the brain)."""
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "brain"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"url": ""})


@pytest.fixture(autouse=True)
def _custom(enable_custom_integrations: None) -> None:
    """Load the integration from this repository."""


async def test_user_flow_creates_entry_and_device(
    hass: HomeAssistant, mqtt_ready: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    schema_defaults = {str(key): key.default() for key in result["data_schema"].schema}
    assert schema_defaults == USER_INPUT

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**USER_INPUT, "base_topic": " moxie/ "}
    )
    result = await skip_brain(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Moxie"
    assert result["data"] == USER_INPUT
    entry = result["result"]
    assert entry.unique_id == "moxie"
    await hass.async_block_till_done()
    discovery = await mqtt_probe.wait_for("homeassistant/device/moxie_moxie/config")
    assert set(discovery[-1].json()["cmps"]) == {"puppet", "speech", "status"}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_abort_without_mqtt(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_abort_when_mqtt_disabled(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": 1},
        disabled_by=config_entries.ConfigEntryDisabler.USER,
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_connected"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"base_topic": "moxie/#"}, {"base_topic": "invalid_topic"}),
        ({"base_topic": "moxie/+/x"}, {"base_topic": "invalid_topic"}),
        ({"base_topic": "  /  "}, {"base_topic": "invalid_topic"}),
        ({"name": "   "}, {"name": "invalid_name"}),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    mqtt_ready: MockConfigEntry,
    changes: dict[str, str],
    errors: dict[str, str],
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**USER_INPUT, **changes}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**USER_INPUT, "base_topic": "casa/moxie"}
    )
    result = await skip_brain(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["base_topic"] == "casa/moxie"
    await hass.config_entries.async_unload(result["result"].entry_id)


async def test_one_entry_per_base_topic(hass: HomeAssistant, moxie_entry: MockConfigEntry) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_moves_moxie_to_new_topic(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, mqtt_probe: MqttProbe
) -> None:
    result = await moxie_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Moxito", "base_topic": "salon/moxie", "language": "en"}
    )
    assert result["step_id"] == "reconfigure_brain"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": ""})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert moxie_entry.unique_id == "salon/moxie"
    assert moxie_entry.title == "Moxito"
    assert moxie_entry.data == {"name": "Moxito", "base_topic": "salon/moxie", "language": "en"}
    # The reloaded entry mirrors on the new topic.
    await mqtt_probe.subscribe("salon/#")
    await hass.services.async_call("moxie", "say", {"text": "Hello"}, blocking=True)
    said = await mqtt_probe.wait_for("salon/moxie/tts/text")
    assert said[0].json()["language"] == "en"


async def test_reconfigure_sets_moxie_up_once(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    ollama_server: OllamaServer,
) -> None:
    """Reconfiguring (topic, and a brain that brings its first agent) reloads Moxie once."""
    await mqtt_probe.subscribe("casa/#")
    result = await moxie_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Moxie", "base_topic": "casa/moxie", "language": "es"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert hass.states.get("conversation.moxie") is not None
    await hass.services.async_call("moxie", "say", {"text": "Hola"}, blocking=True)
    await mqtt_probe.wait_for("casa/moxie/tts/text")
    # Every setup marks Moxie online on the new topic, every unload offline: one setup, once.
    assert [m.text for m in mqtt_probe.messages["casa/moxie/availability"]] == ["online"]


async def test_reconfigure_errors_and_duplicate(
    hass: HomeAssistant, moxie_entry: MockConfigEntry
) -> None:
    other = MockConfigEntry(
        domain=DOMAIN, unique_id="otro", data={**USER_INPUT, "base_topic": "otro"}
    )
    other.add_to_hass(hass)
    result = await moxie_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**USER_INPUT, "base_topic": "a/#"}
    )
    assert result["errors"] == {"base_topic": "invalid_topic"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**USER_INPUT, "base_topic": "otro"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert moxie_entry.data["base_topic"] == "moxie"
