"""Moxie's memory for language models: remember, forget and recall tools, and the prompt part.

The tools are Home Assistant LLM tools (`homeassistant.helpers.llm`). Moxie's own agent adds
them to its tools on every question (when its model calls tools) and, tools or not, offers the
few memories that matter to the question in the system prompt. Each Moxie also registers them
as an LLM API ("Moxie memory"), so another agent can be given the same memory.

Every tool works in the scope of whoever is speaking (`memory.scope_of`), never in one the model
names: a child cannot reach another person's private memories, nor forget them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import llm
import probatio as vol

from .const import DOMAIN
from .memory import HOUSEHOLD, NOTICE_ASK, NOTICE_ON, Memory, MemoryStore, scope_of
from .memory_dates import parse_day
from .persona import base_language

if TYPE_CHECKING:
    from .models import MoxieConfigEntry

REMEMBER: Final = "memory__remember"
FORGET: Final = "memory__forget"
RECALL: Final = "memory__recall"
RECALL_LIMIT = 5

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "es": {
        "known": (
            "Esto recuerdas de quien te habla y de su casa; úsalo con naturalidad solo si viene "
            "a cuento, sin recitarlo:"
        ),
        "off": (
            "Si te piden que te acuerdes de algo, guárdalo con memory__remember. "
            "No guardes nada que no te pidan recordar."
        ),
        "ask": (
            "Si te piden que te acuerdes de algo, guárdalo con memory__remember. Si te cuentan "
            "algo que merezca recordarse (su nombre, lo que le gusta, una fecha importante), "
            "pregunta antes si quiere que lo recuerdes y guárdalo solo si dice que sí."
        ),
        "on": (
            "Si te piden que te acuerdes de algo, o te cuentan algo que merezca recordarse "
            "(su nombre, lo que le gusta, una fecha importante), guárdalo con memory__remember "
            "sin preguntar."
        ),
        "tools": (
            "Guarda cada recuerdo como una frase corta, tal como te lo dijeron. Si te piden que "
            "olvides algo, usa memory__forget. Para buscar algo que no está aquí, usa "
            "memory__recall. Nunca hables de lo que recuerdas de otras personas."
        ),
    },
    "en": {
        "known": (
            "This is what you remember about who is talking to you and their home; use it "
            "naturally and only when it fits, without reciting it:"
        ),
        "off": (
            "When asked to remember something, save it with memory__remember. "
            "Save nothing you were not asked to remember."
        ),
        "ask": (
            "When asked to remember something, save it with memory__remember. When told "
            "something worth remembering (their name, what they like, an important date), "
            "first ask whether they want you to remember it, and save it only if they say yes."
        ),
        "on": (
            "When asked to remember something, or told something worth remembering (their "
            "name, what they like, an important date), save it with memory__remember without "
            "asking."
        ),
        "tools": (
            "Save each memory as one short sentence, as it was told. When asked to forget "
            "something, use memory__forget. To look for something not listed here, use "
            "memory__recall. Never talk about what you remember of other people."
        ),
    },
}


def memory_prompt(memories: list[Memory], language: str | None, notice: str | None) -> str:
    """Return the system prompt's memory part: memories offered, and how to use the tools (if any).

    `notice` is None when the model gets no memory tools (it cannot call tools).
    """
    texts = _TEXTS[base_language(language)]
    parts = []
    if memories:
        lines = [f"- [{memory.id}] {memory.text}" for memory in memories]
        parts.append("\n".join([texts["known"], *lines]))
    if notice is not None:
        mode = notice if notice in (NOTICE_ASK, NOTICE_ON) else "off"
        parts.append(f"{texts[mode]} {texts['tools']}")
    return "\n".join(parts)


def _found(memory: Memory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "text": memory.text,
        "shared": memory.scope == HOUSEHOLD,
        "expires": memory.expires,
    }


class _MemoryTool(llm.Tool):
    integration = DOMAIN

    def __init__(self, store: MemoryStore) -> None:
        self.store = store


class RememberTool(_MemoryTool):
    """Save a fact about whoever speaks (or the household)."""

    name = REMEMBER
    description = (
        "Remember a short fact for later conversations, about the person speaking "
        "(or, with for_everyone, about the whole household)."
    )
    parameters = vol.Schema(
        {
            vol.Required("text", description="The fact, one short sentence."): str,
            vol.Optional(
                "for_everyone", description="True when the whole household may know it."
            ): bool,
            vol.Optional("until", description="YYYY-MM-DD: the fact is over after this day."): str,
        }
    )
    annotations = llm.ToolAnnotations(destructive=False, open_world=False)

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        text = str(tool_input.tool_args.get("text", "")).strip()
        if not text:
            return llm.ToolResult({"error": "Nothing to remember"}, error=True)
        scope = HOUSEHOLD if tool_input.tool_args.get("for_everyone") else scope_of(llm_context)
        until = parse_day(str(tool_input.tool_args.get("until", "")))
        memory = self.store.async_add(scope, text, llm_context.language or "", until)
        return llm.ToolResult({"remembered": _found(memory)})


class ForgetTool(_MemoryTool):
    """Forget one of the speaker's memories (or a household one), by id or by what it says."""

    name = FORGET
    description = (
        "Forget a memory of the person speaking or of the household: give its id, or what it "
        "was about."
    )
    parameters = vol.Schema(
        {
            vol.Optional("memory_id", description="The id shown in brackets."): str,
            vol.Optional("about", description="What the memory to forget is about."): str,
        }
    )
    annotations = llm.ToolAnnotations(destructive=True, open_world=False)

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        scope = scope_of(llm_context)
        args = tool_input.tool_args
        memory_id = str(args.get("memory_id", "")).strip("[] ")
        if not memory_id and (about := str(args.get("about", "")).strip()):
            best = self.store.search(scope, about, 1)
            memory_id = best[0].id if best else ""
        memory = self.store.memories.get(memory_id)
        if memory is None or not self.store.async_delete(memory_id, (scope, HOUSEHOLD)):
            return llm.ToolResult({"error": "No such memory"}, error=True)
        return llm.ToolResult({"forgotten": _found(memory)})


class RecallTool(_MemoryTool):
    """Look through the speaker's memories (and the household's)."""

    name = RECALL
    description = "Look for what you remember about the person speaking or the household."
    parameters = vol.Schema(
        {vol.Required("query", description="What to look for, in a few words."): str}
    )
    annotations = llm.ToolAnnotations(read_only=True, destructive=False, open_world=False)

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        found = self.store.search(
            scope_of(llm_context), str(tool_input.tool_args.get("query", "")), RECALL_LIMIT
        )
        self.store.async_mark_used(found)
        return llm.ToolResult({"memories": [_found(memory) for memory in found]})


def memory_tools(store: MemoryStore) -> list[llm.Tool]:
    """Return the memory tools of a Moxie."""
    return [RememberTool(store), ForgetTool(store), RecallTool(store)]


@dataclass(slots=True, kw_only=True)
class MemoryAPI(llm.API):
    """A Moxie's memory as an LLM API, for any agent that calls tools."""

    store: MemoryStore
    notice: str = NOTICE_ASK

    @override
    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        """Tools in the speaker's scope, and how to use them."""
        return llm.APIInstance(
            api=self,
            api_prompt=memory_prompt([], llm_context.language, self.notice),
            llm_context=llm_context,
            tools=memory_tools(self.store),
        )


def memory_api_id(entry_id: str) -> str:
    """Return the id of a Moxie's memory API."""
    return f"{DOMAIN}_memory_{entry_id}"


@callback
def async_register_memory_api(hass: HomeAssistant, entry: MoxieConfigEntry) -> CALLBACK_TYPE:
    """Offer a Moxie's memory to every agent as the LLM API "<Moxie> memory"; return undo."""
    store = entry.runtime_data.memory
    assert store is not None
    api = MemoryAPI(
        hass=hass, id=memory_api_id(entry.entry_id), name=f"{entry.title} memory", store=store
    )
    return llm.async_register_api(hass, api)
