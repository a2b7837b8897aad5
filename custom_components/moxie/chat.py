"""Between Home Assistant's ChatLog and Ollama's chat API: messages, tools, stream and history."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
import json
import logging
from typing import Any

from homeassistant.components import conversation
from homeassistant.const import CONF_MODEL
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.helpers.json import json_dumps
import ollama
import probatio

from .brain import OLLAMA_ERRORS, Brain, as_brain_error
from .const import (
    CONF_KEEP_ALIVE,
    CONF_MAX_HISTORY,
    CONF_NUM_CTX,
    CONF_THINK,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_HISTORY,
    DEFAULT_NUM_CTX,
    DEFAULT_THINK,
    DOMAIN,
    MAX_TOOL_ITERATIONS,
)

_LOGGER = logging.getLogger(__name__)

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


def format_tool(tool: llm.Tool, custom_serializer: Callable[[Any], Any] | None) -> dict[str, Any]:
    """Describe a Home Assistant LLM tool the way Ollama expects it."""
    spec: dict[str, Any] = {
        "name": tool.name,
        "parameters": probatio.to_openapi(
            tool.parameters, custom_serializer=custom_serializer, openapi_version="3.1.0"
        ),
    }
    if tool.description:
        spec["description"] = tool.description
    return {"type": "function", "function": spec}


def to_message(content: conversation.Content) -> ollama.Message:
    """Convert one ChatLog entry to an Ollama chat message."""
    if isinstance(content, conversation.ToolResultContent):
        return ollama.Message(
            role="tool",
            tool_name=content.tool_name,
            content=json_dumps({"data": content.result.data, "error": content.result.error}),
        )
    if isinstance(content, conversation.AssistantContent):
        return ollama.Message(
            role="assistant",
            content=content.content,
            thinking=content.thinking_content,
            tool_calls=[
                ollama.Message.ToolCall(
                    function=ollama.Message.ToolCall.Function(
                        name=call.tool_name, arguments=call.tool_args
                    )
                )
                for call in content.tool_calls or ()
            ]
            or None,
        )
    if isinstance(content, conversation.UserContent):
        images: list[ollama.Image] = []
        for attachment in content.attachments or ():
            if not attachment.mime_type.startswith("image/"):
                raise HomeAssistantError(
                    translation_domain=DOMAIN, translation_key="unsupported_attachment"
                )
            images.append(ollama.Image(value=attachment.path))
        return ollama.Message(role="user", content=content.content, images=images or None)
    return ollama.Message(role="system", content=content.content)


def trim_history(messages: list[ollama.Message], max_history: int) -> list[ollama.Message]:
    """Keep the system prompt, at most max_history earlier messages, and the current turn.

    The kept history starts at a user message, so a tool call is never separated from its
    result. The current turn (the last user message and what followed it) is always kept.
    `max_history` < 1 keeps everything.
    """
    if max_history < 1 or not messages or messages[0].role != "system":
        return messages
    system, rest = messages[0], messages[1:]
    users = [index for index, message in enumerate(rest) if message.role == "user"]
    if not users:
        return messages
    previous, turn = rest[: users[-1]], rest[users[-1] :]
    kept = previous[-max_history:]
    while kept and kept[0].role != "user":
        kept = kept[1:]
    return [system, *kept, *turn]


def _fix_argument(value: Any) -> Any:
    """Small models sometimes send a JSON list or object as a string: decode it."""
    if isinstance(value, str) and value[:1] + value[-1:] in ("[]", "{}"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_tool_args(arguments: Any) -> dict[str, Any]:
    """Clean a tool call's arguments: decode stringified JSON, drop empty values."""
    if not isinstance(arguments, dict):
        return {}
    return {k: _fix_argument(v) for k, v in arguments.items() if v is not None and v != ""}


class ThinkTagFilter:
    """Move `<think>...</think>` that some models write inside the content over to thinking."""

    def __init__(self) -> None:
        """Start outside a think block."""
        self.inside = False
        self._pending = ""

    def feed(self, text: str) -> tuple[str, str]:
        """Return (content, thinking) found in text; a tag split across calls is held back."""
        text = self._pending + text
        self._pending = ""
        content: list[str] = []
        thinking: list[str] = []
        while text:
            tag = _THINK_CLOSE if self.inside else _THINK_OPEN
            target = thinking if self.inside else content
            index = text.find(tag)
            if index == -1:
                keep = next((n for n in range(len(tag) - 1, 0, -1) if text.endswith(tag[:n])), 0)
                target.append(text[: len(text) - keep])
                self._pending = text[len(text) - keep :]
                break
            target.append(text[:index])
            text = text[index + len(tag) :]
            self.inside = not self.inside
        return "".join(content), "".join(thinking)

    def flush(self) -> tuple[str, str]:
        """Return what was held back at the end of the stream."""
        pending, self._pending = self._pending, ""
        return ("", pending) if self.inside else (pending, "")


async def transform_stream(
    stream: AsyncIterator[ollama.ChatResponse],
    on_content: Callable[[str], None],
) -> AsyncGenerator[conversation.AssistantContentDeltaDict]:
    """Turn Ollama's streamed chunks into ChatLog deltas (one assistant message).

    Thinking (the `thinking` field or `<think>` tags in the content) goes to `thinking_content`
    only; every content piece is also handed to `on_content` (the speech mirror) as it arrives.
    """
    think_filter = ThinkTagFilter()
    yield {"role": "assistant"}
    async for response in stream:
        message = response.message
        delta: conversation.AssistantContentDeltaDict = {}
        content, thinking = think_filter.feed(message.content or "")
        if response.done:
            tail_content, tail_thinking = think_filter.flush()
            content += tail_content
            thinking += tail_thinking
        if message.thinking:
            thinking = message.thinking + thinking
        if thinking:
            delta["thinking_content"] = thinking
        if content:
            delta["content"] = content
            on_content(content)
        if message.tool_calls:
            delta["tool_calls"] = [
                llm.ToolInput(
                    tool_name=call.function.name,
                    tool_args=parse_tool_args(call.function.arguments),
                )
                for call in message.tool_calls
            ]
        if response.done:
            _LOGGER.debug(
                "Ollama done (%s): %s prompt tokens, %s answer tokens",
                response.done_reason,
                response.prompt_eval_count,
                response.eval_count,
            )
        if delta:
            yield delta


def keep_alive(seconds: int) -> int | str:
    """Ollama's keep_alive: -1 (forever) as a number, other values as a duration string."""
    return seconds if seconds < 0 else f"{seconds}s"


async def async_stream_answer(
    brain: Brain,
    options: Mapping[str, Any],
    chat_log: conversation.ChatLog,
    agent_id: str,
    on_content: Callable[[str], None],
    *,
    structure: probatio.Schema | None = None,
    memory_prompt: str | None = None,
) -> bool:
    """Stream the model's answer into the chat log, running tools in a bounded loop.

    `options` are the agent's (model, max_history, keep_alive, num_ctx, think); `structure`
    asks Ollama for JSON following that schema; `memory_prompt` is added to the system prompt of
    this turn only (the chat log keeps none of it). Returns False when the model still called tools
    after MAX_TOOL_ITERATIONS rounds; raises BrainError when Ollama fails.
    """
    model: str = options[CONF_MODEL]
    custom_serializer = chat_log.llm_api.custom_serializer if chat_log.llm_api else None
    tools = (
        [format_tool(tool, custom_serializer) for tool in chat_log.llm_api.tools]
        if chat_log.llm_api
        else None
    )
    output_format = (
        probatio.to_openapi(
            structure,
            custom_serializer=custom_serializer or llm.selector_serializer,
            openapi_version="3.1.0",
        )
        if structure
        else None
    )
    messages = trim_history(
        [to_message(content) for content in chat_log.content],
        int(options.get(CONF_MAX_HISTORY, DEFAULT_MAX_HISTORY)),
    )
    if memory_prompt and messages and messages[0].role == "system":
        system = f"{messages[0].content or ''}\n{memory_prompt}"
        messages[0] = ollama.Message(role="system", content=system)
    for _round in range(MAX_TOOL_ITERATIONS):
        try:
            stream = await brain.client.chat(
                model=model,
                messages=list(messages),
                tools=tools,
                stream=True,
                keep_alive=keep_alive(int(options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE))),
                options={"num_ctx": int(options.get(CONF_NUM_CTX, DEFAULT_NUM_CTX))},
                think=bool(options.get(CONF_THINK, DEFAULT_THINK)),
                format=output_format,
            )
            messages.extend(
                [
                    to_message(content)
                    async for content in chat_log.async_add_delta_content_stream(
                        agent_id, transform_stream(stream, on_content)
                    )
                ]
            )
        except OLLAMA_ERRORS as err:
            raise as_brain_error(err, model) from err
        if not chat_log.unresponded_tool_results:
            return True
    _LOGGER.warning("The model still called tools after %s rounds", MAX_TOOL_ITERATIONS)
    return False
