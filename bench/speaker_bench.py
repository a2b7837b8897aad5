"""Benchmark of moxie-speaker against a Wyoming client talking to wyoming-piper directly.

Everything runs in one go on this machine, with the same tiny generated Piper voice:

1. mirror publish -> first audio byte at the sink, versus a direct Wyoming client's
   synthesize -> first audio chunk (goal: speaker within +10 ms);
2. stop publish -> sink silent, p50/p95 (goal: p95 <= 10 ms);
3. 1,000 messages published as fast as possible: all accepted (played or queued), none lost,
   RSS of the speaker process before/after.

Run: .venv/bin/python bench/speaker_bench.py [--runs 30] [--burst 1000]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import json
from pathlib import Path
import sys
import tempfile
import time
from typing import override

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402
from wyoming.audio import AudioChunk, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.tts import Synthesize  # noqa: E402

from peers.broker import Mosquitto  # noqa: E402
from peers.mqtt import MqttProbe  # noqa: E402
from peers.speaker import SpeakerProcess, get_json, wait_until  # noqa: E402
from peers.tiny_voice import write_voice  # noqa: E402
from peers.voices import LaunchedServer  # noqa: E402
from wyoming_servers.speaker.mqtt import MqttBridge, MqttSettings  # noqa: E402
from wyoming_servers.speaker.sinks import AudioFormat, NullSink  # noqa: E402
from wyoming_servers.speaker.speaker import Speaker  # noqa: E402
from wyoming_servers.speaker.synth import WyomingSynth  # noqa: E402
from wyoming_servers.speech_core import Topics  # noqa: E402

TEXT = "Hola, soy Moxie. Hoy vamos a aprender algo nuevo juntos."
LONG_TEXT = " ".join(f"Esta es la frase {i} de una historia muy larga." for i in range(40))


class ProbeSink(NullSink):
    """A null sink that notes when audio starts and when it was silenced."""

    def __init__(self, *, paced: bool) -> None:
        """Record into events."""
        super().__init__(paced=paced)
        self.first_write: asyncio.Future[float] | None = None
        self.aborted_at: float | None = None
        self.writes_after_abort = 0

    def arm(self) -> asyncio.Future[float]:
        """Expect a new utterance; the future resolves at its first audio byte."""
        self.first_write = asyncio.get_running_loop().create_future()
        self.aborted_at = None
        return self.first_write

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        self.aborted_at = None

    @override
    async def _write(self, audio: bytes) -> None:
        if self.aborted_at is not None:
            self.writes_after_abort += 1
        if self.first_write is not None and not self.first_write.done():
            self.first_write.set_result(time.perf_counter())

    @override
    def _abort(self) -> None:
        self.aborted_at = time.perf_counter()


async def until(condition: Callable[[], bool], limit: float = 30, step: float = 0.001) -> None:
    """Poll condition until it holds (bounded)."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(step)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def direct_first_audio(uri: str) -> float:
    """Seconds from sending synthesize (connection included) to the first audio chunk."""
    host, port = uri.removeprefix("tcp://").split(":")
    start = time.perf_counter()
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Synthesize(text=TEXT).event())
        first = None
        while True:
            event = await client.read_event()
            assert event is not None
            if AudioChunk.is_type(event.type) and first is None:
                first = time.perf_counter() - start
            if AudioStop.is_type(event.type):
                assert first is not None
                return first


@contextlib.asynccontextmanager
async def in_process_speaker(
    broker: Mosquitto, uri: str, sink: ProbeSink, base: str
) -> AsyncIterator[Speaker]:
    speaker = Speaker(WyomingSynth(uri), sink)
    bridge = MqttBridge(
        MqttSettings(host=broker.host, port=broker.port, client_id=f"bench-{base}"),
        Topics(base),
        speaker,
    )
    tasks = [asyncio.create_task(speaker.run()), asyncio.create_task(bridge.run())]
    try:
        await until(lambda: bridge.connected)
        await asyncio.sleep(0.3)  # subscriptions in place
        yield speaker
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def bench_first_audio(broker: Mosquitto, piper: LaunchedServer, runs: int) -> None:
    sink = ProbeSink(paced=False)
    direct: list[float] = []
    mirrored: list[float] = []
    reported: dict[str, list[float]] = {"last_queue_wait_ms": [], "last_synthesis_ms": []}
    async with (
        in_process_speaker(broker, piper.uri, sink, "bench1") as speaker,
        MqttProbe(broker.host, broker.port) as client,
    ):
        await direct_first_audio(piper.uri)  # warm up the voice
        first = sink.arm()
        await client.publish("bench1/tts/text", TEXT, qos=1)  # and the speaker's path
        await asyncio.wait_for(first, 30)
        await until(lambda: speaker.current is None and not len(speaker.queue))
        for i in range(runs):
            direct.append(await direct_first_audio(piper.uri))
            first = sink.arm()
            start = time.perf_counter()
            payload = json.dumps({"text": TEXT, "id": f"first-{i}"})
            await client.publish("bench1/tts/text", payload, qos=1)
            mirrored.append(await asyncio.wait_for(first, 30) - start)
            for key, values in reported.items():
                value = getattr(speaker.stats, key)
                assert value is not None
                values.append(value / 1000)
            await until(lambda: speaker.current is None and not len(speaker.queue))
    d50, d95 = pct(direct, 0.5) * 1000, pct(direct, 0.95) * 1000
    m50, m95 = pct(mirrored, 0.5) * 1000, pct(mirrored, 0.95) * 1000
    print(f"\n1) first audio byte, {runs} runs, text of {len(TEXT)} chars")
    print(f"   direct Wyoming client -> wyoming-piper : p50 {d50:7.2f} ms  p95 {d95:7.2f} ms")
    print(f"   MQTT publish -> speaker -> sink          : p50 {m50:7.2f} ms  p95 {m95:7.2f} ms")
    print(
        f"   overhead p50 {m50 - d50:+.2f} ms (ratio {m50 / d50:.2f}x), "
        f"p95 {m95 - d95:+.2f} ms (ratio {m95 / d95:.2f}x); goal within +10 ms: "
        f"p50 {'met' if m50 - d50 <= 10 else 'NOT met'}, "
        f"p95 {'met' if m95 - d95 <= 10 else 'NOT met'}"
    )
    w50 = pct(reported["last_queue_wait_ms"], 0.5) * 1000
    s50 = pct(reported["last_synthesis_ms"], 0.5) * 1000
    print(
        f"   as the speaker reports it (/api/stats): queue wait p50 {w50:7.2f} ms, "
        f"synthesis p50 {s50:7.2f} ms (ratio to direct {s50 / d50:.2f}x)"
    )


async def bench_stop(broker: Mosquitto, piper: LaunchedServer, runs: int) -> None:
    sink = ProbeSink(paced=True)
    latencies: list[float] = []
    async with (
        in_process_speaker(broker, piper.uri, sink, "bench2") as speaker,
        MqttProbe(broker.host, broker.port) as client,
    ):
        for i in range(runs):
            first = sink.arm()
            await client.publish(
                "bench2/tts/text", json.dumps({"text": LONG_TEXT, "id": f"l{i}"}), qos=1
            )
            await asyncio.wait_for(first, 30)
            await asyncio.sleep(0.1 + (i % 5) * 0.05)
            start = time.perf_counter()
            await client.publish("bench2/tts/stop", b"", qos=1)
            await until(lambda: sink.aborted_at is not None, limit=10, step=0.0002)
            assert sink.aborted_at is not None
            latencies.append(sink.aborted_at - start)
            await until(lambda: speaker.current is None)
    p50, p95 = pct(latencies, 0.5) * 1000, pct(latencies, 0.95) * 1000
    print(f"\n2) stop -> silence, {runs} stops during a long utterance (paced null sink)")
    print(f"   p50 {p50:.2f} ms  p95 {p95:.2f} ms  max {max(latencies) * 1000:.2f} ms; ", end="")
    print(f"goal p95 <= 10 ms: {'met' if p95 <= 10 else 'NOT met'}")
    print(f"   audio written after a stop: {sink.writes_after_abort} blocks")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def bench_burst(broker: Mosquitto, piper: LaunchedServer, count: int, workdir: Path) -> None:
    speaker = SpeakerProcess(workdir, broker, piper.uri, ["--no-pacing", "--base-topic", "bench3"])
    speaker.argv[speaker.argv.index("--sink") + 1] = "null"
    speaker.argv.remove("--debug")
    speaker.start()
    try:
        await wait_until(lambda: get_json(f"{speaker.url}/health"), lambda h: h["mqtt_connected"])
        pid = speaker.pid
        rss_before = rss_kib(pid)
        async with aiomqtt.Client(broker.host, broker.port, max_inflight_messages=1000) as client:
            client.pending_calls_threshold = count + 1
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    client.publish(
                        "bench3/tts/text", json.dumps({"text": f"Mensaje {i}.", "id": f"b{i}"}), 1
                    )
                    for i in range(count)
                )
            )
            published = time.perf_counter() - start
        stats = await wait_until(
            lambda: get_json(f"{speaker.url}/api/stats"),
            lambda s: s["utterances"] + s["rejected_total"] >= count,
            timeout=120,
        )
        accepted = time.perf_counter() - start
        snapshot = (stats["played"], stats["queue_size"], stats["playing"])
        stats = await wait_until(
            lambda: get_json(f"{speaker.url}/api/stats"),
            lambda s: s["played"] >= count,
            timeout=600,
        )
        done = time.perf_counter() - start
        rss_after = rss_kib(pid)
    finally:
        speaker.stop()
    played, queued, playing = snapshot
    lost = count - stats["played"]
    print(f"\n3) burst of {count} messages published as fast as possible (null sink, no pacing)")
    print(f"   published in {published:.2f} s; all accepted after {accepted:.2f} s")
    print(
        f"   at that moment: played {played} + queued {queued} + playing {playing} = "
        f"{played + queued + playing}"
    )
    print(
        f"   all played after {done:.2f} s: played {stats['played']}, duplicates "
        f"{stats['duplicates']}, rejected {stats['rejected_total']}, lost {lost}"
    )
    print(
        f"   speaker RSS before {rss_before / 1024:.1f} MiB, after {rss_after / 1024:.1f} MiB "
        f"(ratio {rss_after / max(rss_before, 1):.2f}x)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="speaker-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "voice").mkdir()
        (workdir / "piper").mkdir()
        (workdir / "broker").mkdir()
        (workdir / "speaker").mkdir()
        write_voice(workdir / "voice")
        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        piper = LaunchedServer.tiny_piper(workdir / "voice", workdir / "piper")
        piper.start()
        try:
            async with asyncio.timeout(60):
                while True:
                    with contextlib.suppress(OSError):
                        await direct_first_audio(piper.uri)
                        break
                    await asyncio.sleep(0.1)
            print("moxie-speaker benchmark (same machine, same voice, one run)")
            await bench_first_audio(broker, piper, args.runs)
            await bench_stop(broker, piper, args.runs)
            await bench_burst(broker, piper, args.burst, workdir / "speaker")
        finally:
            piper.stop()
            broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
