"""moxie-tts as users run it (`python -m wyoming_servers.voice`) with the real joe voice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
import subprocess
import sys

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from tests.moxie.conftest import (  # noqa: F401 (Moxie's brain for the first-clause tests)
    agent_options,
    extra_subentries,
    moxie_brain,
    mqtt_probe,
    mqtt_ready,
    ollama_server,
)
from tests.voice_servers import (
    JOE_VOICE,
    joe_voice_dir,
    outside_free_port,
    stop_process,
    wait_for_log,
)

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120.0  # generous bound for a loaded 2-core machine
# No generator noise: the same text has the same length in every run (durations are compared).
QUIET = ("--noise-scale", "0", "--noise-w-scale", "0")


class MoxieTts:
    """The server process on a loopback port; its log is read by the tests."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, args: Sequence[str] = ()) -> None:
        """Prepare a server with the joe voice."""
        self.port = outside_free_port()
        self.log = workdir / "moxie-tts.log"
        self.argv = [
            sys.executable, "-m", "wyoming_servers.voice", "--uri", self.uri,
            "--data-dir", str(joe_voice_dir()), "--debug", *args,
        ]  # fmt: skip
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Wyoming URI of the server."""
        return f"tcp://{self.host}:{self.port}"

    def log_text(self) -> str:
        """What the server logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start and wait for "Ready" (logged once the voice is loaded and warm)."""
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for_log(self._proc, self.log, "Ready:", WAIT, "moxie-tts")

    def stop(self) -> None:
        """SIGTERM, as a service manager would."""
        proc, self._proc = self._proc, None
        stop_process(proc)

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._proc is not None and self._proc.poll() is None


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
__all__ = ["JOE", "MoxieTts", "connect", "pcm_of", "read_until", "seconds"]
