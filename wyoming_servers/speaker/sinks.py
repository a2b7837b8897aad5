"""Where the speaker's PCM goes: a playback command, a WAV file per utterance, or nowhere.

A new sink is a small subclass of `Sink`: `open` an utterance's stream, `write` PCM (awaiting
as long as a real device would need to play it), `close` at the end, `abort` to go silent now.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
import contextlib
from dataclasses import dataclass
import logging
from pathlib import Path
import re
import shlex
import time
from typing import override
import wave

_LOGGER = logging.getLogger(__name__)

# How far ahead of real time a paced sink may run (a device buffer).
PACING_LEAD = 0.02


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Raw PCM format of one utterance."""

    rate: int
    width: int
    channels: int

    @property
    def bytes_per_second(self) -> int:
        """Bytes of audio per second of playback."""
        return self.rate * self.width * self.channels


class Sink(ABC):
    """Plays (or stores) one utterance at a time."""

    name = "sink"

    def __init__(self, *, paced: bool = False) -> None:
        """Paced sinks take as long as the audio lasts, like a loudspeaker."""
        self.paced = paced
        self._format: AudioFormat | None = None
        self._started = 0.0
        self._written = 0

    async def open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        """Start a new utterance's stream."""
        self._format = audio_format
        self._started = time.monotonic()
        self._written = 0
        await self._open(utterance_id, audio_format)

    async def write(self, audio: bytes) -> None:
        """Play a block of PCM (nothing, once the utterance was aborted)."""
        audio_format = self._format
        if audio_format is None:
            return
        await self._write(audio)
        self._written += len(audio)
        if self.paced:
            ahead = self._started + self._written / audio_format.bytes_per_second - time.monotonic()
            if ahead > PACING_LEAD:
                await asyncio.sleep(ahead - PACING_LEAD)

    async def close(self) -> None:
        """End the utterance normally, letting what was written finish playing."""
        if self.paced and self._format is not None:
            remaining = (
                self._started + self._written / self._format.bytes_per_second - time.monotonic()
            )
            if remaining > 0:
                await asyncio.sleep(remaining)
        await self._close()
        self._format = None

    def abort(self) -> None:
        """Go silent now, dropping anything buffered (synchronous so a stop is immediate)."""
        if self._format is not None:
            self._abort()
        self._format = None

    @abstractmethod
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None: ...

    @abstractmethod
    async def _write(self, audio: bytes) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...


class NullSink(Sink):
    """Discards audio (optionally taking real time, to test and benchmark)."""

    name = "null"

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        pass

    @override
    async def _write(self, audio: bytes) -> None:
        pass

    @override
    async def _close(self) -> None:
        pass

    @override
    def _abort(self) -> None:
        pass


class WavSink(Sink):
    """Writes each utterance to `<dir>/<counter>_<id>.wav`; a stop truncates the file there."""

    name = "wav"

    def __init__(self, directory: Path, *, paced: bool = True) -> None:
        """Store utterances in directory (created when missing)."""
        super().__init__(paced=paced)
        self.directory = directory
        self._counter = 0
        self._wav: wave.Wave_write | None = None
        self.path: Path | None = None

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        safe_id = re.sub(r"[^A-Za-z0-9._-]+", "_", utterance_id)[:80]
        self.path = self.directory / f"{self._counter:05d}_{safe_id}.wav"
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115
        wav.setframerate(audio_format.rate)
        wav.setsampwidth(audio_format.width)
        wav.setnchannels(audio_format.channels)
        self._wav = wav

    @override
    async def _write(self, audio: bytes) -> None:
        if self._wav is not None:
            self._wav.writeframes(audio)

    @override
    async def _close(self) -> None:
        self._abort()

    @override
    def _abort(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class CommandSink(Sink):
    """Pipes raw PCM into a player command started per utterance (aplay, paplay, ...).

    `{rate}`, `{width}`, `{bits}` and `{channels}` in the command are replaced by the
    utterance's format. A stop kills the command: silence comes as fast as the OS delivers it.
    """

    name = "command"

    def __init__(self, command: str) -> None:
        """Use this command line as the player."""
        super().__init__(paced=False)
        self.command = command
        self._proc: asyncio.subprocess.Process | None = None

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        argv = [
            arg.format(
                rate=audio_format.rate,
                width=audio_format.width,
                bits=audio_format.width * 8,
                channels=audio_format.channels,
            )
            for arg in shlex.split(self.command)
        ]
        self._proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
        )

    @override
    async def _write(self, audio: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(audio)
            await proc.stdin.drain()
        except BrokenPipeError, ConnectionResetError:
            _LOGGER.warning("Player command exited early: %s", self.command)
            self._proc = None

    @override
    async def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.stdin.wait_closed()
        await proc.wait()

    @override
    def _abort(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        if proc.stdin is not None:
            proc.stdin.close()
        # Reap in the background so no zombie is left behind.
        _REAPING.add(task := asyncio.get_running_loop().create_task(proc.wait()))
        task.add_done_callback(_REAPING.discard)


_REAPING: set[asyncio.Task[int]] = set()

PLAYERS = {
    "aplay": "aplay -q -t raw -r {rate} -c {channels} -f S{bits}_LE",
    "paplay": "paplay --raw --rate={rate} --channels={channels} --format=s{bits}le",
}


def make_sink(spec: str, *, paced: bool = True) -> Sink:
    """Build a sink from its option.

    `null`, `wav:<dir>`, `aplay[:<extra args>]`, `paplay[:<extra args>]` or `command:<argv>`.
    """
    kind, _, arg = spec.partition(":")
    if kind == "null":
        return NullSink(paced=paced)
    if kind == "wav" and arg:
        return WavSink(Path(arg), paced=paced)
    if kind in PLAYERS:
        return CommandSink(f"{PLAYERS[kind]} {arg}".strip())
    if kind == "command" and arg:
        return CommandSink(arg)
    raise ValueError(f"unknown sink {spec!r} (null, wav:<dir>, aplay, paplay, command:<argv>)")
