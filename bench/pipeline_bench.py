"""Benchmark: end of the user's speech -> first audio of the answer, through Moxie's pipeline.

One run of this script measures, on this machine, the whole Assist pipeline that Moxie creates,
with every part real except the model (Home Assistant's `wyoming` integration and
assist_pipeline, moxie-whisper with Whisper tiny.en, Moxie's agent, moxie-piper with joe):

- streaming: wyoming-piper streams (the pipeline sends the answer to TTS while it is written);
- whole text: the same stack with wyoming-piper `--no-streaming` (TTS starts after the answer).

The model is the loopback Ollama at 15 tokens/s with 500 ms to the first token. The question is
joe saying "Moxie, turn on the kitchen light and tell me a story about the stars." (VAD off: the
audio stream ends with the speech). Per stage, from the end of the speech: speech-to-text done,
first token, first text handed to TTS, first audio of the answer (as a satellite reads it).

Run: .venv/bin/python bench/pipeline_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
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
from homeassistant.core import Context, HomeAssistant  # noqa: E402

from bench.common import (  # noqa: E402
    FIRST_TOKEN_DELAY,
    METADATA,
    TOKENS_PER_SECOND,
    SlowStartOllama,
    english_moxie,
    read_first_audio,
)
from custom_components.moxie.pipeline import PipelineSettings  # noqa: E402
from peers.broker import Mosquitto  # noqa: E402
from peers.ollama_server import ChatReply, OllamaServer, tokenize  # noqa: E402
from peers.voices import SENTENCE, LaunchedServer, joe_pcm16  # noqa: E402

# A different star each turn: Home Assistant caches the audio of a text it has said before.
ANSWER = (
    "The kitchen light is on. Once upon a time, a little star called {name} wanted to see the "
    "sea. Every night it leaned closer, until the moon offered it a ride on a silver boat. "
    "They sailed until morning, and {name} was happy."
)
NAMES = ["Luna", "Nova", "Pip", "Vega", "Mira", "Tico", "Bela", "Rigel", "Lyra", "Orin"]


def star(index: int) -> str:
    """Return a star's name, never the same for two indexes."""
    name = NAMES[index % len(NAMES)]
    return name if index < len(NAMES) else f"{name} {star(index // len(NAMES) - 1)}"


STAGES = ("speech-to-text done", "first token", "first text to TTS", "first audio")


async def voice_turn(
    hass: HomeAssistant, pipeline_id: str, ollama: OllamaServer, answer: str
) -> list[float]:
    """Run one voice turn; return each stage's time after the end of the speech."""
    pcm = joe_pcm16(SENTENCE)
    step = 16000 * 2 // 10
    marks: dict[str, float] = {}
    first_audio: asyncio.Future[float] = hass.loop.create_future()
    readers: list[asyncio.Task[None]] = []

    async def speech() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), step):
            yield pcm[start : start + step]
        marks["end of speech"] = time.monotonic()

    def on_event(event: assist_pipeline.PipelineEvent) -> None:
        now = time.monotonic()
        data: dict[str, Any] = event.data or {}
        if event.type == "run-start":
            token = data["tts_output"]["token"]
            readers.append(hass.async_create_task(read_first_audio(hass, token, first_audio)))
        elif event.type == "stt-end":
            marks["speech-to-text done"] = now
        elif event.type == "tts-start" or (
            event.type == "intent-progress" and data.get("tts_start_streaming")
        ):
            marks.setdefault("first text to TTS", now)
        elif event.type == "error":
            raise RuntimeError(data)

    ollama.replies.append(ChatReply(content=tokenize(answer)))
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_event,
        stt_metadata=METADATA,
        stt_stream=speech(),
        pipeline_id=pipeline_id,
        tts_audio_output="wav",
        audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
    )
    marks["first audio"] = await asyncio.wait_for(first_audio, 60)
    marks["first token"] = ollama.first_token_at[-1]
    for reader in readers:
        await reader
    end = marks["end of speech"]
    return [marks[stage] - end for stage in STAGES]


STEPS = ("STT", "first token", "text to TTS", "first audio")


def steps(turns: list[list[float]]) -> list[list[float]]:
    """Each turn's marks as step durations (each from the previous mark), plus the total."""
    return [
        [b - a for a, b in zip([0.0, *marks[:-1]], marks, strict=True)] + [marks[-1]]
        for marks in turns
    ]


def median_row(label: str, rows: list[list[float]]) -> list[float]:
    """Print and return the median of each column."""
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    cells = "".join(f"{value * 1000:14.0f}" for value in medians)
    print(f"  {label:<40}{cells}")
    return medians


async def run(runs: int) -> None:
    """Start everything, measure both TTS modes, print medians and ratios."""
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("broker", "ha", "whisper", "piper", "piper_whole"):
            (workdir / name).mkdir()
        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        whisper = LaunchedServer.whisper(workdir / "whisper")
        piper = LaunchedServer.joe_piper(workdir / "piper")
        piper_whole = LaunchedServer.joe_piper(workdir / "piper_whole", "--", "--no-streaming")
        servers = [whisper, piper, piper_whole]
        for server in servers:
            server.start()
        ollama = SlowStartOllama(models=["qwen3:4b"], token_interval=1 / TOKENS_PER_SECOND)
        await ollama.start()
        try:
            async with english_moxie(workdir / "ha", broker, ollama, servers) as (
                hass,
                entry,
                engines,
            ):
                moxie = entry.runtime_data.pipeline
                assert moxie is not None
                pipeline_id = moxie.pipeline_id
                if pipeline_id is None:
                    raise RuntimeError("Moxie's pipeline was not created (run with BENCH_LOG=1)")
                stt_id, tts_streaming, tts_whole = engines
                results: dict[str, list[list[float]]] = {}
                names = (star(index) for index in range(2 * (runs + 1)))
                for label, tts_engine in (("streaming", tts_streaming), ("whole", tts_whole)):
                    await moxie.async_apply(
                        PipelineSettings(stt_engine=stt_id, tts_engine=tts_engine)
                    )
                    # The first turn warms up the models and connections.
                    turns = [
                        await voice_turn(hass, pipeline_id, ollama, ANSWER.format(name=next(names)))
                        for _ in range(runs + 1)
                    ]
                    results[label] = turns[1:]
        finally:
            await ollama.stop()
            for server in servers:
                server.stop()
            broker.stop()

    answer = ANSWER.format(name=NAMES[0])
    tokens = len(tokenize(answer))
    print(
        f"Moxie pipeline benchmark: {runs} runs per mode (+1 warm-up), answer of {len(answer)} "
        f"chars in {tokens} tokens at {TOKENS_PER_SECOND} tokens/s, first token after "
        f"{FIRST_TOKEN_DELAY * 1000:.0f} ms; Whisper tiny.en, joe, same machine, one run"
    )
    header = "".join(f"{label:>14}" for label in (*STEPS, "total"))
    print(f"  ms, p50 of each step{'':<20}{header}")
    streaming = median_row("streaming TTS (moxie-piper)", steps(results["streaming"]))
    whole = median_row("whole-text TTS (--no-streaming)", steps(results["whole"]))
    total_s, total_w = streaming[-1], whole[-1]
    # Speech-to-text is the same in both (its time only adds noise): compare what follows it.
    after_s, after_w = sum(streaming[1:-1]), sum(whole[1:-1])
    print(f"  end of speech -> first audio, streaming / whole text: {total_s / total_w:.2f}x")
    print(f"  transcript -> first audio,    streaming / whole text: {after_s / after_w:.2f}x")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if os.environ.get("BENCH_LOG") else logging.CRITICAL)
    asyncio.run(run(args.runs))


if __name__ == "__main__":
    main()
