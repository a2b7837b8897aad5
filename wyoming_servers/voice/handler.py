"""One Wyoming client: synthesize, or stream text in and audio out; a hang-up drops its work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
import logging
import time
from typing import override

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from wyoming_servers.speech_core import Cut, TextBuffer

from .engine import Abort, Aborted, Engine, Voice, VoiceNotFoundError

_LOGGER = logging.getLogger(__name__)

WIDTH = 2
CHANNELS = 1
MAX_LINE = 1 << 20


@dataclass(frozen=True, slots=True)
class Settings:
    """What every client gets."""

    cut: Cut = field(default_factory=Cut)
    clause_ahead: float = 1.0
    """After the first piece, a clause is cut alone when less audio than this is ahead."""
    samples_per_chunk: int = 1024
    streaming: bool = True


class Session:
    """One synthesis: a whole `synthesize`, or a `synthesize-start` ... `-stop` stream."""

    def __init__(
        self, voice: Voice, speaker: str | None, settings: Settings, *, streaming: bool
    ) -> None:
        """Start with no text."""
        self.voice = voice
        self.speaker = speaker
        self.settings = settings
        self.streaming = streaming
        self.text = TextBuffer(settings.cut)
        self.closed = False
        self.changed = asyncio.Event()
        self.abort = Abort()
        self.pieces = 0
        self.audio_seconds = 0.0
        self.first_audio: float | None = None
        self.task: asyncio.Task[None] | None = None

    def add(self, text: str) -> None:
        """More text arrived."""
        self.text.add(text)
        self.changed.set()

    def close(self) -> None:
        """No more text comes."""
        self.closed = True
        self.changed.set()

    def ahead(self) -> float:
        """Seconds of audio sent and not yet heard (a listener playing it as it came)."""
        if self.first_audio is None:
            return 0.0
        return self.audio_seconds - (time.monotonic() - self.first_audio)

    def wake_in(self) -> float | None:
        """Seconds until a waiting clause may be cut alone (None: only when text arrives)."""
        if not self.pieces:
            return None
        remaining = self.ahead() - self.settings.clause_ahead
        return remaining if remaining > 0 else None

    def next_piece(self) -> str | None:
        """Cut the next piece to synthesize now, if there is one."""
        if not self.pieces:
            mode = "clause"
        elif self.ahead() < self.settings.clause_ahead:
            mode = "fallback"
        else:
            mode = "sentence"
        return self.text.take(
            clause=mode == "clause", fallback=mode == "fallback", final=self.closed
        )


class VoiceEventHandler(AsyncEventHandler):
    """Answers one client; synthesis runs beside the event loop so a hang-up is seen at once."""

    def __init__(
        self,
        info: Callable[[], Info],
        engine: Engine,
        settings: Settings,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve one connection."""
        super().__init__(reader, writer)
        self.info = info
        self.engine = engine
        self.settings = settings
        self._stream: Session | None = None
        self._sessions: list[Session] = []
        self._gone = False

    @override
    async def run(self) -> None:
        """Read events until the client hangs up; a malformed line gets an error, not a hang-up."""
        try:
            while not self._gone:
                try:
                    event = await self._read_event()
                except ValueError as err:
                    await self._error(f"Malformed event: {err}", "malformed-event")
                    continue
                if event is None or not await self.handle_event(event):
                    break
        except ConnectionError, asyncio.IncompleteReadError:
            pass
        finally:
            await self.disconnect()
            self.writer.close()

    async def _read_event(self) -> Event | None:
        line = await self.reader.readline()
        if not line:
            return None
        header = json.loads(line)
        if not isinstance(header, dict) or not isinstance(header.get("type"), str):
            raise ValueError("an event needs a JSON object with a string 'type'")  # noqa: TRY004
        data = header.get("data") or {}
        if not isinstance(data, dict):
            raise ValueError("'data' must be an object")  # noqa: TRY004
        if (data_length := header.get("data_length")) and data_length > 0:
            extra = json.loads(await self.reader.readexactly(int(data_length)))
            if not isinstance(extra, dict):
                raise ValueError("event data must be a JSON object")
            data.update(extra)
        payload = None
        if (payload_length := header.get("payload_length")) and payload_length > 0:
            payload = await self.reader.readexactly(int(payload_length))
        return Event(type=header["type"], data=data, payload=payload)

    @override
    async def handle_event(self, event: Event) -> bool:
        """Route one event; synthesis is scheduled, never awaited here."""
        try:
            return await self._handle(event)
        except VoiceNotFoundError as err:
            await self._error(f"Voice not found: {err}", "voice-not-found")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            await self._error(f"Malformed {event.type} event: {err!r}", "malformed-event")
        return True

    async def _handle(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info().event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Synthesize.is_type(event.type):
            if self._stream is not None:
                # The whole text again inside a stream, sent for older servers: already heard.
                return True
            synthesize = Synthesize.from_event(event)
            if not isinstance(synthesize.text, str):
                raise TypeError("'text' must be a string")
            session = self._open(synthesize.voice, streaming=False)
            session.add(synthesize.text)
            session.close()
        elif SynthesizeStart.is_type(event.type) and self.settings.streaming:
            if self._stream is not None:
                await self._error("synthesize-start inside a stream", "stream-already-started")
                return True
            self._stream = self._open(SynthesizeStart.from_event(event).voice, streaming=True)
        elif SynthesizeChunk.is_type(event.type) and self.settings.streaming:
            chunk = SynthesizeChunk.from_event(event)
            if self._stream is None:
                await self._error("synthesize-chunk outside a stream", "no-stream")
            elif not isinstance(chunk.text, str):
                raise TypeError("'text' must be a string")
            else:
                self._stream.add(chunk.text)
        elif SynthesizeStop.is_type(event.type) and self.settings.streaming:
            if self._stream is None:
                await self._error("synthesize-stop outside a stream", "no-stream")
            else:
                self._stream.close()
                self._stream = None
        else:
            await self._error(f"Unexpected event: {event.type}", "unknown-event")
        return True

    def _open(self, voice: SynthesizeVoice | None, *, streaming: bool) -> Session:
        if voice is not None and not isinstance(voice, SynthesizeVoice):
            raise TypeError("'voice' must be an object")
        picked = self.engine.pick(voice.name if voice else None, voice.language if voice else None)
        session = Session(
            picked, voice.speaker if voice else None, self.settings, streaming=streaming
        )
        previous = self._sessions[-1].task if self._sessions else None
        self._sessions.append(session)
        session.task = asyncio.create_task(self._speak(session, previous), name="moxie tts")
        session.task.add_done_callback(lambda _task: self._sessions.remove(session))
        return session

    async def _speak(self, session: Session, previous: asyncio.Task[None] | None) -> None:
        """Synthesize piece by piece as text becomes available, writing audio as it comes."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(previous)
        voice = session.voice
        started = False
        try:
            while True:
                if session.abort.is_set:
                    raise Aborted  # noqa: TRY301
                piece = session.next_piece()
                if piece is None:
                    if session.closed:
                        break
                    session.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(session.wake_in()):
                            await session.changed.wait()
                    continue
                _LOGGER.debug("Synthesizing piece %d: %s", session.pieces + 1, piece)
                final = session.closed and not session.text.pending.strip()
                pcm = await self.engine.synthesize(
                    voice, _speakable(piece, final=final), session.speaker, session.abort
                )
                session.pieces += 1
                if session.first_audio is None:
                    session.first_audio = time.monotonic()
                session.audio_seconds += len(pcm) / (WIDTH * CHANNELS * voice.sample_rate)
                if session.streaming or not started:
                    await self.write_event(self._start(voice).event())
                    started = True
                await self._write_audio(voice, pcm)
                if session.streaming:
                    await self.write_event(AudioStop().event())
            if not started:
                # Nothing to say (empty, blank or punctuation only): an empty audio block, so
                # the client still gets a well-formed answer. Home Assistant makes its WAV
                # header from audio-start (streaming) or from the first chunk (whole text).
                await self.write_event(self._start(voice).event())
                await self.write_event(
                    AudioChunk(
                        rate=voice.sample_rate, width=WIDTH, channels=CHANNELS, audio=b""
                    ).event()
                )
                await self.write_event(AudioStop().event())
            elif not session.streaming:
                await self.write_event(AudioStop().event())
            if session.streaming:
                await self.write_event(SynthesizeStopped().event())
            _LOGGER.debug("Done: %d pieces, %.2f s of audio", session.pieces, session.audio_seconds)
        except Aborted, ConnectionError:
            # Gone while synthesizing (abort) or while its audio was being written.
            session.abort.set()
            self._gone = True
            self.engine.stats.aborted += 1
            _LOGGER.info(
                "Client gone: synthesis abandoned after %d pieces (%d aborted in all)",
                session.pieces,
                self.engine.stats.aborted,
            )
        except Exception as err:
            _LOGGER.exception("Synthesis failed")
            with contextlib.suppress(ConnectionError):
                await self._error(f"Synthesis failed: {err}", err.__class__.__name__)
        finally:
            self.engine.request_done()

    @staticmethod
    def _start(voice: Voice) -> AudioStart:
        return AudioStart(rate=voice.sample_rate, width=WIDTH, channels=CHANNELS)

    async def _write_audio(self, voice: Voice, pcm: bytes) -> None:
        step = WIDTH * CHANNELS * self.settings.samples_per_chunk
        for offset in range(0, len(pcm), step):
            chunk = AudioChunk(
                rate=voice.sample_rate,
                width=WIDTH,
                channels=CHANNELS,
                audio=pcm[offset : offset + step],
            )
            await self.write_event(chunk.event())

    async def _error(self, text: str, code: str) -> None:
        _LOGGER.warning("%s", text)
        await self.write_event(Error(text=text, code=code).event())

    @override
    async def disconnect(self) -> None:
        """Drop everything the client asked for, including what is running: it hung up."""
        self._gone = True
        for session in list(self._sessions):
            if session.task is not None and not session.task.done():
                # Stops a running inference too; the task ends at once with Aborted.
                session.abort.set()
                session.changed.set()


def _speakable(piece: str, *, final: bool) -> str:
    """Punctuate a piece that ends without it: a sentence at the end, else a clause.

    Some voices need the punctuation; a comma keeps a piece cut mid-sentence (before a
    Spanish ¿, or a run too long) from sounding like the end of the answer.
    """
    text = piece.strip()
    if text and text[-1].isalnum():
        return text + ("." if final else ",")
    return text
