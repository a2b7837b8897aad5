"""Benchmark: Ollama's first token -> Moxie's first audio, versus the same text paced to Piper.

Everything runs in one go on this machine with the same tiny generated Piper voice:

- ours: the loopback Ollama streams an answer at a fixed token rate to Moxie's agent in a real
  Home Assistant (through `conversation.async_converse`); the agent mirrors each finished
  sentence on MQTT; the Moxie speaker synthesizes it through wyoming-piper into a probe sink.
  Measured: first token written by Ollama -> first mirrored message seen on the broker, and
  -> first audio byte at the sink.
- upstream, streaming: the same tokens at the same pace sent straight to wyoming-piper as
  synthesize-start / synthesize-chunk / synthesize-stop; first chunk sent -> first audio chunk.
- upstream, whole text: the same tokens at the same pace, then one synthesize with the whole
  text (what a client that waits for the full answer gets); first token -> first audio chunk.

Run: .venv/bin/python bench/agent_bench.py [--runs 20] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import override

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant.components import conversation  # noqa: E402
from homeassistant.core import Context  # noqa: E402
from wyoming.audio import AudioChunk, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.tts import (  # noqa: E402
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
)

from bench.common import home_assistant, loaded, speaker_on, until  # noqa: E402
from peers.broker import Mosquitto  # noqa: E402
from peers.entries import moxie_entry  # noqa: E402
from peers.mqtt import MqttProbe  # noqa: E402
from peers.ollama_server import ChatReply, OllamaServer, tokenize  # noqa: E402
from peers.tiny_voice import write_voice  # noqa: E402
from peers.voices import LaunchedServer  # noqa: E402
from wyoming_servers.speaker.sinks import AudioFormat, NullSink  # noqa: E402
from wyoming_servers.speaker.synth import WyomingSynth  # noqa: E402

ANSWER = (
    "¡Claro que sí! Las estrellas brillan porque son soles enormes y muy lejanos. "
    "Su luz viaja durante muchísimos años hasta llegar a tus ojos. ¿Quieres saber más?"
)
TOKENS = tokenize(ANSWER)
MIRROR = "moxie/tts/text"  # where Moxie's agent mirrors what it says
AGENT = {"model": "qwen3:4b", "prompt": "Eres Moxie."}  # Moxie's agent (subentry) options


class ProbeSink(NullSink):
    """A null sink that resolves a future at the first audio byte of an utterance."""

    def __init__(self) -> None:
        """Discard audio without pacing."""
        super().__init__(paced=False)
        self.first_write: asyncio.Future[float] | None = None

    def arm(self) -> asyncio.Future[float]:
        """Expect a new answer."""
        self.first_write = asyncio.get_running_loop().create_future()
        return self.first_write

    @override
    async def _open(self, utterance_id: str, audio_format: AudioFormat) -> None:
        pass

    @override
    async def _write(self, audio: bytes) -> None:
        if self.first_write is not None and not self.first_write.done():
            self.first_write.set_result(time.monotonic())


async def first_audio(client: AsyncTcpClient) -> float:
    """Read events until the first audio chunk; drain the rest; return its time."""
    first: float | None = None
    while True:
        event = await client.read_event()
        assert event is not None
        if first is None and AudioChunk.is_type(event.type):
            first = time.monotonic()
        if AudioStop.is_type(event.type) and first is not None:
            return first


async def piper_streaming(uri: str, interval: float) -> float:
    """Tokens paced as synthesize chunks: first chunk sent -> first audio chunk (seconds)."""
    host, port = uri.removeprefix("tcp://").split(":")
    async with AsyncTcpClient(host, int(port)) as client:
        reader = asyncio.create_task(first_audio(client))
        await client.write_event(SynthesizeStart().event())
        start = time.monotonic()
        for token in TOKENS:
            await client.write_event(SynthesizeChunk(text=token).event())
            await asyncio.sleep(interval)
        await client.write_event(SynthesizeStop().event())
        with contextlib.suppress(asyncio.TimeoutError):
            audio = await asyncio.wait_for(reader, 30)
            # wyoming-piper ends a streamed synthesis with synthesize-stopped after audio-stop.
            return audio - start
        raise RuntimeError("no audio")


async def piper_whole(uri: str, interval: float) -> float:
    """Tokens paced, then the whole text synthesized: first token -> first audio chunk."""
    host, port = uri.removeprefix("tcp://").split(":")
    start = time.monotonic()
    for _token in TOKENS:
        await asyncio.sleep(interval)
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Synthesize(text=ANSWER).event())
        return await first_audio(client) - start


def summary(label: str, values: list[float]) -> str:
    """Format p50 / mean / max in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    p50 = statistics.median(ms)
    mean = statistics.fmean(ms)
    return f"   {label:<52} p50 {p50:8.1f} ms  mean {mean:8.1f} ms  max {ms[-1]:8.1f} ms"


async def run(runs: int, interval: float) -> None:
    """Set everything up and measure."""
    with tempfile.TemporaryDirectory(prefix="agent-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("voice", "piper", "broker", "ha"):
            (workdir / name).mkdir()
        write_voice(workdir / "voice")
        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        piper = LaunchedServer.tiny_piper(workdir / "voice", workdir / "piper")
        piper.start()
        ollama = OllamaServer(models=["qwen3:4b"], token_interval=interval)
        await ollama.start()
        sink = ProbeSink()
        try:
            async with (
                speaker_on(broker, WyomingSynth(piper.uri), sink, "agent-bench-speaker") as speaker,
                home_assistant(workdir / "ha", broker) as hass,
                loaded(hass, moxie_entry(ollama.url, "es", AGENT)),
                MqttProbe(broker.host, broker.port, MIRROR) as probe,
            ):
                ours_audio: list[float] = []
                ours_mirror: list[float] = []
                streaming: list[float] = []
                whole: list[float] = []
                for index in range(runs + 1):  # the first run warms everything up
                    ollama.replies.append(ChatReply(content=TOKENS))
                    first = sink.arm()
                    seen = len(probe.messages[MIRROR])
                    await conversation.async_converse(
                        hass, "¿Por qué brillan las estrellas?", None, Context(),
                        language="es", agent_id="conversation.moxie",
                    )  # fmt: skip
                    audio = await asyncio.wait_for(first, 30)
                    await until(lambda: speaker.current is None and not len(speaker.queue))
                    token = ollama.first_token_at[-1]
                    if index:
                        ours_audio.append(audio - token)
                        ours_mirror.append(probe.messages[MIRROR][seen].at - token)
                    stream_latency = await piper_streaming(piper.uri, interval)
                    whole_latency = await piper_whole(piper.uri, interval)
                    if index:
                        streaming.append(stream_latency)
                        whole.append(whole_latency)
        finally:
            await ollama.stop()
            piper.stop()
            broker.stop()
    print(
        f"Moxie agent benchmark: {runs} runs, answer of {len(ANSWER)} chars in {len(TOKENS)} "
        f"tokens at {interval * 1000:.0f} ms/token (same machine, same voice, one run)"
    )
    print("first token -> ...")
    print(summary("ours: first mirrored sentence on MQTT", ours_mirror))
    print(summary("ours: first audio byte (agent -> MQTT -> speaker)", ours_audio))
    print(summary("wyoming-piper streaming chunks at the same pace", streaming))
    print(summary("wyoming-piper whole text after the last token", whole))
    ours, upstream = statistics.median(ours_audio), statistics.median(streaming)
    print(
        f"ours vs wyoming-piper streaming at p50: {(ours - upstream) * 1000:+.1f} ms "
        f"(ratio {ours / upstream:.2f}x)"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds per token")
    args = parser.parse_args()
    # Home Assistant's own warnings about the test harness are noise here.
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(run(args.runs, args.interval))


if __name__ == "__main__":
    main()
