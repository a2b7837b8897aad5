"""Moxie's memory through Home Assistant, the real broker and the loopback Ollama's tool calls.

What is checked is what a person or a protocol peer sees: Moxie's answers, the /api/chat
request bodies the loopback Ollama received (the prompt and tools each person's question
carried), the parents' websocket view and the `moxie.forget` action.
"""

from __future__ import annotations

from datetime import datetime
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.auth.models import Credentials, User
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, llm
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from peers.entries import AGENT_OPTIONS
from peers.ollama_server import ChatReply, OllamaServer, ToolCall

AGENT = "conversation.moxie"
MEMORY_TOOLS = {"memory__remember", "memory__forget", "memory__recall"}


def noon(day: int) -> datetime:
    """Noon of a day of December 2026 in Home Assistant's time zone (the 2nd is a Wednesday)."""
    return datetime(2026, 12, day, 12, tzinfo=dt_util.get_default_time_zone())


async def converse(hass: HomeAssistant, text: str, user: User | None) -> str:
    result = await conversation.async_converse(
        hass,
        text,
        None,
        Context(user_id=user.id if user else None),
        language="es",
        agent_id=AGENT,
    )
    return str(result.response.speech["plain"]["speech"])


def system_prompt(body: dict[str, Any]) -> str:
    message = body["messages"][0]
    assert message["role"] == "system"
    return str(message["content"])


def tool_names(body: dict[str, Any]) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


def remember(text: str, answer: str = "¡Me acordaré!", **more: Any) -> list[ChatReply]:
    """The model saves text with the memory tool, then answers."""
    return [
        ChatReply(tool_calls=[ToolCall("memory__remember", {"text": text, **more})]),
        ChatReply(content=answer),
    ]


@pytest.fixture
async def lucia(hass: HomeAssistant) -> User:
    return await hass.auth.async_create_user("Lucía")


@pytest.fixture
async def pablo(hass: HomeAssistant) -> User:
    return await hass.auth.async_create_user("Pablo")


async def test_told_one_day_recalled_after_a_restart_by_that_person_only(
    hass: HomeAssistant,
    *,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    freezer: FrozenDateTimeFactory,
    lucia: User,
    pablo: User,
) -> None:
    freezer.move_to(noon(2))
    ollama_server.replies.extend(remember("Mi perro se llama Toby.", "¡Qué nombre tan bonito!"))
    answer = await converse(hass, "Acuérdate de que mi perro se llama Toby.", lucia)

    assert answer == "¡Qué nombre tan bonito!"
    asked, after_tool = ollama_server.chat_requests[-2:]
    # Moxie's memory tools come with Home Assistant's own, under their usual names.
    assert MEMORY_TOOLS | {"intent__HassTurnOn"} <= tool_names(asked)
    tool_result = after_tool["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["tool_name"] == "memory__remember"
    assert "Mi perro se llama Toby." in tool_result["content"]

    # Home Assistant restarts the next day.
    assert await hass.config_entries.async_reload(moxie_brain.entry_id)
    await hass.async_block_till_done()
    freezer.move_to(noon(3))

    await converse(hass, "¿Cómo se llama mi perro?", lucia)
    assert "Mi perro se llama Toby." in system_prompt(ollama_server.chat_requests[-1])

    # Pablo asks the same, and his model even looks through the memory: nothing of Lucía's.
    ollama_server.replies.extend(
        [
            ChatReply(tool_calls=[ToolCall("memory__recall", {"query": "perro"})]),
            ChatReply(content="No me has hablado de ningún perro."),
        ]
    )
    before = len(ollama_server.chat_requests)
    answer = await converse(hass, "¿Cómo se llama mi perro?", pablo)
    assert answer == "No me has hablado de ningún perro."
    for body in ollama_server.chat_requests[before:]:
        assert "Toby" not in json.dumps(body, ensure_ascii=False)
    assert json.loads(ollama_server.chat_requests[-1]["messages"][-1]["content"]) == {
        "data": {"memories": []},
        "error": False,
    }


async def test_a_person_cannot_forget_someone_elses_memory(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    lucia: User,
    pablo: User,
) -> None:
    ollama_server.replies.extend(remember("Mi perro se llama Toby."))
    await converse(hass, "Acuérdate de que mi perro se llama Toby.", lucia)
    remembered = json.loads(ollama_server.chat_requests[-1]["messages"][-1]["content"])
    memory_id = remembered["data"]["remembered"]["id"]

    ollama_server.replies.extend(
        [
            ChatReply(tool_calls=[ToolCall("memory__forget", {"memory_id": memory_id})]),
            ChatReply(content="No puedo."),
        ]
    )
    await converse(hass, "Olvida lo del perro.", pablo)
    result = json.loads(ollama_server.chat_requests[-1]["messages"][-1]["content"])
    assert result["error"] is True

    await converse(hass, "¿Cómo se llama mi perro?", lucia)
    assert "Mi perro se llama Toby." in system_prompt(ollama_server.chat_requests[-1])


async def test_forgotten_on_request(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_ws_client: WebSocketGenerator,
    lucia: User,
) -> None:
    client = await hass_ws_client(hass)
    ollama_server.replies.extend(remember("Me dan miedo las tormentas."))
    await converse(hass, "Acuérdate de que me dan miedo las tormentas.", lucia)
    ollama_server.replies.extend(
        [
            ChatReply(tool_calls=[ToolCall("memory__forget", {"about": "tormentas"})]),
            ChatReply(content="Vale, ya lo he olvidado."),
        ]
    )
    assert await converse(hass, "Olvida lo de las tormentas.", lucia) == "Vale, ya lo he olvidado."
    forgotten = json.loads(ollama_server.chat_requests[-1]["messages"][-1]["content"])
    assert forgotten["data"]["forgotten"]["text"] == "Me dan miedo las tormentas."

    await converse(hass, "¿Qué me da miedo?", lucia)
    assert "tormentas" not in system_prompt(ollama_server.chat_requests[-1])
    assert (await _listed(client))["memories"] == []


async def test_a_dated_fact_expires_after_its_day(
    hass: HomeAssistant,
    *,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
    lucia: User,
) -> None:
    freezer.move_to(noon(2))  # Wednesday
    client = await hass_ws_client(hass, await _user_token(hass, GROUP_ID_ADMIN))
    ollama_server.replies.extend(remember("El viernes tengo excursión al museo."))
    await converse(hass, "Acuérdate: el viernes tengo excursión al museo.", lucia)
    [memory] = (await _listed(client))["memories"]
    assert dt_util.parse_datetime(memory["expires"]) == noon(5).replace(hour=0)

    freezer.move_to(noon(4))  # Friday: still true
    await converse(hass, "¿Qué tengo hoy?", lucia)
    assert "excursión al museo" in system_prompt(ollama_server.chat_requests[-1])

    freezer.move_to(noon(5))  # Saturday: over
    await client.close()
    client = await hass_ws_client(hass, await _user_token(hass, GROUP_ID_ADMIN))
    await converse(hass, "¿Qué tenía el viernes?", lucia)
    assert "excursión" not in system_prompt(ollama_server.chat_requests[-1])
    assert (await _listed(client))["memories"] == []


async def test_the_prompt_stays_small_however_much_is_remembered(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer, lucia: User
) -> None:
    """Three memories go with a question: the ones it is about."""
    store = moxie_brain.runtime_data.memory
    for number in range(60):
        store.async_add(f"user:{lucia.id}", f"El cromo número {number} es repetido.", "es")
    store.async_add(f"user:{lucia.id}", "Mi perro se llama Toby.", "es")

    await converse(hass, "¿Cómo se llama mi perro?", lucia)
    system = system_prompt(ollama_server.chat_requests[-1])
    assert "Mi perro se llama Toby." in system
    assert system.count("\n- [") == 3


async def test_without_tool_calling_memories_are_still_offered(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer, lucia: User
) -> None:
    ollama_server.models["qwen3:4b"].capabilities = ("completion",)
    moxie_brain.runtime_data.memory.async_add("household", "La gata de casa se llama Misi.", "es")

    await converse(hass, "¿Cómo se llama la gata?", lucia)
    request = ollama_server.chat_requests[-1]
    assert not tool_names(request) & MEMORY_TOOLS
    system = system_prompt(request)
    assert "La gata de casa se llama Misi." in system
    assert "memory__remember" not in system


@pytest.mark.parametrize(
    ("agent_options", "says"),
    [
        ({**AGENT_OPTIONS, "memory_notice": "off"}, "No guardes nada que no te pidan recordar."),
        ({**AGENT_OPTIONS, "memory_notice": "ask"}, "pregunta antes si quiere que lo recuerdes"),
        ({**AGENT_OPTIONS, "memory_notice": "on"}, "guárdalo con memory__remember sin preguntar"),
    ],
)
async def test_the_notice_setting_tells_the_model_when_to_save(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer, says: str
) -> None:
    await converse(hass, "Hola Moxie", None)
    assert says in system_prompt(ollama_server.chat_requests[-1])


@pytest.mark.parametrize("agent_options", [{**AGENT_OPTIONS, "memory_retention_days": 0}])
async def test_retention_zero_turns_memory_off(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    await converse(hass, "Hola Moxie", None)
    request = ollama_server.chat_requests[-1]
    assert not tool_names(request) & MEMORY_TOOLS
    assert "memory__" not in system_prompt(request)


async def test_other_agents_can_use_moxies_memory(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """Each Moxie offers its memory as an LLM API, in the speaker's scope."""
    [api] = [api for api in llm.async_get_apis(hass) if api.name == "Moxie memory"]
    context = llm.LLMContext(
        platform="ollama",
        context=Context(),
        language="en",
        assistant="conversation",
        device_id=None,
    )
    instance = await llm.async_get_api(hass, api.id, context)
    assert {tool.name for tool in instance.tools} == MEMORY_TOOLS
    result = await instance.async_call_tool(
        llm.ToolInput("memory__remember", {"text": "We have a cat called Misi."})
    )
    assert result.data["remembered"]["shared"] is True  # nobody identified: the household's

    assert await hass.config_entries.async_unload(moxie_brain.entry_id)
    assert api.id not in {registered.id for registered in llm.async_get_apis(hass)}


async def test_a_voice_satellite_keeps_its_own_memories(
    hass: HomeAssistant,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Whoever speaks to a satellite (no Home Assistant user) reaches the device's memories."""
    kitchen = dr.async_get(hass).async_get_or_create(
        config_entry_id=moxie_brain.entry_id, identifiers={("test", "kitchen")}, name="Cocina"
    )
    bedroom = dr.async_get(hass).async_get_or_create(
        config_entry_id=moxie_brain.entry_id, identifiers={("test", "bedroom")}, name="Cuarto"
    )

    async def ask(text: str, device_id: str) -> None:
        await conversation.async_converse(
            hass, text, None, Context(), language="es", agent_id=AGENT, device_id=device_id
        )

    ollama_server.replies.extend(remember("Aquí desayunamos tostadas."))
    await ask("Acuérdate de que aquí desayunamos tostadas.", kitchen.id)
    await ask("¿Qué desayunamos?", kitchen.id)
    assert "Aquí desayunamos tostadas." in system_prompt(ollama_server.chat_requests[-1])
    await ask("¿Qué desayunamos?", bedroom.id)
    assert "tostadas" not in system_prompt(ollama_server.chat_requests[-1])

    [memory] = (await _listed(await hass_ws_client(hass)))["memories"]
    assert (memory["kind"], memory["who"]) == ("device", "Cocina")


async def test_memory_settings_in_the_agent_options(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, ollama_server: OllamaServer
) -> None:
    subentry = next(iter(moxie_brain.subentries.values()))
    result = await moxie_brain.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema["memory_notice"].description == {"suggested_value": "ask"}
    assert schema["memory_retention_days"].description == {"suggested_value": 365}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"model": "qwen3:4b", "memory_notice": "on"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert moxie_brain.subentries[subentry.subentry_id].data["memory_notice"] == "on"
    await converse(hass, "Hola", None)
    assert "sin preguntar" in system_prompt(ollama_server.chat_requests[-1])


# The parents' view: the Moxie card's websocket commands and the moxie.forget action.


async def _ask(client: Any, **message: Any) -> dict[str, Any]:
    """Send a command; return its result (events of earlier subscriptions are skipped)."""
    await client.send_json_auto_id(message)
    sent = message["id"]  # set by send_json_auto_id
    while True:
        received: dict[str, Any] = await client.receive_json()
        if received["id"] == sent and received["type"] == "result":
            return received


async def _listed(client: Any) -> dict[str, Any]:
    """Subscribe to the memories anew; return the list it starts with."""
    subscribed = await _ask(client, type="moxie/memory/subscribe")
    assert subscribed["success"], subscribed
    while True:
        received = await client.receive_json()
        if received["id"] == subscribed["id"] and received["type"] == "event":
            event: dict[str, Any] = received["event"]
            return event


async def _user_token(hass: HomeAssistant, group_id: str = GROUP_ID_USER) -> str:
    """An access token, issued now, of a new person in group_id."""
    user = MockUser(groups=[await hass.auth.async_get_group(group_id)]).add_to_hass(hass)
    credential = Credentials(
        id=f"credential-{user.id}",
        auth_provider_type="homeassistant",
        auth_provider_id=None,
        data={"username": user.id},
        is_new=False,
    )
    user.credentials.append(credential)
    refresh_token = await hass.auth.async_create_refresh_token(
        user, CLIENT_ID, credential=credential
    )
    return hass.auth.async_create_access_token(refresh_token)


async def test_parents_see_edit_and_erase_memories(
    hass: HomeAssistant,
    *,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    hass_ws_client: WebSocketGenerator,
    lucia: User,
    pablo: User,
) -> None:
    ollama_server.replies.extend(remember("Mi color favorito es el verde."))
    await converse(hass, "Acuérdate de que mi color favorito es el verde.", lucia)
    ollama_server.replies.extend(remember("Me gusta el fútbol."))
    await converse(hass, "Acuérdate de que me gusta el fútbol.", lucia)
    ollama_server.replies.extend(remember("Los domingos comemos paella.", for_everyone=True))
    await converse(hass, "Acuérdate de que los domingos comemos paella en casa.", pablo)

    client = await hass_ws_client(hass)
    listed = await _listed(client)
    by_text = {memory["text"]: memory for memory in listed["memories"]}
    assert set(by_text) == {
        "Mi color favorito es el verde.",
        "Me gusta el fútbol.",
        "Los domingos comemos paella.",
    }
    green = by_text["Mi color favorito es el verde."]
    assert (green["who"], green["kind"], green["scope"]) == ("Lucía", "user", f"user:{lucia.id}")
    assert green["created"]
    assert by_text["Los domingos comemos paella."]["kind"] == "household"
    assert by_text["Los domingos comemos paella."]["expires"] is None  # every Sunday

    # A parent corrects one: the list follows.
    edited = await _ask(
        client, type="moxie/memory/update", memory_id=green["id"], text="Su color es el azul."
    )
    assert edited["success"], edited
    changed = await _listed(client)
    assert "Su color es el azul." in {memory["text"] for memory in changed["memories"]}
    await converse(hass, "¿Qué color me gusta?", lucia)
    assert "Su color es el azul." in system_prompt(ollama_server.chat_requests[-1])

    # Delete one, then erase all of Lucía's: the household's stays.
    football = by_text["Me gusta el fútbol."]["id"]
    assert (await _ask(client, type="moxie/memory/delete", memory_id=football))["success"]
    cleared = await _ask(client, type="moxie/memory/clear", scope=f"user:{lucia.id}")
    assert cleared["result"] == {"forgotten": 1}
    after = await _listed(client)
    assert [memory["text"] for memory in after["memories"]] == ["Los domingos comemos paella."]
    missing = await _ask(client, type="moxie/memory/delete", memory_id=football)
    assert missing["error"]["code"] == "not_found"


async def test_memories_are_for_administrators(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    moxie_brain.runtime_data.memory.async_add("household", "La gata se llama Misi.", "es")
    client = await hass_ws_client(hass, await _user_token(hass))
    for message in (
        {"type": "moxie/memory/subscribe"},
        {"type": "moxie/memory/update", "memory_id": "x", "text": "y"},
        {"type": "moxie/memory/delete", "memory_id": "x"},
        {"type": "moxie/memory/clear", "scope": "household"},
    ):
        result = await _ask(client, **message)
        assert result["error"]["code"] == "unauthorized", message
        assert "Misi" not in str(result)


async def test_the_forget_action(
    hass: HomeAssistant, moxie_brain: MockConfigEntry, lucia: User, pablo: User
) -> None:
    store = moxie_brain.runtime_data.memory
    one = store.async_add(f"user:{lucia.id}", "Mi perro se llama Toby.", "es")
    store.async_add(f"user:{lucia.id}", "Me gusta el verde.", "es")
    store.async_add(f"user:{pablo.id}", "Tengo un hermano.", "es")
    store.async_add("household", "La gata se llama Misi.", "es")

    async def forget(**data: Any) -> Any:
        return await hass.services.async_call(
            "moxie", "forget", data, blocking=True, return_response=True
        )

    assert await forget(memory_id=one.id) == {"forgotten": 1}
    assert await forget(scope=f"user:{lucia.id}") == {"forgotten": 1}
    with pytest.raises(ServiceValidationError) as raised:
        await forget(memory_id=one.id)
    assert raised.value.translation_key == "memory_not_found"
    with pytest.raises(ServiceValidationError) as raised:
        await forget()
    assert raised.value.translation_key == "forget_what"
    assert await forget(everything=True) == {"forgotten": 2}
    assert store.all() == []


async def test_memories_are_never_in_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    moxie_brain: MockConfigEntry,
    ollama_server: OllamaServer,
    lucia: User,
) -> None:
    ollama_server.replies.extend(remember("Mi perro se llama Toby."))
    await converse(hass, "Acuérdate de que mi perro se llama Toby.", lucia)
    moxie_brain.runtime_data.memory.async_add("household", "La gata se llama Misi.", "es")

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, moxie_brain)
    text = json.dumps(diagnostics, ensure_ascii=False)
    assert "Toby" not in text
    assert "Misi" not in text
    assert lucia.id not in text
    assert diagnostics["memory"] == {
        "enabled": True,
        "retention_days": 365,
        "memories": 2,
        "by_kind": {"user": 1, "household": 1},
        "dated": 0,
    }
