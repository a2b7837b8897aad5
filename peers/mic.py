"""A Wyoming microphone for tests and benchmarks: what wyoming-mic-external serves, fed from WAVs.

Like wyoming-mic-external, every client that connects gets `audio-start` and then an endless
stream of `audio-chunk` events in real time (1024 samples each); `describe` is answered with
the mic's info. What the "microphone hears" is queued with `play(pcm)`: those samples are
streamed next, silence otherwise. The server runs in the test's event loop; `stop()` and
`start()` keep the port, so a test can take the microphone away and bring it back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from functools import partial
import time

from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event
from wyoming.info import Attribution, AudioFormat, Describe, Info, MicProgram
from wyoming.server import AsyncEventHandler, AsyncTcpServer

SAMPLES_PER_CHUNK = 1024  # wyoming-mic-external's default


@dataclass
class Sound:
    """Audio queued for the microphone, and when it was streamed (monotonic seconds)."""

    pcm: bytes
    started_at: float | None = None
    ended_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class WyomingMic:
    """The microphone server: a loopback port, a format, and the sounds it will hear."""

    def __init__(self, port: int, *, rate: int = 16000, width: int = 2, channels: int = 1) -> None:
        """Prepare a mic streaming rate/width/channels PCM on 127.0.0.1:port."""
        self.host = "127.0.0.1"
        self.port = port
        self.rate, self.width, self.channels = rate, width, channels
        self.sounds: deque[Sound] = deque()
        self.connections = 0
        self._server: AsyncTcpServer | None = None

    @property
    def chunk_bytes(self) -> int:
        """Bytes in one chunk."""
        return SAMPLES_PER_CHUNK * self.width * self.channels

    @property
    def chunk_seconds(self) -> float:
        """Duration of one chunk."""
        return SAMPLES_PER_CHUNK / self.rate

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return 0 if self._server is None else len(self._server._handlers)

    def info(self) -> Info:
        """What `describe` answers."""
        return Info(
            mic=[
                MicProgram(
                    name="moxie-test-mic",
                    description="WAV files played as a microphone",
                    attribution=Attribution(name="Moxie tests", url=""),
                    installed=True,
                    version="1.0",
                    mic_format=AudioFormat(
                        rate=self.rate, width=self.width, channels=self.channels
                    ),
                )
            ]
        )

    def play(self, pcm: bytes) -> Sound:
        """Queue pcm (in the mic's format) to be heard next; wait on `sound.done` if needed."""
        sound = Sound(pcm)
        self.sounds.append(sound)
        return sound

    def next_chunk(self) -> bytes:
        """The next chunk: queued sound, padded with silence, or silence."""
        chunk = b""
        now = time.monotonic()
        while self.sounds and len(chunk) < self.chunk_bytes:
            sound = self.sounds[0]
            if sound.started_at is None:
                sound.started_at = now
            take = self.chunk_bytes - len(chunk)
            chunk += sound.pcm[:take]
            sound.pcm = sound.pcm[take:]
            if not sound.pcm:
                self.sounds.popleft()
                sound.ended_at = now + len(chunk) / (self.width * self.channels * self.rate)
                sound.done.set()
        return chunk + bytes(self.chunk_bytes - len(chunk))

    async def start(self) -> None:
        """Listen (on the same port after a stop)."""
        self._server = AsyncTcpServer(self.host, self.port)
        await self._server.start(partial(_MicHandler, self))

    async def stop(self) -> None:
        """Hang up on every client and stop listening (the microphone is gone)."""
        server, self._server = self._server, None
        await stop_server(server)


async def stop_server(server: AsyncTcpServer | None) -> None:
    """Hang up on every client of a test Wyoming server and stop listening."""
    if server is None:
        return
    tasks = list(server._handlers)
    await server.stop()
    if server._server is not None:
        await server._server.wait_closed()
    await asyncio.gather(*tasks, return_exceptions=True)


class _MicHandler(AsyncEventHandler):
    """One client: answers describe, streams the microphone from the moment it connects."""

    def __init__(self, mic: WyomingMic, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.mic = mic
        mic.connections += 1
        self._stream = asyncio.create_task(self._run_mic(), name="test mic stream")

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.mic.info().event())
        return True

    async def disconnect(self) -> None:
        self._stream.cancel()
        await asyncio.gather(self._stream, return_exceptions=True)

    async def _run_mic(self) -> None:
        mic = self.mic
        fmt = {"rate": mic.rate, "width": mic.width, "channels": mic.channels}
        try:
            await self.write_event(AudioStart(**fmt).event())
            started = time.monotonic()
            sent = 0
            while True:
                await self.write_event(AudioChunk(audio=mic.next_chunk(), **fmt).event())
                sent += 1
                await asyncio.sleep(max(0.0, started + sent * mic.chunk_seconds - time.monotonic()))
        except ConnectionError:
            return
