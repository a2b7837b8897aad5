"""Moxie's agent through Home Assistant's conversation API, against the loopback Ollama."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import json
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.components import conversation, mqtt
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import intent, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.moxie import assistant_status
from peers.broker import Mosquitto
from peers.entries import AGENT_OPTIONS, brain_entry
from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, Model, OllamaServer, ToolCall

AGENT = "conversation.moxie"


async def converse(
    hass: HomeAssistant, text: str, conversation_id: str | None = None, language: str = "es"
) -> conversation.ConversationResult:
    return await conversation.async_converse(
        hass, text, conversation_id, Context(), language=language, agent_id=AGENT
    )


def speech(result: conversation.ConversationResult) -> str:
    return result.response.speech["plain"]["speech"]


async def mirrored(probe: MqttProbe, count: int) -> list[dict[str, Any]]:
    messages = await probe.wait_for(
        "moxie/tts/text", count, where=lambda m: m.json()["source"] == "assistant"
    )
    return [m.json() for m in messages]


async def test_answer_is_streamed_and_mirrored(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """The answer reaches Assist and is mirrored sentence by sentence; the status follows."""
    ollama_server.replies.append(
        ChatReply(
            content="¡Hola! Soy Moxie, tu amigo robot. ¿Jugamos a algo?", thinking="El niño saluda."
        )
    )
    result = await converse(hass, "Hola Moxie")

    assert result.response.response_type is intent.IntentResponseType.ACTION_DONE
    assert speech(result) == "¡Hola! Soy Moxie, tu amigo robot. ¿Jugamos a algo?"
    assert result.continue_conversation
    said = await mirrored(mqtt_probe, 3)
    assert [m["text"] for m in said] == ["¡Hola!", "Soy Moxie, tu amigo robot.", "¿Jugamos a algo?"]
    assert {m["source"] for m in said} == {"assistant"}
    assert all("niño saluda" not in m["text"] for m in said)
    status = await mqtt_probe.wait_for("moxie/status", 4)
    assert [m.text for m in status[-3:]] == ["thinking", "speaking", "idle"]

    request = ollama_server.chat_requests[-1]
    assert request["model"] == "qwen3:4b"
    assert request["stream"] is True
    assert request["keep_alive"] == -1
    assert request["options"] == {"num_ctx": 8192}
    assert request["think"] is False
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][0]["content"].startswith("Eres Moxie.")
    assert request["messages"][-1] == {"role": "user", "content": "Hola Moxie"}
    assert "intent__HassTurnOn" in {tool["function"]["name"] for tool in request["tools"]}


async def test_tool_call_turns_on_a_real_entity(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """The model calls Home Assistant's HassTurnOn: the exposed input_boolean turns on."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"lampara": {"name": "Lámpara"}}}
    )
    async_expose_entity(hass, conversation.DOMAIN, "input_boolean.lampara", True)
    ollama_server.replies.extend(
        [
            ChatReply(
                tool_calls=[
                    ToolCall(
                        "intent__HassTurnOn",
                        # Small models send empty values and JSON as strings: both are fixed.
                        {"name": "Lámpara", "area": "", "domain": '["input_boolean"]'},
                    )
                ]
            ),
            ChatReply(content="¡Listo! He encendido la lámpara."),
        ]
    )
    result = await converse(hass, "Enciende la lámpara")

    assert hass.states.get("input_boolean.lampara").state == "on"
    assert speech(result) == "¡Listo! He encendido la lámpara."
    first, second = ollama_server.chat_requests[-2:]
    assert first["messages"][-1]["content"] == "Enciende la lámpara"
    tool_call, tool_result = second["messages"][-2:]
    assert tool_call["role"] == "assistant"
    assert tool_call["tool_calls"] == [
        {
            "function": {
                "name": "intent__HassTurnOn",
                "arguments": {"name": "Lámpara", "domain": ["input_boolean"]},
            }
        }
    ]
    assert tool_result["role"] == "tool"
    assert tool_result["tool_name"] == "intent__HassTurnOn"
    assert "Lámpara" in tool_result["content"]
    said = await mirrored(mqtt_probe, 2)
    assert [m["text"] for m in said] == ["¡Listo!", "He encendido la lámpara."]


async def test_tool_loop_is_bounded(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """A model that keeps calling tools is stopped after ten rounds with a clear line."""
    ollama_server.default_reply = lambda _body: ChatReply(
        tool_calls=[ToolCall("llm__GetDateTime", {})]
    )
    result = await converse(hass, "¿Qué hora es?")

    assert len(ollama_server.chat_requests) == 10
    assert speech(result) == "Lo he intentado varias veces, pero no he podido terminarlo."


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "max_history": 4}])
async def test_history_is_trimmed_to_the_window(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Only the last max_history messages go with a question, after the system prompt."""
    result = await converse(hass, "uno")
    conversation_id = result.conversation_id
    for text in ("dos", "tres", "cuatro"):
        result = await converse(hass, text, conversation_id)
        assert result.conversation_id == conversation_id

    messages = ollama_server.chat_requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "dos"),
        ("assistant", "Eco: dos"),
        ("user", "tres"),
        ("assistant", "Eco: tres"),
        ("user", "cuatro"),
    ]
    assert messages[0]["role"] == "system"
    # With the window not yet full, the whole conversation went along.
    assert len(ollama_server.chat_requests[2]["messages"]) == 1 + 5


async def test_thinking_is_never_answered_nor_mirrored(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """Thinking, in its own field or in <think> tags, stays out of the answer and the mirror."""
    ollama_server.replies.append(
        ChatReply(
            thinking=["Pienso ", "en secreto."],
            content=["<thi", "nk>Plan oculto.</th", "ink>", "Dos más dos ", "son cuatro."],
        )
    )
    result = await converse(hass, "¿Cuánto es dos más dos?")

    assert speech(result) == "Dos más dos son cuatro."
    said = await mirrored(mqtt_probe, 1)
    assert [m["text"] for m in said] == ["Dos más dos son cuatro."]
    # The thinking is kept in the chat log (not spoken) and sent back as thinking.
    result = await converse(hass, "Gracias", result.conversation_id)
    previous = ollama_server.chat_requests[-1]["messages"][-2]
    assert previous["role"] == "assistant"
    assert previous["content"] == "Dos más dos son cuatro."
    assert previous["thinking"] == "Pienso en secreto.Plan oculto."


async def test_english_conversation_gets_english_lines(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """Ollama down, asked in English: the line is English."""
    await ollama_server.stop()
    result = await converse(hass, "Hello", language="en")
    assert speech(result).startswith("I can't think right now")


async def test_ollama_down_then_up(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """Down: a clear Spanish line, mirrored, and a repair issue. Up again: all clears by itself."""
    issues = ir.async_get(hass)
    issue_id = f"ollama_unreachable_{moxie_brain.entry_id}"
    await ollama_server.stop()

    result = await converse(hass, "Hola")

    assert result.response.response_type is intent.IntentResponseType.ERROR
    assert speech(result).startswith("Ahora mismo no puedo pensar")
    said = await mirrored(mqtt_probe, 1)
    assert said[0]["text"].startswith("Ahora mismo no puedo pensar")
    issue = issues.async_get_issue("moxie", issue_id)
    assert issue is not None
    assert issue.translation_key == "ollama_unreachable"
    assert issue.translation_placeholders["url"] == ollama_server.url
    status = await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle", count=2)
    assert status[-1].text == "idle"

    # Ollama comes back: the periodic check closes the issue without anyone asking.
    await ollama_server.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    async with asyncio.timeout(10):
        while issues.async_get_issue("moxie", issue_id) is not None:
            await asyncio.sleep(0.02)

    result = await converse(hass, "Hola otra vez")
    assert speech(result) == "Eco: Hola otra vez"


async def test_recovers_on_the_next_question(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """The next question after Ollama returns is answered and closes the issue."""
    await ollama_server.stop()
    await converse(hass, "Hola")
    assert ir.async_get(hass).async_get_issue("moxie", f"ollama_unreachable_{moxie_brain.entry_id}")
    await ollama_server.start()

    result = await converse(hass, "¿Estás?")

    assert speech(result) == "Eco: ¿Estás?"
    assert not ir.async_get(hass).async_get_issue(
        "moxie", f"ollama_unreachable_{moxie_brain.entry_id}"
    )


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "model": "llama3.2:3b"}])
async def test_model_missing(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """A missing model is named in the answer and in a repair issue, which closes once pulled."""
    issue_id = f"model_missing_llama3.2:3b_{moxie_brain.entry_id}"

    result = await converse(hass, "Hola")

    assert speech(result) == (
        "Me falta el modelo llama3.2:3b en el servidor Ollama. Descárgalo desde la "
        "configuración de Moxie o con ollama pull llama3.2:3b."
    )
    issue = ir.async_get(hass).async_get_issue("moxie", issue_id)
    assert issue is not None
    assert issue.translation_placeholders["model"] == "llama3.2:3b"
    assert not ir.async_get(hass).async_get_issue(
        "moxie", f"ollama_unreachable_{moxie_brain.entry_id}"
    )

    ollama_server.models["llama3.2:3b"] = Model("llama3.2:3b")  # pulled by hand
    result = await converse(hass, "Hola")
    assert speech(result) == "Eco: Hola"
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is None


async def test_unauthorized(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """A refused key: the user hears it, a repair issue says so, and reauth asks for the key."""
    ollama_server.api_key = "secreto"
    issue_id = f"ollama_unauthorized_{moxie_brain.entry_id}"

    result = await converse(hass, "Hola")

    assert "clave de acceso no es válida" in speech(result)
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is not None
    await hass.async_block_till_done()
    (flow,) = hass.config_entries.flow.async_progress_by_handler("moxie")
    assert flow["context"]["source"] == "reauth"
    assert flow["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"api_key": "no"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"api_key": "secreto"})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert moxie_brain.data["api_key"] == "secreto"
    assert speech(await converse(hass, "Hola")) == "Eco: Hola"
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is None


async def test_failure_mid_answer(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """Ollama fails while streaming: the user gets the "something failed" line."""
    ollama_server.replies.append(
        ChatReply(
            content="Había una vez", error="llama runner process has terminated", error_after=2
        )
    )
    result = await converse(hass, "Cuéntame un cuento")
    assert speech(result) == "Uy, algo ha fallado mientras pensaba. ¿Me lo repites?"


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "model": "llama3.2:3b"}])
async def test_diagnostics_describe_the_brain_without_the_key(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """Diagnostics show the URL, models, problems and agents; key, prompts and words redacted."""
    hass.config_entries.async_update_entry(
        moxie_brain, data={**moxie_brain.data, "api_key": "s3creto"}
    )
    await hass.async_block_till_done()
    await converse(hass, "Hola")
    await wait_until(lambda: moxie_brain.runtime_data.brain.models == ["qwen3:4b"])

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_brain)

    assert "s3creto" not in str(diagnostics)
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    brain = diagnostics["brain"]
    assert brain["url"] == ollama_server.url
    assert brain["api_key_set"] is True
    assert brain["installed_models"] == ["qwen3:4b"]
    assert brain["missing_models"] == ["llama3.2:3b"]
    (agent,) = brain["agents"]
    assert agent["options"]["model"] == "llama3.2:3b"
    assert agent["takeover_active"] is False
    # Nobody's words in a bug report: the persona prompt and what Moxie said are redacted.
    assert agent["options"]["prompt"] == "**REDACTED**"
    assert moxie_brain.runtime_data.mirror.recent, "Moxie said something"
    recent = diagnostics["mirror"]["recent_utterances"]
    assert recent
    assert {utterance["text"] for utterance in recent} == {"**REDACTED**"}
    for utterance in moxie_brain.runtime_data.mirror.recent:
        assert utterance["text"] not in str(diagnostics)


async def test_long_run_without_full_stop_is_cut_at_a_comma(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """A model that never ends a sentence is still mirrored in pieces, at clause boundaries."""
    clause = "y entonces el dragón voló sobre las montañas nevadas del norte"
    text = ", ".join([clause] * 6)
    ollama_server.replies.append(ChatReply(content=text))

    result = await converse(hass, "Cuéntame un cuento")

    assert speech(result) == text
    said = await mirrored(mqtt_probe, 2)
    assert len(said) >= 2
    assert " ".join(m["text"] for m in said) == text
    assert said[0]["text"].endswith(",")


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "llm_hass_api": ["missing_api"]}])
async def test_unknown_llm_api_is_an_error_answer(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """An LLM API that no longer exists gives Home Assistant's error, and Ollama is not asked."""
    result = await converse(hass, "Hola")

    assert result.response.response_type is intent.IntentResponseType.ERROR
    assert speech(result) == "Error preparing LLM API"
    assert ollama_server.chat_requests == []


async def test_ollama_down_at_setup_keeps_the_speech_mirror(
    hass: HomeAssistant,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    agent_options: dict[str, Any],
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """Moxie loads without its brain: speech works, the issue is open, the agent explains."""
    await ollama_server.stop()
    entry = brain_entry(ollama_server.url, agent_options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    # The setup does not wait for Ollama; its check opens the issue a moment later.
    await wait_until(
        lambda: (
            ir.async_get(hass).async_get_issue("moxie", f"ollama_unreachable_{entry.entry_id}")
            is not None
        )
    )
    await hass.services.async_call("moxie", "say", {"text": "Sigo hablando."}, blocking=True)
    said = await mqtt_probe.wait_for("moxie/tts/text")
    assert said[0].json()["text"] == "Sigo hablando."
    assert speech(await converse(hass, "Hola")).startswith("Ahora mismo no puedo pensar")

    await ollama_server.start()
    assert speech(await converse(hass, "Hola")) == "Eco: Hola"
    assert not ir.async_get(hass).async_get_issue("moxie", f"ollama_unreachable_{entry.entry_id}")
    await hass.config_entries.async_unload(entry.entry_id)


async def wait_until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_status_stays_speaking_until_the_speaker_is_done(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
) -> None:
    """With a Moxie speaker reporting, the Status is idle only once the answer was heard."""
    status = moxie_brain.runtime_data.status
    speaker_status = "moxie/tts/status"
    await mqtt_probe.publish(speaker_status, '{"status": "idle"}', retain=True)
    await wait_until(lambda: status.speaker_seen)

    await converse(hass, "Hola")
    said = await mqtt_probe.wait_for("moxie/tts/text")
    uid = said[-1].json()["id"]
    speaking = {"status": "speaking", "current_id": uid, "queue_size": 0}
    await mqtt_probe.publish(speaker_status, json.dumps(speaking))
    await wait_until(lambda: status.speaker_speaking)
    assert moxie_brain.runtime_data.status.state == "speaking"
    # Another utterance said meanwhile is not this answer: Moxie is still saying it.
    done = {"status": "speaking", "current_id": "other", "finished_id": "x", "queue_size": 1}
    await mqtt_probe.publish(speaker_status, json.dumps(done))
    await hass.async_block_till_done()
    assert moxie_brain.runtime_data.status.state == "speaking"

    finished = {"status": "idle", "finished_id": uid, "finished_outcome": "played"}
    await mqtt_probe.publish(speaker_status, json.dumps(finished))
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle", count=2)
    assert [m.text for m in mqtt_probe.messages["moxie/status"]] == [
        "idle",
        "thinking",
        "speaking",
        "idle",
    ]


async def test_status_goes_idle_when_the_speaker_never_starts(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A speaker that reported once but does not say the answer does not keep Moxie busy."""
    monkeypatch.setattr(assistant_status, "START_GRACE", 0.1)
    await mqtt_probe.publish("moxie/tts/status", '{"status": "idle"}', retain=True)
    await wait_until(lambda: moxie_brain.runtime_data.status.speaker_seen)

    await converse(hass, "Hola")

    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle", count=2)


async def finish_progress(client: TestClient, flow: dict[str, Any]) -> dict[str, Any]:
    """Poll the fix flow as the frontend does until the pull's progress is over."""
    async with asyncio.timeout(10):
        while flow["type"] in ("progress", "progress_done"):
            await asyncio.sleep(0.02)
            flow = await (await client.get(f"/api/repairs/issues/fix/{flow['flow_id']}")).json()
    return flow


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "model": "llama3.2:3b"}])
async def test_model_missing_repair_pulls_the_model(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """Fixing the missing-model issue (repairs API) pulls the model; then Moxie answers."""
    assert await async_setup_component(hass, "repairs", {})
    issue_id = f"model_missing_llama3.2:3b_{moxie_brain.entry_id}"
    await converse(hass, "Hola")
    assert ir.async_get(hass).async_get_issue("moxie", issue_id).is_fixable
    client = await hass_client()

    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": "moxie", "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"] == {"model": "llama3.2:3b"}
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    flow = await response.json()
    assert flow["type"] == "progress"
    assert flow["progress_action"] == "pull"
    flow = await finish_progress(client, flow)

    assert flow["type"] == "create_entry"
    assert "llama3.2:3b" in ollama_server.models
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is None
    assert speech(await converse(hass, "Hola")) == "Eco: Hola"


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "model": "noexiste:1b"}])
async def test_model_missing_repair_reports_a_failed_pull(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """A model Ollama cannot pull: the fix flow says why and the issue stays."""
    assert await async_setup_component(hass, "repairs", {})
    ollama_server.pullable = set()
    issue_id = f"model_missing_noexiste:1b_{moxie_brain.entry_id}"
    await converse(hass, "Hola")
    client = await hass_client()
    flow = await (
        await client.post(
            "/api/repairs/issues/fix", json={"handler": "moxie", "issue_id": issue_id}
        )
    ).json()
    flow = await (await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})).json()
    flow = await finish_progress(client, flow)

    assert flow["type"] == "abort"
    assert flow["reason"] == "download_failed"
    assert "file does not exist" in flow["description_placeholders"]["error"]
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is not None


async def test_hung_ollama_does_not_hold_up_the_setup(
    hass: HomeAssistant,
    ollama_server: OllamaServer,
    agent_options: dict[str, Any],
    *,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """Setup finishes while Ollama has not answered at all; unloading then is clean."""
    ollama_server.stall = asyncio.Event()
    entry = brain_entry(ollama_server.url, agent_options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.LOADED
    assert not ollama_server.stall.is_set()
    assert hass.states.get("conversation.moxie") is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    ollama_server.stall.set()


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "model": "llama3.2:3b"}])
async def test_model_missing_issue_closes_after_a_restart_once_pulled(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    """The issue survives a reload; the check after it closes it once the model is there."""
    issue_id = f"model_missing_llama3.2:3b_{moxie_brain.entry_id}"
    await converse(hass, "Hola")
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is not None
    ollama_server.models["llama3.2:3b"] = Model("llama3.2:3b")  # pulled by hand

    assert await hass.config_entries.async_reload(moxie_brain.entry_id)

    await wait_until(lambda: ir.async_get(hass).async_get_issue("moxie", issue_id) is None)


async def test_answer_survives_the_broker_going_away(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without MQTT, Moxie cannot speak, but Assist still gets the answer."""
    mosquitto.stop()
    await wait_until(lambda: not mqtt.is_connected(hass))

    result = await converse(hass, "Hola")

    assert speech(result) == "Eco: Hola"
    assert "Could not mirror Moxie's answer" in caplog.text
