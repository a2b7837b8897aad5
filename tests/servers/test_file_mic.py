"""moxie-file-mic, the real process, heard by a real Wyoming client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import subprocess
import sys
import time
import wave

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from peers.process import ROOT, free_port, stop_process, wait_for_log

CHUNK = 2048  # 1024 samples of 16-bit mono


def write_wav(path: Path, pcm: bytes, rate: int = 16000, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def pattern(chunks: float, seed: int) -> bytes:
    """Recognizable non-silent PCM (never a zero byte) of chunks x 1024 samples."""
    return bytes((seed + i) % 250 + 1 for i in range(int(chunks * CHUNK)))


@pytest.fixture
def mic(tmp_path: Path, socket_enabled: None) -> Iterator[tuple[int, Path, bytes]]:
    """moxie-file-mic on a free port with --wav question.wav and a watched folder."""
    question = pattern(3.5, 7)
    write_wav(tmp_path / "question.wav", question)
    port = free_port()
    log = tmp_path / "mic.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wyoming_servers.mic",
                "--uri",
                f"tcp://127.0.0.1:{port}",
                "--wav",
                str(tmp_path / "question.wav"),
                "--watch",
                str(tmp_path / "drop"),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_log(proc, log, "File microphone on", 15, "moxie-file-mic")
        yield port, tmp_path / "drop", question
    finally:
        assert stop_process(proc) is not None


async def read_audio(client: AsyncTcpClient, seconds: float) -> bytes:
    """The PCM of the audio chunks received for about seconds."""
    audio = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = await client.read_event()
        assert event is not None
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            assert (chunk.rate, chunk.width, chunk.channels) == (16000, 2, 1)
            audio += chunk.audio
    return audio


async def test_streams_the_wav_then_silence_and_each_dropped_file_once(
    mic: tuple[int, Path, bytes],
) -> None:
    port, drop, question = mic
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        first = await client.read_event()
        assert first is not None
        assert AudioStart.is_type(first.type)
        info = None
        audio = b""
        while info is None:  # the answer to describe comes between chunks
            event = await client.read_event()
            assert event is not None
            if Info.is_type(event.type):
                info = Info.from_event(event)
            elif AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
        assert info.mic[0].name == "moxie-file-mic"
        assert info.mic[0].mic_format.rate == 16000
        audio += await read_audio(client, 0.6)
        # The question, from the first chunk on, padded with silence; then silence.
        assert audio.startswith(question)
        assert len(audio) > len(question) + CHUNK
        assert not audio[len(question) :].strip(b"\0")

        # A dropped file (8 kHz stereo: converted by ffmpeg) is heard once, then silence.
        sound = pattern(1, 3)
        stereo = b"".join(sound[i : i + 2] * 2 for i in range(0, len(sound), 2))
        write_wav(drop / "again.wav", stereo, rate=8000, channels=2)
        heard = await read_audio(client, 2.5)
        assert heard.strip(b"\0"), "the dropped file was not heard"
        start = len(heard) - len(heard.lstrip(b"\0"))
        end = len(heard.rstrip(b"\0"))
        # 1024 frames at 8 kHz are 2048 samples (2 chunks) at 16 kHz (resampled: not byte-equal).
        assert 1.5 * CHUNK <= end - start <= 2.5 * CHUNK
        assert end + CHUNK < len(heard)  # silence after it
        assert not (drop / "again.wav").exists()
        assert (drop / "played" / "again.wav").exists()
        assert not (await read_audio(client, 1.0)).strip(b"\0")  # played once
