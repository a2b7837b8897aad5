"""Benchmark: Moxie's voice satellite against Home Assistant's own satellite path, in one run.

Everything is real except the model: Home Assistant (assist_satellite, assist_pipeline, its
wyoming integration), moxie-whisper with Whisper tiny.en, moxie-piper with joe (streaming),
Moxie's agent on the loopback Ollama (15 tokens/s, 500 ms to the first token), the real
moxie-speaker (joe, WAV sink paced like a sound card) and a Wyoming microphone (16 kHz) that
hears joe asking a question, in real time.

- Moxie's satellite: Listen, the question through the mic; the answer is voiced by
  moxie-speaker from the speech mirror (pipeline ends at the intent).
- Home Assistant's path: the same audio, in real time, into the same pipeline the way a
  satellite such as Voice PE does (VAD on, end stage TTS); first audio is the first sound the
  satellite can read from the pipeline's TTS stream.
- Barge-in (Moxie only; HA's satellites have none): joe talks over a long answer.

Reported, p50 and p95: last sound -> VAD end; VAD end -> first answer audio; barge-in: start of
speech -> speaker silent. Goal: VAD end -> first audio <= 1.3 s.

Run: .venv/bin/python bench/satellite_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant.components import assist_pipeline  # noqa: E402
from homeassistant.components.assist_pipeline import PipelineEvent  # noqa: E402
from homeassistant.core import Context, HomeAssistant  # noqa: E402
from homeassistant.helpers.entity_platform import async_get_platforms  # noqa: E402

from bench.common import (  # noqa: E402
    FIRST_TOKEN_DELAY,
    METADATA,
    TOKENS_PER_SECOND,
    SlowStartOllama,
    english_moxie,
    read_first_audio,
    until,
)
from custom_components.moxie.assist_satellite import MoxieSatellite  # noqa: E402
from peers.broker import Mosquitto  # noqa: E402
from peers.mic import WyomingMic  # noqa: E402
from peers.ollama_server import ChatReply, OllamaServer, tokenize  # noqa: E402
from peers.process import free_port  # noqa: E402
from peers.speaker import SpeakerProcess, history  # noqa: E402
from peers.voices import LaunchedServer, joe_pcm16  # noqa: E402

QUESTION = "What is the weather like in the garden today?"
INTERRUPTION = "Excuse me, what time is it?"
ANSWER = "It is sunny, {name}. The roses are open and the bees are busy all around them."
STORY = (
    "Once upon a time, a little robot called {name} lived on a quiet hill and counted the stars "
    "every night. One night it counted so many that it forgot where it had started."
)
NAMES = ["Luna", "Nova", "Pip", "Vega", "Mira", "Tico", "Bela", "Rigel", "Lyra", "Orin", "Sol"]
GOAL = 1.3
STEPS = (
    "speech-to-text",
    "transcript -> first clause at the speaker",
    "first clause -> its first audio",
)
CHUNK = 1024 * 2  # bytes of 16 kHz mono audio per chunk, as the mic sends
WALL = time.time() - time.monotonic()  # wall clock (the speaker's) -> this process' monotonic


def speech_start(pcm: bytes) -> float:
    """Seconds of leading silence in 16 kHz 16-bit pcm (where joe starts talking)."""
    for index in range(0, len(pcm) - 1, 2):
        if abs(int.from_bytes(pcm[index : index + 2], "little", signed=True)) > 800:
            return index / 2 / 16000
    return 0.0


def first_audio(entry: dict[str, Any]) -> float:
    """Monotonic time (here) of an utterance's first audio at the speaker."""
    return float(entry["started"]) + float(entry["synthesis_ms"]) / 1000 - WALL


def moxie_satellite(hass: HomeAssistant) -> MoxieSatellite:
    """Moxie's satellite entity, as its platform holds it (the entry keeps a device, not it)."""
    for platform in async_get_platforms(hass, "moxie"):
        if (entity := platform.entities.get("assist_satellite.moxie")) is not None:
            assert isinstance(entity, MoxieSatellite)
            return entity
    raise LookupError("Moxie's satellite is not added")


@dataclass
class Rig:
    """What a turn talks to."""

    hass: HomeAssistant
    satellite: MoxieSatellite
    mic: WyomingMic
    speaker: SpeakerProcess
    ollama: OllamaServer
    pipeline_id: str
    # Monotonic time of each pipeline event of the satellite's last run, by event type.
    stages: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Time the satellite's pipeline events from outside (the entity keeps no timings)."""
        follow = self.satellite.on_pipeline_event

        def timed(event: PipelineEvent) -> None:
            self.stages[str(event.type)] = time.monotonic()
            follow(event)

        self.satellite.on_pipeline_event = timed  # type: ignore[method-assign]


async def moxie_turn(rig: Rig, name: str) -> tuple[float, float, list[float]]:
    """Listen, ask through the mic; return last sound -> VAD end, VAD end -> first audio, steps.

    Steps of VAD end -> first audio: speech-to-text, transcript -> first clause at the speaker
    (the agent, the model's first tokens, the mirror), received -> first audio (speaker, TTS).
    """
    satellite, mic, speaker, ollama = rig.satellite, rig.mic, rig.speaker, rig.ollama
    answer = ANSWER.format(name=name)
    ollama.replies.append(ChatReply(content=tokenize(answer)))
    rig.stages.clear()
    since = time.time()
    satellite.async_listen()
    await until(lambda: satellite.state == "listening")
    sound = mic.play(joe_pcm16(QUESTION))
    first_sentence = (await _answer_entries(speaker, answer, since))[0]
    await until(lambda: satellite.state == "idle")
    vad_end, stt_end = rig.stages.get("stt-vad-end"), rig.stages.get("stt-end")
    assert vad_end is not None
    assert stt_end is not None
    assert sound.ended_at is not None
    received = float(first_sentence["received"]) - WALL
    audio = first_audio(first_sentence)
    steps = [stt_end - vad_end, received - stt_end, audio - received]
    return vad_end - sound.ended_at, audio - vad_end, steps


async def _answer_entries(
    speaker: SpeakerProcess, answer: str, since: float
) -> list[dict[str, Any]]:
    """Wait until the speaker said all of answer (split in utterances); return them in order."""
    async with asyncio.timeout(90):
        while True:
            entries = [
                e for e in await history(speaker) if e["text"] in answer and e["received"] >= since
            ]
            if " ".join(e["text"] for e in entries).endswith(answer.rstrip()[-10:]):
                return entries
            await asyncio.sleep(0.05)


async def home_assistant_turn(rig: Rig, name: str) -> tuple[float, float]:
    """Ask the same question the way HA's satellites stream it; read the pipeline's TTS audio."""
    hass, ollama = rig.hass, rig.ollama
    answer = ANSWER.format(name=name)
    ollama.replies.append(ChatReply(content=tokenize(answer)))
    pcm = joe_pcm16(QUESTION)
    marks: dict[str, float] = {}
    first: asyncio.Future[float] = hass.loop.create_future()
    readers: list[asyncio.Task[None]] = []

    async def microphone() -> AsyncIterator[bytes]:
        """Real-time audio: the question, then silence until the pipeline stops listening."""
        start = time.monotonic()
        audio = pcm + bytes(CHUNK - len(pcm) % CHUNK)
        sent = 0
        while "vad end" not in marks:
            chunk = audio[sent * CHUNK : (sent + 1) * CHUNK] or bytes(CHUNK)
            if sent * CHUNK >= len(pcm) and "last sound" not in marks:
                marks["last sound"] = time.monotonic()
            yield chunk
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * CHUNK / 32000 - time.monotonic()))

    def on_event(event: assist_pipeline.PipelineEvent) -> None:
        data: dict[str, Any] = event.data or {}
        if event.type == "run-start":
            token = data["tts_output"]["token"]
            readers.append(hass.async_create_task(read_first_audio(hass, token, first)))
        elif event.type == "stt-vad-end":
            marks["vad end"] = time.monotonic()
        elif event.type == "error":
            raise RuntimeError(data)

    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_event,
        stt_metadata=METADATA,
        stt_stream=microphone(),
        pipeline_id=rig.pipeline_id,
        # Another satellite asked: it plays the TTS audio, Moxie's speaker stays silent.
        satellite_id="assist_satellite.kitchen_voice_pe",
        tts_audio_output="wav",
    )
    first_at = await asyncio.wait_for(first, 90)
    for reader in readers:
        await reader
    return marks["vad end"] - marks["last sound"], first_at - marks["vad end"]


async def barge_in_turn(rig: Rig, name: str) -> float:
    """Talk over a story; return start of speech -> speaker silent."""
    satellite, mic, speaker, ollama = rig.satellite, rig.mic, rig.speaker, rig.ollama
    story = STORY.format(name=name)
    ollama.replies.append(ChatReply(content=tokenize(story)))
    ollama.replies.append(ChatReply(content=tokenize(f"It is noon, {name}.")))
    since = time.time()
    satellite.async_listen()
    await until(lambda: satellite.state == "listening")
    mic.play(joe_pcm16("Tell me a story."))
    speaker_watch = satellite.speaker
    assert speaker_watch is not None
    await until(lambda: speaker_watch.speaking and (speaker_watch.current_text or "-") in story)
    await asyncio.sleep(0.5)
    pcm = joe_pcm16(INTERRUPTION)
    sound = mic.play(pcm)
    await until(lambda: sound.started_at is not None)
    assert sound.started_at is not None
    talking_at = sound.started_at + speech_start(pcm)
    await _answer_entries(speaker, f"It is noon, {name}.", since)
    await until(lambda: satellite.state == "idle")
    stopped = [
        e for e in await history(speaker) if e["outcome"] == "stopped" and e["text"] in story
    ]
    return float(stopped[-1]["finished"]) - WALL - talking_at


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 (nearest rank) in ms."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def run(runs: int) -> None:
    """Start everything, measure both paths and barge-in, print p50/p95 and ratios."""
    with tempfile.TemporaryDirectory(prefix="satellite-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("broker", "ha", "whisper", "piper", "speaker"):
            (workdir / name).mkdir()
        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        whisper = LaunchedServer.whisper(workdir / "whisper")
        piper = LaunchedServer.joe_piper(workdir / "piper")
        for server in (whisper, piper):
            server.start()
        speaker = SpeakerProcess(workdir / "speaker", broker, piper.uri)
        speaker.start()
        ollama = SlowStartOllama(models=["qwen3:4b"], token_interval=1 / TOKENS_PER_SECOND)
        await ollama.start()
        mic = WyomingMic(free_port(), rate=16000)
        await mic.start()
        names = iter(f"{n}{i}" for i in range(100) for n in NAMES)
        results: dict[str, list[float]] = {}
        try:
            mic_options = {"mic_host": mic.host, "mic_port": mic.port}
            async with english_moxie(
                workdir / "ha", broker, ollama, [whisper, piper], mic_options
            ) as (hass, entry, _):
                satellite = moxie_satellite(hass)
                pipeline = entry.runtime_data.pipeline
                assert pipeline is not None
                assert pipeline.pipeline_id is not None
                rig = Rig(hass, satellite, mic, speaker, ollama, pipeline.pipeline_id)
                await until(lambda: satellite.available and satellite.state == "idle")
                # One warm-up turn of each (models, connections, caches).
                await moxie_turn(rig, next(names))
                await home_assistant_turn(rig, next(names))
                for _ in range(runs):
                    tail, answer, steps = await moxie_turn(rig, next(names))
                    for key, value in zip(STEPS, steps, strict=True):
                        results.setdefault(key, []).append(value)
                    results.setdefault("moxie tail", []).append(tail)
                    results.setdefault("moxie answer", []).append(answer)
                    tail, answer = await home_assistant_turn(rig, next(names))
                    results.setdefault("ha tail", []).append(tail)
                    results.setdefault("ha answer", []).append(answer)
                    results.setdefault("barge-in", []).append(await barge_in_turn(rig, next(names)))
        finally:
            await mic.stop()
            await ollama.stop()
            speaker.stop()
            for server in (whisper, piper):
                server.stop()
            broker.stop()

    print(
        f"Moxie satellite benchmark: {runs} runs (+1 warm-up); Whisper tiny.en, joe (wyoming-piper"
        f" streaming), {TOKENS_PER_SECOND} tokens/s after {FIRST_TOKEN_DELAY * 1000:.0f} ms; "
        "same machine, one run"
    )
    print(f"  {'ms':<46}{'p50':>8}{'p95':>8}")
    rows = (
        ("last sound -> VAD end, Moxie satellite", "moxie tail"),
        ("last sound -> VAD end, HA satellite path", "ha tail"),
        ("VAD end -> first answer audio, Moxie satellite", "moxie answer"),
        ("VAD end -> first answer audio, HA satellite path", "ha answer"),
        ("barge-in: start of speech -> speaker silent", "barge-in"),
    )
    for label, key in rows:
        p50, p95 = percentiles(results[key])
        print(f"  {label:<46}{p50:8.0f}{p95:8.0f}")
    print("  Moxie satellite, VAD end -> first audio by step:")
    for key in STEPS:
        p50, p95 = percentiles(results[key])
        print(f"    {key:<44}{p50:8.0f}{p95:8.0f}")
    moxie50, _ = percentiles(results["moxie answer"])
    ha50, _ = percentiles(results["ha answer"])
    print(f"  VAD end -> first audio, Moxie / HA (p50): {moxie50 / ha50:.2f}x")
    verdict = "met" if moxie50 <= GOAL * 1000 else "NOT met"
    print(f"  goal VAD end -> first audio <= {GOAL:.1f} s at p50: {verdict}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    log = os.environ.get("BENCH_LOG", "")
    level = logging.DEBUG if log == "debug" else logging.WARNING if log else logging.CRITICAL
    logging.basicConfig(level=level)
    asyncio.run(run(args.runs))


if __name__ == "__main__":
    main()
