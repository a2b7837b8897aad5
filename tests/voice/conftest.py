"""moxie-tts as users run it (peers.moxie_tts) with the real joe voice, and a client for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from peers.moxie_tts import MoxieTts
from peers.voices import JOE_VOICE
from tests.moxie.conftest import (  # noqa: F401 (Moxie's brain for the first-clause tests)
    agent_options,
    extra_subentries,
    moxie_brain,
    mqtt_probe,
    mqtt_ready,
    ollama_server,
)

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0  # generous bound for a loaded 2-core machine
# No generator noise: the same text has the same length in every run (durations are compared).
QUIET = ("--noise-scale", "0", "--noise-w-scale", "0")


@pytest.fixture(scope="session")
def moxie_tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoxieTts]:
    """One moxie-tts with the real joe voice, shared by the tests that do not break it."""
    server = MoxieTts(tmp_path_factory.mktemp("moxie_tts"), QUIET)
    server.start()
    yield server
    server.stop()


async def connect(server: MoxieTts) -> AsyncTcpClient:
    """A connected Wyoming client (the port opens right after "Ready")."""
    async with asyncio.timeout(WAIT):
        while True:
            client = AsyncTcpClient(server.host, server.port)
            try:
                await client.connect()
            except OSError:
                await asyncio.sleep(0.1)
            else:
                return client


async def read_until(client: AsyncTcpClient, last: str) -> list[Event]:
    """Every event up to and including the first of type `last`."""
    events: list[Event] = []
    async with asyncio.timeout(WAIT):
        while True:
            event = await client.read_event()
            assert event is not None, f"server hung up before {last}: {events[-3:]}"
            events.append(event)
            if event.type == last:
                return events


def pcm_of(events: list[Event]) -> bytes:
    """The audio in a list of events."""
    return b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")


def seconds(pcm: bytes, rate: int = 22050) -> float:
    """Duration of 16-bit mono PCM."""
    return len(pcm) / 2 / rate


JOE = JOE_VOICE
__all__ = ["JOE", "connect", "pcm_of", "read_until", "seconds"]
