"""The loopback Ollama (tests/ollama_server.py) as a process.

Run: `python -m tests.browser.ollama_process PORT`.

A Home Assistant run as a subprocess reaches it over loopback; answers echo the question.
"""

from __future__ import annotations

import asyncio
import sys

from peers.ollama_server import OllamaServer


async def _serve(port: int) -> None:
    server = OllamaServer(models=["qwen3:4b"], port=port)
    await server.start()
    print("Ready", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
