"""A loopback HTTP server that speaks Ollama's wire protocol, for tests and benchmarks.

It answers the endpoints Home Assistant and the `ollama` client use, the way Ollama does:

- `GET /api/tags`: the installed models.
- `POST /api/show`: a model's details and capabilities (404 when it is not installed).
- `POST /api/pull`: NDJSON progress lines (`status`, `digest`, `total`, `completed`), ending in
  `{"status": "success"}`; with `"stream": false`, only the final line. Unknown models fail as
  Ollama does (an `error` line when streaming, HTTP 500 otherwise).
- `POST /api/chat`: NDJSON chunks with `message.content`, `message.thinking`,
  `message.tool_calls`, and a last chunk with `done`, `done_reason` and the eval counters
  (404 `model "x" not found, try pulling it first` when the model is not installed).

Replies are scripted per request (`server.replies.append(ChatReply(...))`, or a callable that
receives the request body), tokens are paced by `token_interval`, a bearer key can be required
(401 otherwise), every request body is recorded, and `stop()` / `start()` keep the same port so a
test can take "Ollama" down and bring it back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import json
import re
import time
from typing import Any

from aiohttp import web

_TOKEN = re.compile(r"\s*\S+|\s+$")


def tokenize(text: str) -> list[str]:
    """Split text into word-sized tokens that join back into the exact text."""
    return _TOKEN.findall(text) or ([text] if text else [])


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ToolCall:
    """A tool call the model makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def as_wire(self) -> dict[str, Any]:
        """Return the call as Ollama sends it."""
        return {"function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class ChatReply:
    """One scripted answer to `/api/chat`.

    `thinking` is streamed first, then `content` token by token (a string is tokenized; a list
    is sent as given), then the tool calls in one chunk, then the final `done` chunk.
    `error` with `status` answers with an HTTP error instead; `error` with status 200 streams an
    `{"error": ...}` line after `error_after` content tokens (a model that fails mid-answer).
    """

    content: str | Sequence[str] = ""
    thinking: str | Sequence[str] = ""
    tool_calls: Sequence[ToolCall] = ()
    done_reason: str = "stop"
    error: str | None = None
    status: int = 200
    error_after: int = 0

    def content_tokens(self) -> list[str]:
        """Return the content as the tokens to stream."""
        return tokenize(self.content) if isinstance(self.content, str) else list(self.content)

    def thinking_tokens(self) -> list[str]:
        """Return the thinking as the tokens to stream."""
        return tokenize(self.thinking) if isinstance(self.thinking, str) else list(self.thinking)


type ReplySource = ChatReply | Callable[[dict[str, Any]], ChatReply]


@dataclass
class Model:
    """An installed (or pullable) model."""

    name: str
    family: str = "qwen3"
    parameter_size: str = "4.0B"
    size: int = 2_500_000_000
    capabilities: tuple[str, ...] = ("completion", "tools", "thinking")

    @property
    def digest(self) -> str:
        """A stable fake sha256 digest."""
        return hashlib.sha256(self.name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        """Return the model's `details` object."""
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": "Q4_K_M",
        }

    def as_tag(self) -> dict[str, Any]:
        """Return the model as `/api/tags` lists it."""
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": "2026-10-01T10:00:00.000000000Z",
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }


def default_reply(body: dict[str, Any]) -> ChatReply:
    """Answer with an echo of the last user message (used when no reply is scripted)."""
    last_user = next(
        (m.get("content", "") for m in reversed(body.get("messages", [])) if m["role"] == "user"),
        "",
    )
    return ChatReply(content=f"Eco: {last_user}")


@dataclass
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float


class OllamaServer:
    """The loopback Ollama. Use `await start()` / `await stop()`; the port survives restarts."""

    def __init__(
        self,
        *,
        models: Sequence[str] = ("qwen3:4b",),
        pullable: Sequence[str] | None = None,
        api_key: str | None = None,
        token_interval: float = 0.0,
        pull_steps: int = 4,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Prepare the server; `pullable=None` means any model name can be pulled."""
        self.host = host
        self.port = port
        self.models: dict[str, Model] = {name: Model(name) for name in models}
        self.pullable = None if pullable is None else set(pullable)
        self.api_key = api_key
        self.token_interval = token_interval
        self.pull_steps = pull_steps
        self.pull_interval = 0.0
        # While set, every request waits for this event first (a hung Ollama, for timeouts).
        self.stall: asyncio.Event | None = None
        self.replies: deque[ReplySource] = deque()
        self.default_reply: Callable[[dict[str, Any]], ChatReply] = default_reply
        self.requests: list[RecordedRequest] = []
        # Monotonic time each chat's first content token was written (for benchmarks).
        self.first_token_at: list[float] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL (http://127.0.0.1:PORT)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of every `/api/chat` request, in order."""
        return [r.body for r in self.requests if r.path == "/api/chat"]

    async def start(self) -> None:
        """Listen on the loopback port (the same one after a stop)."""
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/version", self._version)
        app.router.add_post("/api/show", self._show)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_post("/api/chat", self._chat)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server
            assert isinstance(server, asyncio.Server)
            self.port = int(server.sockets[0].getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and drop open connections (Ollama went away)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- handlers -------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw:
                body = json.loads(raw)
        self.requests.append(
            RecordedRequest(
                request.method, request.path, body, dict(request.headers), time.monotonic()
            )
        )
        if self.stall is not None:
            await self.stall.wait()
        return body

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return web.json_response({"error": "unauthorized"}, status=401)

    async def _root(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"version": "0.12.6"})

    async def _tags(self, request: web.Request) -> web.Response:
        await self._record(request)
        if denied := self._unauthorized(request):
            return denied
        return web.json_response({"models": [m.as_tag() for m in self.models.values()]})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if denied := self._unauthorized(request):
            return denied
        name = body.get("model") or body.get("name") or ""
        if (model := self.models.get(name)) is None:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        return web.json_response(
            {
                "license": "Apache License 2.0",
                "modelfile": f"FROM {model.name}\n",
                "parameters": "temperature 0.7",
                "template": "{{ .Prompt }}",
                "details": model.details(),
                "model_info": {
                    "general.architecture": model.family,
                    f"{model.family}.context_length": 40960,
                },
                "capabilities": list(model.capabilities),
                "modified_at": "2026-10-01T10:00:00.000000000Z",
            }
        )

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if denied := self._unauthorized(request):
            return denied
        name = body.get("model") or body.get("name") or ""
        known = self.pullable is None or name in self.pullable
        stream = body.get("stream", True)
        if not stream:
            if not known:
                return web.json_response(
                    {"error": "pull model manifest: file does not exist"}, status=500
                )
            self._install(name)
            return web.json_response({"status": "success"})
        response = await self._ndjson(request)
        await self._line(response, {"status": "pulling manifest"})
        if not known:
            await self._line(response, {"error": "pull model manifest: file does not exist"})
            return response
        digest = f"sha256:{Model(name).digest}"
        total = 1_000_000
        for step in range(self.pull_steps + 1):
            await self._line(
                response,
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": total * step // max(self.pull_steps, 1),
                },
            )
            if self.pull_interval:
                await asyncio.sleep(self.pull_interval)
        for status in ("verifying sha256 digest", "writing manifest"):
            await self._line(response, {"status": status})
        self._install(name)
        await self._line(response, {"status": "success"})
        return response

    def _install(self, name: str) -> None:
        self.models.setdefault(name, Model(name))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if denied := self._unauthorized(request):
            return denied
        name = body.get("model", "")
        if name not in self.models:
            return web.json_response(
                {"error": f'model "{name}" not found, try pulling it first'}, status=404
            )
        source = self.replies.popleft() if self.replies else self.default_reply
        reply = source if isinstance(source, ChatReply) else source(body)
        if reply.error is not None and reply.status != 200:
            return web.json_response({"error": reply.error}, status=reply.status)
        if not body.get("stream", True):
            return web.json_response(self._whole(name, reply))
        response = await self._ndjson(request)
        sent = 0
        for token in reply.thinking_tokens():
            await self._chunk(response, name, {"content": "", "thinking": token})
            sent += 1
        for index, token in enumerate(reply.content_tokens()):
            if reply.error is not None and index == reply.error_after:
                await self._line(response, {"error": reply.error})
                return response
            if index == 0:
                self.first_token_at.append(time.monotonic())
            await self._chunk(response, name, {"content": token})
            sent += 1
        if reply.error is not None:
            await self._line(response, {"error": reply.error})
            return response
        if reply.tool_calls:
            await self._chunk(
                response,
                name,
                {"content": "", "tool_calls": [call.as_wire() for call in reply.tool_calls]},
            )
            sent += 1
        await self._line(
            response,
            {
                "model": name,
                "created_at": _now(),
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": reply.done_reason,
                "total_duration": 1_000_000 * (sent + 1),
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(
                    len(str(m.get("content", ""))) // 4 for m in body.get("messages", [])
                ),
                "prompt_eval_duration": 1_000_000,
                "eval_count": sent,
                "eval_duration": 1_000_000 * sent,
            },
        )
        return response

    def _whole(self, name: str, reply: ChatReply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.content_tokens())}
        if thinking := "".join(reply.thinking_tokens()):
            message["thinking"] = thinking
        if reply.tool_calls:
            message["tool_calls"] = [call.as_wire() for call in reply.tool_calls]
        return {
            "model": name,
            "created_at": _now(),
            "message": message,
            "done": True,
            "done_reason": reply.done_reason,
            "eval_count": len(reply.content_tokens()),
        }

    async def _ndjson(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        return response

    async def _chunk(
        self, response: web.StreamResponse, name: str, message: dict[str, Any]
    ) -> None:
        await self._line(
            response,
            {
                "model": name,
                "created_at": _now(),
                "message": {"role": "assistant", **message},
                "done": False,
            },
        )
        if self.token_interval:
            await asyncio.sleep(self.token_interval)

    async def _line(self, response: web.StreamResponse, data: dict[str, Any]) -> None:
        await response.write(json.dumps(data, ensure_ascii=False).encode() + b"\n")
