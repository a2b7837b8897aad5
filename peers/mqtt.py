"""A real MQTT client that records what a protocol peer of Moxie observes on the broker.

The one MQTT client of the tests and benchmarks: it publishes as a peer would, and keeps every
message it receives, by topic, with the moment it arrived.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
import ssl
import time
from typing import Any, Self

import aiomqtt

WAIT = 60.0  # generous bound for a loaded 2-core machine


@dataclass(frozen=True)
class Received:
    """One message as the broker delivered it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float = field(default_factory=time.monotonic, compare=False)  # when it arrived

    @property
    def text(self) -> str:
        """The payload as UTF-8 text."""
        return self.payload.decode()

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


class MqttProbe:
    """Subscribes to topics on the real broker and keeps every message it receives.

    Either `await start(...)` / `await stop()`, or `async with MqttProbe(...)`: connected and
    subscribed to the topics given here (and to start's) until stopped.
    """

    def __init__(
        self, host: str, port: int, *topics: str, tls_context: ssl.SSLContext | None = None
    ) -> None:
        """Prepare a client of the broker at host:port that will subscribe to topics."""
        self._client = aiomqtt.Client(host, port, identifier=None, tls_context=tls_context)
        self._topics = topics
        self.messages: dict[str, list[Received]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        """Connect, subscribe and start recording."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop recording and disconnect."""
        await self.stop()

    async def start(self, *topics: str) -> None:
        """Connect, subscribe to the topics (QoS 1) and start recording."""
        await self._client.__aenter__()
        for topic in (*self._topics, *topics):
            await self._client.subscribe(topic, qos=1)
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, topic: str) -> None:
        """Subscribe to one more topic (QoS 1)."""
        await self._client.subscribe(topic, qos=1)

    async def stop(self) -> None:
        """Stop recording and disconnect (also after the broker went away)."""
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self._client.messages:
            payload = message.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, (bytes, bytearray)):
                payload = str(payload).encode()
            received = Received(str(message.topic), bytes(payload), message.retain, message.qos)
            async with self._changed:
                self.messages[received.topic].append(received)
                self._changed.notify_all()

    async def publish(
        self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish payload on topic."""
        await self._client.publish(topic, payload, qos=qos, retain=retain)

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received on topic so far, in order."""
        return [message.payload for message in self.messages[topic]]

    async def wait_for(
        self,
        topic: str,
        count: int = 1,
        *,
        where: Callable[[Received], bool] = lambda _: True,
        timeout: float = WAIT,
    ) -> list[Received]:
        """Wait until `count` messages matching `where` arrived on topic; return them."""

        def matching() -> list[Received]:
            return [m for m in self.messages[topic] if where(m)]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    def clear(self, topic: str | None = None) -> None:
        """Forget the messages received on topic (on every topic without one)."""
        if topic is None:
            self.messages.clear()
        else:
            self.messages.pop(topic, None)
