"""The microphone next to Moxie: a Wyoming mic server (wyoming-mic-external) read as a client.

A Wyoming mic service streams `audio-start` then `audio-chunk` events to every client that
connects, for as long as the connection lasts. Moxie's satellite keeps one connection open,
converts the audio to what Assist wants (16 kHz, 16-bit, mono) and reconnects by itself when the
microphone goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging

from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart
from wyoming.client import AsyncTcpClient

_LOGGER = logging.getLogger(__name__)

# What Assist's speech-to-text takes (homeassistant/components/assist_pipeline/const.py).
RATE, WIDTH, CHANNELS = 16000, 2, 1
# Seconds between connection attempts while the microphone is unreachable (doubling up to MAX).
RETRY_MIN = 0.5
RETRY_MAX = 10.0
# A microphone that sends nothing for this long is taken as gone.
SILENCE_TIMEOUT = 5.0

type AudioListener = Callable[[bytes], None]
type StateListener = Callable[[bool], None]


class WyomingMic:
    """Reads a Wyoming mic server; calls on_audio with 16 kHz PCM and on_state on (dis)connect."""

    def __init__(
        self,
        host: str,
        port: int,
        on_audio: AudioListener,
        on_state: StateListener,
        *,
        name: str,
    ) -> None:
        """Prepare; `run` connects (and reconnects) until cancelled."""
        self.host = host
        self.port = port
        self.name = name
        self.connected = False
        self._on_audio = on_audio
        self._on_state = on_state
        self._warned = False

    @property
    def address(self) -> str:
        """host:port of the microphone."""
        return f"{self.host}:{self.port}"

    async def run(self) -> None:
        """Stream the microphone forever; a lost or refused connection is retried."""
        delay = RETRY_MIN
        while True:
            try:
                await self._stream()
            except (OSError, TimeoutError, ValueError) as err:
                self._lost(str(err) or type(err).__name__)
            else:
                self._lost("the microphone hung up")
            await asyncio.sleep(delay)
            delay = RETRY_MIN if self.connected else min(delay * 2, RETRY_MAX)

    async def _stream(self) -> None:
        client = AsyncTcpClient(self.host, self.port)
        async with asyncio.timeout(SILENCE_TIMEOUT):
            await client.connect()
        converter = AudioChunkConverter(rate=RATE, width=WIDTH, channels=CHANNELS)
        try:
            while True:
                async with asyncio.timeout(SILENCE_TIMEOUT):
                    event = await client.read_event()
                if event is None:
                    return
                if AudioStart.is_type(event.type):
                    converter = AudioChunkConverter(rate=RATE, width=WIDTH, channels=CHANNELS)
                    self._found()
                elif AudioChunk.is_type(event.type):
                    self._found()
                    self._on_audio(converter.convert(AudioChunk.from_event(event)).audio)
        finally:
            await client.disconnect()

    def _found(self) -> None:
        if self.connected:
            return
        self.connected = True
        if self._warned:
            _LOGGER.info("The microphone of %s at %s is back", self.name, self.address)
        self._warned = False
        self._on_state(True)

    def _lost(self, reason: str) -> None:
        was_connected, self.connected = self.connected, False
        if not self._warned:
            _LOGGER.warning(
                "The microphone of %s at %s is unreachable (%s); retrying",
                self.name,
                self.address,
                reason,
            )
            self._warned = True
        if was_connected:
            self._on_state(False)
