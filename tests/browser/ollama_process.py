"""The loopback Ollama (tests/ollama_server.py) as a process.

Run: `python -m tests.browser.ollama_process PORT`.

A Home Assistant run as a subprocess reaches it over loopback; answers echo the question. A
question asking Moxie to remember something ("Acuérdate de que ...", "Remember that ...", and
"... para todos ..." / "... for everyone ..." for the household) is answered like a model that
calls Moxie's memory tool: first the tool call, then a short confirmation.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from peers.ollama_server import ChatReply, OllamaServer, ToolCall, default_reply

_REMEMBER = re.compile(
    r"^(?:acuérdate|remember)(?P<everyone> para todos| for everyone)? (?:de )?(?:que|that) "
    r"(?P<text>.+)$",
    re.IGNORECASE,
)


def reply(body: dict[str, Any]) -> ChatReply:
    """Echo, or call memory__remember when asked to remember (then confirm)."""
    messages = body.get("messages", [])
    if messages and messages[-1]["role"] == "tool":
        return ChatReply(content="¡Me acordaré!")
    last = str(messages[-1].get("content", "")) if messages else ""
    if match := _REMEMBER.match(last.strip()):
        text = match["text"][:1].upper() + match["text"][1:]
        arguments: dict[str, Any] = {"text": text}
        if match["everyone"]:
            arguments["for_everyone"] = True
        return ChatReply(tool_calls=[ToolCall("memory__remember", arguments)])
    return default_reply(body)


async def _serve(port: int) -> None:
    server = OllamaServer(models=["qwen3:4b"], port=port)
    server.default_reply = reply
    await server.start()
    print("Ready", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
