"""Real peers of the speaker for tests and the benchmark.

The speaker process, its monitor's HTTP API and a direct Wyoming client (wyoming-piper is a
peers.voices.LaunchedServer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
import os
from pathlib import Path
import subprocess
import sys
from typing import Any
import wave

import aiohttp
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

from peers.broker import Mosquitto
from peers.process import ROOT, free_port, stop_process, wait_for_log

WAIT = 60.0  # generous bound for a loaded 2-core machine


class SpeakerProcess:
    """The speaker as users run it: `python -m wyoming_servers.speaker ...`."""

    def __init__(
        self, workdir: Path, broker: Mosquitto, tts_uri: str, args: Sequence[str] = ()
    ) -> None:
        """Prepare a speaker writing WAV files into workdir/wav."""
        self.workdir = workdir
        self.wav_dir = workdir / "wav"
        self.monitor_port = free_port()
        self.log = workdir / "speaker.log"
        self.argv = [
            sys.executable, "-m", "wyoming_servers.speaker",
            "--mqtt-host", broker.host, "--mqtt-port", str(broker.port),
            "--tts-uri", tts_uri, "--sink", f"wav:{self.wav_dir}",
            "--monitor", f"127.0.0.1:{self.monitor_port}", "--debug", *args,
        ]  # fmt: skip
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the monitor."""
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self) -> None:
        """Start and wait until the monitor is up."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
            )
        wait_for_log(self._proc, self.log, "Ready:", WAIT)

    def stop(self) -> None:
        """SIGTERM, as a service manager would."""
        stop_process(self._proc)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to the broker."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    @property
    def pid(self) -> int:
        """Process id of the running speaker."""
        assert self._proc is not None
        return self._proc.pid

    def wavs(self) -> list[Path]:
        """Utterance files in play order."""
        return sorted(self.wav_dir.glob("*.wav")) if self.wav_dir.exists() else []


def wav_pcm(path: Path) -> bytes:
    """PCM frames of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


async def direct_synthesize(uri: str, text: str) -> bytes:
    """What the TTS server produces for text, asked directly (no speaker in between)."""
    host, port = uri.removeprefix("tcp://").split(":")
    async with asyncio.timeout(WAIT):
        while True:
            try:
                async with AsyncTcpClient(host, int(port)) as client:
                    await client.write_event(Synthesize(text=text).event())
                    audio = b""
                    while True:
                        event = await client.read_event()
                        assert event is not None
                        if AudioChunk.is_type(event.type):
                            audio += AudioChunk.from_event(event).audio
                        elif AudioStop.is_type(event.type):
                            return audio
            except OSError:
                await asyncio.sleep(0.2)


async def get_json(url: str) -> Any:
    """GET url and decode JSON."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def wait_until[T](
    probe: Callable[[], Any], check: Callable[[T], bool], timeout: float = WAIT
) -> T:
    """Poll the async probe until check(result) holds (bounded); return that result."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                result: T = await probe()
                if check(result):
                    return result
            await asyncio.sleep(0.05)


async def history(speaker: SpeakerProcess) -> list[dict[str, Any]]:
    """The speaker's recent utterances, oldest first."""
    data = await get_json(f"{speaker.url}/api/queue")
    return list(reversed(data["history"]))


async def wait_history(
    speaker: SpeakerProcess, check: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Wait until the speaker's history satisfies check."""
    return await wait_until(lambda: history(speaker), check)


async def wait_audio(speaker: SpeakerProcess, message_id: str) -> None:
    """Wait until the WAV sink holds audio of the utterance message_id."""

    async def probe() -> int:
        return sum(
            path.stat().st_size for path in speaker.wavs() if path.stem.endswith(f"_{message_id}")
        )

    await wait_until(probe, lambda size: size > 4096)


async def wait_connected(speaker: SpeakerProcess) -> None:
    """Wait until the speaker's monitor answers and it is connected to the broker."""
    await wait_until(lambda: get_json(f"{speaker.url}/health"), lambda h: h["mqtt_connected"])
