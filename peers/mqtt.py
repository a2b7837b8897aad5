"""A real MQTT client that records what a protocol peer of Moxie observes on the broker."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import json
from typing import Any

import aiomqtt


@dataclass(frozen=True)
class Received:
    """One message as the broker delivered it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int

    @property
    def text(self) -> str:
        """The payload as UTF-8 text."""
        return self.payload.decode()

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


class MqttProbe:
    """Subscribes to topics on the real broker and keeps every message it receives."""

    def __init__(self, host: str, port: int) -> None:
        """Prepare a client of the broker at host:port."""
        self._client = aiomqtt.Client(host, port, identifier=None)
        self.messages: dict[str, list[Received]] = defaultdict(list)
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, *topics: str) -> None:
        """Connect, subscribe to topics (QoS 1) and start recording."""
        await self._client.__aenter__()
        for topic in topics:
            await self._client.subscribe(topic, qos=1)
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, topic: str) -> None:
        """Subscribe to one more topic (QoS 1)."""
        await self._client.subscribe(topic, qos=1)

    async def stop(self) -> None:
        """Stop recording and disconnect."""
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
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

    async def wait_for(
        self,
        topic: str,
        count: int = 1,
        *,
        where: Callable[[Received], bool] = lambda _: True,
        timeout: float = 10.0,
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
