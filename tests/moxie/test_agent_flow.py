"""The brain's flows: the Ollama connection step and the agent subentry (with model pull)."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import EVENT_DATA_ENTRY_FLOW_PROGRESS_UPDATE, FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.moxie import brain
from custom_components.moxie.persona import persona_prompt
from peers.ollama_server import OllamaServer

USER_INPUT = {"name": "Moxie", "base_topic": "moxie", "language": "es"}


async def start_brain_step(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        "moxie", context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "brain"
    return dict(result)


async def test_connect_creates_moxie_with_its_agent(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """A reachable Ollama: the entry keeps the URL and gets a Spanish Moxie agent."""
    result = await start_brain_step(hass)
    schema_keys = {str(key): key for key in result["data_schema"].schema}
    assert schema_keys["url"].description == {"suggested_value": "http://localhost:11434"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == {**USER_INPUT, "url": ollama_server.url}
    (subentry,) = entry.subentries.values()
    assert subentry.subentry_type == "conversation"
    assert subentry.title == "Cerebro de Moxie"
    assert subentry.data["model"] == "qwen3:4b"
    assert subentry.data["prompt"] == persona_prompt("es")
    assert subentry.data["llm_hass_api"] == ["assist"]
    assert subentry.data["max_history"] == 20
    assert subentry.data["takeover_minutes"] == 10
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("conversation.moxie") is not None


async def test_connect_with_api_key(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """The API key is checked as a bearer token, and kept."""
    ollama_server.api_key = "s3creto"
    result = await start_brain_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url, "api_key": "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url, "api_key": " s3creto "}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].data["api_key"] == "s3creto"
    assert ollama_server.requests[-1].headers["Authorization"] == "Bearer s3creto"


@pytest.mark.parametrize(
    ("problem", "error"),
    [("down", "cannot_connect"), ("hung", "timeout"), ("bad_url", "invalid_url")],
)
async def test_connect_errors_then_recover(
    hass: HomeAssistant,
    ollama_server: OllamaServer,
    monkeypatch: pytest.MonkeyPatch,
    problem: str,
    error: str,
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """Each problem shows its error on the form; fixing it creates the entry."""
    url = ollama_server.url
    if problem == "down":
        await ollama_server.stop()
    elif problem == "hung":
        ollama_server.stall = asyncio.Event()
        monkeypatch.setattr(brain, "CONNECT_TIMEOUT", 0.2)
    else:
        url = "no es una url"
    result = await start_brain_step(hass)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": url})

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    if problem == "down":
        await ollama_server.start()
    elif problem == "hung":
        ollama_server.stall.set()
        ollama_server.stall = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_empty_url_creates_moxie_without_brain(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """No URL: the speech mirror works, no agent is created, and adding one explains why not."""
    result = await start_brain_step(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": " "})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == USER_INPUT
    assert not entry.subentries
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.async_entity_ids("conversation") == ["conversation.home_assistant"]

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "conversation"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_brain"


async def add_agent(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "conversation"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "set_options"
    return dict(result)


async def wait_progress_done(hass: HomeAssistant, flow_id: str, next_step: str) -> dict[str, Any]:
    """Wait until the pull ends and the flow moves on by itself; then ask for the result."""
    async with asyncio.timeout(10):
        while hass.config_entries.subentries.async_get(flow_id)["step_id"] != next_step:
            await asyncio.sleep(0.02)
    return dict(await hass.config_entries.subentries.async_configure(flow_id))


async def test_add_agent_with_installed_model(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Installed models are offered first; choosing one creates the agent at once."""
    result = await add_agent(hass, moxie_brain)
    schema = {str(key): (key, value) for key, value in result["data_schema"].schema.items()}
    options = schema["model"][1].config["options"]
    assert options[0] == {"label": "qwen3:4b ✓", "value": "qwen3:4b"}
    assert {"label": "llama3.2:3b", "value": "llama3.2:3b"} in options
    assert schema["prompt"][0].description == {"suggested_value": persona_prompt("es")}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Profe", "model": "qwen3:4b", "prompt": "Eres la profe Moxie.", "max_history": 6},
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(s for s in moxie_brain.subentries.values() if s.title == "Profe")
    assert subentry.data == {
        "model": "qwen3:4b",
        "prompt": "Eres la profe Moxie.",
        "max_history": 6,
    }
    assert hass.states.get("conversation.moxie_profe") is not None
    assert [r.path for r in ollama_server.requests if r.path == "/api/pull"] == []


async def test_new_agent_proposes_a_free_name_and_refuses_a_taken_one(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """A second agent is offered a free name; a name already used is refused, not duplicated."""
    result = await add_agent(hass, moxie_brain)
    fields = {str(key): key for key in result["data_schema"].schema}
    assert fields["name"].default() == "Cerebro de Moxie 2"

    for taken in ("Cerebro de Moxie", "moxie"):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": taken, "model": "qwen3:4b"}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"name": "name_in_use"}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Cerebro de Moxie 2", "model": "qwen3:4b"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    titles = sorted(s.title for s in moxie_brain.subentries.values())
    assert titles == ["Cerebro de Moxie", "Cerebro de Moxie 2"]
    second = hass.states.get("conversation.moxie_cerebro_de_moxie_2")
    assert second is not None
    assert second.name == "Cerebro de Moxie 2"


async def test_add_agent_pulls_missing_model(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """A missing model is pulled with a progress step, then the agent is created."""
    progress: list[float] = []

    @callback
    def on_progress(event: Event) -> None:
        progress.append(event.data["progress"])

    hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESS_UPDATE, on_progress)
    result = await add_agent(hass, moxie_brain)

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Llama", "model": "llama3.2:3b"}
    )

    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "download"
    assert result["progress_action"] == "download"
    assert result["description_placeholders"] == {"model": "llama3.2:3b"}
    result = await wait_progress_done(hass, result["flow_id"], "finish")
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Llama"
    assert result["data"] == {"model": "llama3.2:3b"}
    assert "llama3.2:3b" in ollama_server.models
    pull = next(r for r in ollama_server.requests if r.path == "/api/pull")
    assert pull.body == {"model": "llama3.2:3b", "insecure": False, "stream": True}
    assert progress == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert hass.states.get("conversation.moxie_llama") is not None


async def test_pull_failure_aborts(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """A model Ollama cannot pull ends the flow with the reason."""
    ollama_server.pullable = set()
    result = await add_agent(hass, moxie_brain)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "X", "model": "noexiste:1b"}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    result = await wait_progress_done(hass, result["flow_id"], "download_failed")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "download_failed"
    assert result["description_placeholders"]["model"] == "noexiste:1b"
    assert "file does not exist" in result["description_placeholders"]["error"]


async def test_reconfigure_agent(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Reconfiguring shows the current options and saves the new ones."""
    subentry = next(iter(moxie_brain.subentries.values()))
    result = await moxie_brain.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["type"] is FlowResultType.FORM
    schema = {str(key): key for key in result["data_schema"].schema}
    assert "name" not in schema
    assert schema["prompt"].description == {"suggested_value": "Eres Moxie."}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"model": "qwen3:4b", "prompt": "Eres Moxie, muy breve.", "think": True, "num_ctx": 4096},
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert moxie_brain.subentries[subentry.subentry_id].data["prompt"] == "Eres Moxie, muy breve."
    await hass.async_block_till_done()
    from homeassistant.components import conversation
    from homeassistant.core import Context

    await conversation.async_converse(
        hass, "Hola", None, Context(), language="es", agent_id="conversation.moxie"
    )
    request = ollama_server.chat_requests[-1]
    assert request["think"] is True
    assert request["options"] == {"num_ctx": 4096}
    assert request["messages"][0]["content"].startswith("Eres Moxie, muy breve.")


async def test_agent_flow_aborts_when_ollama_is_down(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Adding an agent needs the model list: with Ollama down the flow says so."""
    await ollama_server.stop()
    result = await hass.config_entries.subentries.async_init(
        (moxie_brain.entry_id, "conversation"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_agent_flow_aborts_when_entry_not_loaded(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """An unloaded Moxie cannot get agents."""
    await hass.config_entries.async_unload(moxie_brain.entry_id)
    result = await hass.config_entries.subentries.async_init(
        (moxie_brain.entry_id, "conversation"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def test_reconfigure_changes_ollama(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Reconfigure shows the current URL, checks the new one and keeps the agents."""
    other = OllamaServer(models=["gemma3:4b"], api_key="k")
    await other.start()
    try:
        result = await moxie_brain.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
        assert result["step_id"] == "reconfigure_brain"
        schema = {str(key): key for key in result["data_schema"].schema}
        assert schema["url"].description == {"suggested_value": ollama_server.url}

        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"url": other.url}
        )
        assert result["errors"] == {"base": "invalid_auth"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"url": other.url, "api_key": "k"}
        )
        await hass.async_block_till_done()

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert moxie_brain.data == {**USER_INPUT, "url": other.url, "api_key": "k"}
        assert len(moxie_brain.subentries) == 1
        assert moxie_brain.runtime_data.brain.url == other.url
    finally:
        await hass.config_entries.async_unload(moxie_brain.entry_id)
        await other.stop()


async def test_reconfigure_removes_then_adds_the_brain(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """An empty URL removes the brain (and its entities go); a URL brings one agent back."""
    entities, devices = er.async_get(hass), dr.async_get(hass)
    agent = entities.async_get("conversation.moxie")
    assert agent is not None
    assert agent.device_id is not None
    agent_device = agent.device_id
    for subentry_id in list(moxie_brain.subentries):
        hass.config_entries.async_remove_subentry(moxie_brain, subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("conversation.moxie") is None
    assert hass.states.get("switch.moxie_puppet_takeover") is None
    # Home Assistant removed them with their subentry: registry entries and the agent's device.
    assert entities.async_get("conversation.moxie") is None
    assert entities.async_get("switch.moxie_puppet_takeover") is None
    assert devices.async_get(agent_device) is None

    result = await moxie_brain.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"url": ""})
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert moxie_brain.data == USER_INPUT
    assert moxie_brain.runtime_data.brain is None

    result = await moxie_brain.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], USER_INPUT)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    (agent,) = moxie_brain.subentries.values()
    assert agent.data["model"] == "qwen3:4b"
    assert hass.states.get("conversation.moxie") is not None
    assert hass.states.get("switch.moxie_puppet_takeover").state == "off"
