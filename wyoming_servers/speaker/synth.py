"""Speech synthesis through any Wyoming TTS server (streaming when the server offers it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
import contextlib
import logging
import time

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from wyoming_servers.speech_core import join_chunks

from .sinks import AudioFormat

_LOGGER = logging.getLogger(__name__)

INFO_TTL = 30.0


class SynthError(Exception):
    """The TTS server is unreachable or failed to synthesize."""


class WyomingSynth:
    """Client of one Wyoming TTS server."""

    def __init__(
        self,
        uri: str,
        *,
        voice: str | None = None,
        speaker: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        """Talk to the server at uri (tcp://host:port or unix://path)."""
        self.uri = uri
        self.voice = voice
        self.speaker = speaker
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._info: Info | None = None
        self._info_time = 0.0
        self.streaming: bool | None = None

    def _client(self) -> AsyncClient:
        return AsyncClient.from_uri(
            self.uri, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout
        )

    async def describe(self) -> Info:
        """Return the server's info (cached for INFO_TTL seconds)."""
        if self._info is not None and time.monotonic() - self._info_time < INFO_TTL:
            return self._info
        try:
            async with self._client() as client:
                await client.write_event(Describe().event())
                while True:
                    event = await _read(client)
                    if Info.is_type(event.type):
                        self._info = Info.from_event(event)
                        self._info_time = time.monotonic()
                        return self._info
        except (OSError, TimeoutError) as err:
            raise SynthError(f"TTS server {self.uri} unreachable: {err}") from err

    async def supports_streaming(self) -> bool:
        """Whether the server announces synthesize-start/-chunk/-stop."""
        info = await self.describe()
        self.streaming = any(tts.supports_synthesize_streaming for tts in info.tts)
        return self.streaming

    def _voice(self, language: str | None) -> SynthesizeVoice | None:
        if self.voice:
            return SynthesizeVoice(name=self.voice, speaker=self.speaker)
        if language:
            return SynthesizeVoice(language=language)
        return None

    async def synthesize(
        self, parts: AsyncIterator[str], language: str | None = None
    ) -> AsyncGenerator[AudioFormat | bytes]:
        """Yield the audio format, then PCM blocks, for the text arriving in `parts`.

        With a streaming server each part is sent as soon as it arrives, so audio starts with
        the first sentence. Closing the generator hangs up (the only way to cancel).
        """
        try:
            streaming = await self.supports_streaming()
        except SynthError:
            self._info = None
            raise
        voice = self._voice(language)
        try:
            async with self._client() as client:
                if streaming:
                    async with contextlib.aclosing(self._stream(client, parts, voice)) as stream:
                        async for item in stream:
                            yield item
                else:
                    text = await _join(parts)
                    await client.write_event(Synthesize(text=text, voice=voice).event())
                    async for item in _audio(client, until_stopped=False):
                        yield item
        except (OSError, TimeoutError) as err:
            self._info = None
            raise SynthError(f"TTS server {self.uri} failed: {err!r}") from err

    async def _stream(
        self, client: AsyncClient, parts: AsyncIterator[str], voice: SynthesizeVoice | None
    ) -> AsyncGenerator[AudioFormat | bytes]:
        await client.write_event(SynthesizeStart(voice=voice).event())
        sender = asyncio.create_task(_send_parts(client, parts))
        try:
            async for item in _audio(client, until_stopped=True, sender=sender):
                yield item
            await sender
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender


async def _send_parts(client: AsyncClient, parts: AsyncIterator[str]) -> None:
    previous = ""
    async for part in parts:
        text = part
        if previous and not previous[-1].isspace() and not part[:1].isspace():
            text = " " + part
        previous = part
        await client.write_event(SynthesizeChunk(text=text).event())
    await client.write_event(SynthesizeStop().event())


async def _join(parts: AsyncIterator[str]) -> str:
    return join_chunks([part async for part in parts])


async def _read(client: AsyncClient) -> Event:
    event = await client.read_event()
    if event is None:
        raise SynthError("TTS server closed the connection")
    if Error.is_type(event.type):
        error = Error.from_event(event)
        raise SynthError(f"TTS server error: {error.text} ({error.code})")
    return event


async def _audio(
    client: AsyncClient, *, until_stopped: bool, sender: asyncio.Task[None] | None = None
) -> AsyncIterator[AudioFormat | bytes]:
    audio_format: AudioFormat | None = None
    while True:
        if sender is not None and sender.done() and sender.exception() is not None:
            await sender
        event = await _read(client)
        if AudioStart.is_type(event.type) or AudioChunk.is_type(event.type):
            is_chunk = AudioChunk.is_type(event.type)
            start = AudioChunk.from_event(event) if is_chunk else AudioStart.from_event(event)
            if audio_format is None:
                audio_format = AudioFormat(start.rate, start.width, start.channels)
                yield audio_format
            if isinstance(start, AudioChunk):
                chunk = start
                if AudioFormat(chunk.rate, chunk.width, chunk.channels) != audio_format:
                    _LOGGER.warning("Audio format changed mid-utterance; skipping chunk")
                    continue
                yield chunk.audio
        elif SynthesizeStopped.is_type(event.type) or (
            AudioStop.is_type(event.type) and not until_stopped
        ):
            return
