"""Moxie's AI task through Home Assistant's ai_task API, against the loopback Ollama."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.components import ai_task
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer

TASK = "ai_task.moxie"
TASK_SUBENTRY = ConfigSubentryData(
    data={"model": "qwen3:4b", "num_ctx": 4096, "keep_alive": 60, "think": False},
    subentry_type="ai_task_data",
    title="AI task",
    unique_id=None,
)
with_task = pytest.mark.parametrize("extra_subentries", [[TASK_SUBENTRY]])


@with_task
async def test_generate_text_is_never_spoken(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """The AI task answers with the model's text, with its options, and Moxie stays quiet."""
    ollama_server.replies.append(ChatReply(content="Tres ideas: pintar, leer y bailar."))

    result = await ai_task.async_generate_data(
        hass, task_name="ideas", entity_id=TASK, instructions="Dame tres ideas de juegos."
    )

    assert result.data == "Tres ideas: pintar, leer y bailar."
    request = ollama_server.chat_requests[-1]
    assert request["messages"][-1] == {"role": "user", "content": "Dame tres ideas de juegos."}
    assert request["options"] == {"num_ctx": 4096}
    assert request["keep_alive"] == "60s"
    assert "format" not in request
    # Moxie says something afterwards: it is the first assistant-free line on the mirror.
    await hass.services.async_call("moxie", "say", {"text": "Centinela."}, blocking=True)
    said = await mqtt_probe.wait_for("moxie/tts/text")
    assert [m.json()["text"] for m in said] == ["Centinela."]


@with_task
async def test_generate_structured_data(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """A structure becomes Ollama's JSON schema `format`, and the JSON answer is parsed."""
    ollama_server.replies.append(ChatReply(content='{"name": "Moxie", "age": 3}'))

    result = await ai_task.async_generate_data(
        hass,
        task_name="ficha",
        entity_id=TASK,
        instructions="Describe a Moxie.",
        structure=vol.Schema({vol.Required("name"): str, vol.Required("age"): int}),
    )

    assert result.data == {"name": "Moxie", "age": 3}
    schema = ollama_server.chat_requests[-1]["format"]
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"name", "age"}
    assert set(schema["required"]) == {"name", "age"}


@with_task
async def test_invalid_structured_answer(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """An answer that is not JSON is a clear error."""
    ollama_server.replies.append(ChatReply(content="no es json"))
    with pytest.raises(HomeAssistantError, match="not the JSON structure"):
        await ai_task.async_generate_data(
            hass,
            task_name="ficha",
            entity_id=TASK,
            instructions="Describe a Moxie.",
            structure=vol.Schema({vol.Required("name"): str}),
        )


@with_task
async def test_ollama_down_is_a_clear_error(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Ollama down: the task fails with a translated error and the repair issue opens."""
    await ollama_server.stop()
    with pytest.raises(HomeAssistantError, match=f"Cannot reach Ollama at {ollama_server.url}"):
        await ai_task.async_generate_data(hass, task_name="x", entity_id=TASK, instructions="Hola")
    assert ir.async_get(hass).async_get_issue("moxie", f"ollama_unreachable_{moxie_brain.entry_id}")


async def test_add_ai_task(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """The AI task flow asks only for the model and its tuning."""
    result = await hass.config_entries.subentries.async_init(
        (moxie_brain.entry_id, "ai_task_data"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    fields = {str(key): key for key in result["data_schema"].schema}
    assert set(fields) == {"name", "model", "keep_alive", "num_ctx", "think"}
    assert fields["name"].default() == "Tareas IA de Moxie"

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Tareas IA de Moxie", "model": "qwen3:4b"}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"model": "qwen3:4b"}
    assert hass.states.get(TASK) is not None
    ollama_server.replies.append(ChatReply(content="Hecho."))
    result = await ai_task.async_generate_data(
        hass, task_name="x", entity_id=TASK, instructions="Hola"
    )
    assert result.data == "Hecho."
