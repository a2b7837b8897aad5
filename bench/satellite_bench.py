"""Benchmark: how long a child waits for Moxie's answer, on three paths, in one run.

Everything is real except the model: Home Assistant (assist_satellite, assist_pipeline, its
wyoming integration), moxie-whisper with Whisper tiny.en, moxie-turn (the same tiny.en in its own
process, heard in a window of the question's length), moxie-piper
with joe (streaming), Moxie's agent on the loopback Ollama (15 tokens/s, 500 ms to the first
token), the real moxie-speaker (joe, WAV sink paced like a sound card) and a Wyoming microphone
(16 kHz) that hears joe asking, in real time.

- Home Assistant's path: the question, in real time, into Moxie's pipeline the way a satellite
  such as Voice PE streams it (Home Assistant's VAD, end stage TTS); first audio is the first
  sound the satellite can read from the pipeline's TTS stream.
- Moxie today: Moxie's satellite (Listen, the question through the mic) on Whisper directly:
  Home Assistant's VAD ends the turn; moxie-speaker voices the answer from the speech mirror.
- Moxie with end of turn: the same satellite, the pipeline hearing through moxie-turn (Smart Turn
  v3, transcribed ahead at every pause by Whisper in moxie-turn's process; no VAD of Home
  Assistant's).
- Barge-in (Moxie only): joe talks over a long answer.

Reported, p50 and p95, per path: last sound -> turn over (Home Assistant's VAD end, or the
transcript moxie-turn answers when it ends the turn), turn over -> first answer audio, and last
sound -> first answer audio (the silence the child hears); then how many of peers.questions'
paused questions (a 0.6-1.0 s thinking pause mid-sentence) were cut in two, streamed into the
pipeline in real time as a satellite streams them: with Home Assistant's VAD (who ends the turn
on the HA path and for today's Moxie) and with moxie-turn. "Last sound" is
the end of joe's recording (which ends with about 0.2 s of joe's own quiet). `--load` runs a
busy process on one core beside everything (speech to text is what grows with load).

Goal (Moxie with end of turn): last sound -> first answer audio <= 1.4 s p50, <= 1.8 s p95.

Run: .venv/bin/python bench/satellite_bench.py [--runs 5] [--load]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
import contextlib
from dataclasses import dataclass, field
import logging
import math
import os
from pathlib import Path
import statistics
import subprocess
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
from peers.questions import (  # noqa: E402
    PAUSED,
    PAUSED_ES,
    PausedQuestion,
    ask_in_real_time,
    paused_pcm16,
)
from peers.speaker import SpeakerProcess, history  # noqa: E402
from peers.voices import LaunchedServer, joe_pcm16, words  # noqa: E402

QUESTION = "What is the weather like in the garden today?"
INTERRUPTION = "Excuse me, what time is it?"
ANSWER = "It is sunny, {name}. The roses are open and the bees are busy all around them."
STORY = (
    "Once upon a time, a little robot called {name} lived on a quiet hill and counted the stars "
    "every night. One night it counted so many that it forgot where it had started."
)
NAMES = ["Luna", "Nova", "Pip", "Vega", "Mira", "Tico", "Bela", "Rigel", "Lyra", "Orin", "Sol"]
GOAL_P50, GOAL_P95 = 1.4, 1.8
PATHS = ("HA path", "Moxie today", "Moxie + end of turn")
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


async def moxie_turn(rig: Rig, name: str, pcm: bytes) -> tuple[float, float]:
    """Listen, ask pcm through the mic; return last sound -> turn over, turn over -> first audio.

    Turn over: Home Assistant's VAD end, or, when the speech-to-text ends the turn itself
    (moxie-turn), the transcript's arrival.
    """
    satellite, mic, speaker, ollama = rig.satellite, rig.mic, rig.speaker, rig.ollama
    answer = ANSWER.format(name=name)
    ollama.replies.append(ChatReply(content=tokenize(answer)))
    asked_before = len(ollama.chat_requests)
    rig.stages.clear()
    since = time.time()
    satellite.async_listen()
    await until(lambda: satellite.state == "listening")
    sound = mic.play(pcm)
    first_sentence = (await _answer_entries(speaker, answer, since))[0]
    await until(lambda: satellite.state == "idle")
    turn_over = rig.stages.get("stt-vad-end", rig.stages.get("stt-end"))
    assert turn_over is not None
    assert sound.ended_at is not None
    assert len(ollama.chat_requests) == asked_before + 1
    audio = first_audio(first_sentence)
    return turn_over - sound.ended_at, audio - turn_over


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


class TurnFailedError(Exception):
    """The pipeline ended with an error event (its code and message)."""


async def home_assistant_turn(
    rig: Rig, name: str, pcm: bytes, *, answered: bool = True
) -> tuple[float, float, list[str]]:
    """Ask the way HA's satellites stream; last sound -> VAD end, -> TTS audio, words heard.

    A turn that ended before the last sound (cut in its pause) gives a negative first value.
    answered=False: only the turn's end matters (what tiny.en makes of Spanish is not waited
    for; the second value is then nan).
    """
    hass, ollama = rig.hass, rig.ollama
    answer = ANSWER.format(name=name)
    reply = ChatReply(content=tokenize(answer))
    if answered:
        ollama.replies.append(reply)
    marks: dict[str, float] = {}
    heard: list[str] = []
    first: asyncio.Future[float] = hass.loop.create_future()
    readers: list[asyncio.Task[None]] = []
    errors: list[str] = []

    async def microphone() -> AsyncIterator[bytes]:
        """Real-time audio: the question, then silence until the pipeline stops listening."""
        start = time.monotonic()
        audio = pcm + bytes(CHUNK - len(pcm) % CHUNK)
        sent = 0
        while "vad end" not in marks and "stt end" not in marks:
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
        elif event.type == "stt-end":
            marks["stt end"] = time.monotonic()
            heard.extend(words(data["stt_output"]["text"]))
        elif event.type == "error":
            errors.append(f"{data.get('code')}: {data.get('message')}")

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
    if answered and errors and not first.done():
        for reader in readers:
            reader.cancel()
        raise TurnFailedError(", ".join(errors))
    if answered:
        try:
            first_at = await asyncio.wait_for(first, 90)
        except TimeoutError as err:
            for reader in readers:
                reader.cancel()
            raise TurnFailedError(f"no answer audio in 90 s ({', '.join(errors)})") from err
    else:
        first_at = math.nan
        for reader in readers:
            reader.cancel()
    for reader in readers:
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    # The turn ends at Home Assistant's VAD end, or at the transcript of a speech-to-text that
    # ends it itself. (A question cut in two ends before its last sound: only the words count.)
    turn_over = marks.get("vad end", marks.get("stt end", math.nan))
    if "last sound" not in marks:  # ended in the question: how much of it was left
        return -1.0, first_at - turn_over, heard
    return turn_over - marks["last sound"], first_at - turn_over, heard


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
    """p50 and p95 (nearest rank) in ms (nan without values)."""
    if not values:
        return math.nan, math.nan
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def use_stt(rig: Rig, engine: str) -> None:
    """Have Moxie's pipeline hear through engine (Whisper directly, or moxie-turn)."""
    pipeline = assist_pipeline.async_get_pipeline(rig.hass, rig.pipeline_id)
    if pipeline.stt_engine != engine:
        await assist_pipeline.async_update_pipeline(rig.hass, pipeline, stt_engine=engine)


def cut_in_two(heard: list[str], question: PausedQuestion) -> bool:
    """Whether the words after the pause are missing from what the agent was asked."""
    return not set(words(question.after)) & set(heard)


@contextlib.contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """Keep one core busy for the whole run (the benchmark's extra load) when on."""
    if not on:
        yield
        return
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spin.kill()
        spin.wait()


async def run(runs: int, load: bool) -> None:
    """Start everything, measure the three paths and barge-in, print p50/p95 and the cuts."""
    with tempfile.TemporaryDirectory(prefix="satellite-bench-") as tmp, busy_core(load):
        load_before = os.getloadavg()
        workdir = Path(tmp)
        for name in ("broker", "ha", "whisper", "piper", "speaker", "turn", "turn_es"):
            (workdir / name).mkdir()
        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        whisper = LaunchedServer.whisper(workdir / "whisper")
        piper = LaunchedServer.joe_piper(workdir / "piper")
        whisper.start()
        turn = LaunchedServer.turn_here(workdir / "turn", "--debug")
        # Spanish: moxie-turn as a Spanish home runs it (moxie-whisper's default model; offline,
        # the bundled multilingual Whisper base), asked directly over Wyoming.
        spanish_turn = LaunchedServer.spanish_turn(workdir / "turn_es", "--debug")
        spanish_turn.start()
        servers = (whisper, piper, turn)
        for server in servers[1:]:
            server.start()
        speaker = SpeakerProcess(workdir / "speaker", broker, piper.uri)
        speaker.start()
        ollama = SlowStartOllama(models=["qwen3:4b"], token_interval=1 / TOKENS_PER_SECOND)
        await ollama.start()
        mic = WyomingMic(free_port(), rate=16000)
        await mic.start()
        names = iter(f"{n}{i}" for i in range(1000) for n in NAMES)
        results: dict[str, dict[str, list[float]]] = {path: {} for path in PATHS}
        cuts = dict.fromkeys(PATHS, 0)
        cut_questions: list[str] = []
        spanish_cuts = {"Home Assistant's VAD": 0, "moxie-turn": 0}
        barge_ins: list[float] = []
        try:
            # Barge-in is off by default (without an echo canceller Moxie would hear itself).
            mic_options = {"mic_host": mic.host, "mic_port": mic.port, "barge_in": True}
            async with english_moxie(
                workdir / "ha", broker, ollama, list(servers), mic_options
            ) as (hass, entry, engines):
                satellite = moxie_satellite(hass)
                pipeline = entry.runtime_data.pipeline
                assert pipeline is not None
                assert pipeline.pipeline_id is not None
                rig = Rig(hass, satellite, mic, speaker, ollama, pipeline.pipeline_id)
                whisper_stt, turn_stt = engines[0], engines[2]
                await until(lambda: satellite.available and satellite.state == "idle")

                async def turn_on(path: str, name: str, pcm: bytes) -> tuple[float, float]:
                    if path == "HA path":
                        await use_stt(rig, whisper_stt)
                        tail, answer, _ = await home_assistant_turn(rig, name, pcm)
                        return tail, answer
                    await use_stt(rig, turn_stt if path == "Moxie + end of turn" else whisper_stt)
                    return await moxie_turn(rig, name, pcm)

                question = joe_pcm16(QUESTION)
                for path in PATHS:  # one warm-up turn of each (models, connections, caches)
                    await turn_on(path, next(names), question)
                for _ in range(runs):
                    for path in PATHS:
                        async with asyncio.timeout(150):
                            tail, answer = await turn_on(path, next(names), question)
                        for key, value in (("tail", tail), ("answer", answer)):
                            results[path].setdefault(key, []).append(value)
                        results[path].setdefault("total", []).append(tail + answer)
                    await use_stt(rig, whisper_stt)
                    barge_ins.append(await barge_in_turn(rig, next(names)))
                # Cut in two depends on who ends the turn: Home Assistant's VAD (the HA path and
                # Moxie today) or moxie-turn. Streamed into the pipeline as a satellite does.
                for paused in PAUSED:
                    pcm = paused_pcm16(paused)
                    for stt, paths in ((whisper_stt, PATHS[:2]), (turn_stt, PATHS[2:])):
                        await use_stt(rig, stt)
                        try:
                            *_, heard = await home_assistant_turn(rig, next(names), pcm)
                        except TurnFailedError as err:  # counted as cut: the question got no answer
                            heard = []
                            cut_questions.append(f"{paused.text!r} ({stt}): pipeline error {err}")
                        if cut_in_two(heard, paused):
                            for path in paths:
                                cuts[path] += 1
                            cut_questions.append(f"{paused.text!r} -> {' '.join(heard)!r}")
                # Spanish (espeak-ng): cut means the turn ended before the question's last sound
                # (the English pipeline's tiny.en cannot tell Spanish words).
                for paused in PAUSED_ES:
                    pcm = paused_pcm16(paused)
                    await use_stt(rig, whisper_stt)
                    tail, *_ = await home_assistant_turn(rig, next(names), pcm, answered=False)
                    if tail < 0:
                        spanish_cuts["Home Assistant's VAD"] += 1
                        cut_questions.append(f"{paused.text!r} (Home Assistant's VAD)")
                    spanish = await ask_in_real_time(spanish_turn.uri, pcm, "es")
                    if spanish.after_speech < 0:
                        spanish_cuts["moxie-turn"] += 1
                        cut_questions.append(f"{paused.text!r} -> {spanish.text!r} (moxie-turn)")
        finally:
            await mic.stop()
            await ollama.stop()
            speaker.stop()
            for server in reversed(servers):
                server.stop()
            spanish_turn.stop()
            broker.stop()
        load_after = os.getloadavg()
        decisions = [
            line.split(":", 2)[-1]
            for line in turn.log_text().splitlines()
            if "Smart Turn:" in line or "Turn over" in line or "Not over" in line
        ]
        if os.environ.get("BENCH_TURN_LOG"):
            print("\n".join(decisions[-40:]))

    print(
        f"Moxie satellite benchmark: {runs} runs (+1 warm-up) of each path; Whisper tiny.en, "
        f"joe (wyoming-piper streaming), {TOKENS_PER_SECOND} tokens/s after "
        f"{FIRST_TOKEN_DELAY * 1000:.0f} ms; same machine, one run"
    )
    print(
        f"  machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; extra load: {'one busy core' if load else 'none'}"
    )
    print(f"  {'ms, p50 / p95':<36}" + "".join(f"{path:>22}" for path in PATHS))
    rows = (
        ("last sound -> turn over", "tail"),
        ("turn over -> first answer audio", "answer"),
        ("last sound -> first answer audio", "total"),
    )
    for label, key in rows:
        cells = []
        for path in PATHS:
            p50, p95 = percentiles(results[path].get(key, []))
            cells.append(f"{p50:.0f} / {p95:.0f}")
        print(f"  {label:<36}" + "".join(f"{cell:>22}" for cell in cells))
    print(
        f"  {f'cut in two (of {len(PAUSED)} paused)*':<36}"
        + "".join(f"{cuts[path]:>22}" for path in PATHS)
    )
    print("  * streamed into the pipeline; HA path and Moxie today share Home Assistant's VAD")
    print(
        f"  Spanish paused questions (espeak-ng, of {len(PAUSED_ES)}), cut in two: "
        + ", ".join(f"{who} {count}" for who, count in spanish_cuts.items())
        + " (moxie-turn with the bundled multilingual Whisper base)"
    )
    for cut in cut_questions:
        print(f"    cut: {cut}")
    p50, p95 = percentiles(barge_ins)
    print(f"  barge-in: start of speech -> speaker silent: {p50:.0f} / {p95:.0f} ms")
    for path in PATHS[:2]:
        ratio = (
            percentiles(results[path].get("total", []))[0]
            / percentiles(results[PATHS[2]].get("total", []))[0]
        )
        print(f"  last sound -> first audio (p50), {path} / Moxie + end of turn: {ratio:.2f}x")
    p50, p95 = percentiles(results[PATHS[2]].get("total", []))
    met = p50 <= GOAL_P50 * 1000 and p95 <= GOAL_P95 * 1000
    met = met and cuts[PATHS[2]] == 0 and spanish_cuts["moxie-turn"] == 0
    print(
        f"  goal (Moxie + end of turn): <= {GOAL_P50} s p50, <= {GOAL_P95} s p95, no question "
        f"cut in two: {'met' if met else 'NOT met'}"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--load", action="store_true", help="keep one core busy throughout")
    args = parser.parse_args()
    log = os.environ.get("BENCH_LOG", "")
    level = logging.DEBUG if log == "debug" else logging.WARNING if log else logging.CRITICAL
    logging.basicConfig(level=level)
    asyncio.run(run(args.runs, args.load))


if __name__ == "__main__":
    main()
