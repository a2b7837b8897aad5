"""Benchmark: end of the robot's speech -> Moxie's reply published for the robot.

A simulated Moxie robot (peers.robot_sim, written from OpenMoxie's protocol) on its own real
Mosquitto talks to a real Home Assistant whose Moxie serves it (Robot Moxie): joe's question
streamed as zmqSTTRequest frames in real time, transcribed by moxie-whisper (Whisper tiny.en)
through Moxie's pipeline, answered by Moxie's agent on the loopback Ollama (15 tokens/s, 500 ms to
the first token; a one-sentence answer, as a robot's turn is). The robot sends its
RemoteChatRequest the moment the transcript arrives, as the robot does.

Per run, from the END_OF_SPEECH frame leaving the robot: the zmqSTTResponse arriving, and the
remote_chat reply arriving; printed as p50 / p95 over the runs (after one warm-up turn).

Run: .venv/bin/python bench/robot_bench.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    FIRST_TOKEN_DELAY,
    TOKENS_PER_SECOND,
    SlowStartOllama,
    english_moxie,
    until,
)
from peers.broker import Mosquitto  # noqa: E402
from peers.ollama_server import ChatReply, tokenize  # noqa: E402
from peers.robot_sim import RobotSim  # noqa: E402
from peers.voices import SENTENCE, LaunchedServer, joe_pcm16  # noqa: E402

ANSWER = "The kitchen light is on, and tonight the stars are telling a story about you."
QUIET = b"\x00\x00" * 16000  # one second of silence after the question (the robot's VAD ends it)
ROBOT = "assist_satellite.moxie_robot"


def percentile(values: list[float], fraction: float) -> float:
    """Return the value below which fraction of values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def turn(robot: RobotSim, ollama: SlowStartOllama, pcm: bytes) -> tuple[float, float]:
    """One robot turn; return (transcript, reply) seconds after the end of speech."""
    ollama.replies.append(ChatReply(content=tokenize(ANSWER)))
    utterance = await robot.say_to_robot(pcm)
    heard = await robot.stt_response(utterance)
    if heard.error_code:
        raise RuntimeError(f"speech-to-text failed: {heard}")
    event_id = f"bench-{utterance}"
    await robot.send_chat(heard.speech, command="continue", event_id=event_id)
    await robot.chat_reply(event_id)
    reply_at = next(
        c.at for c in robot.commands["remote_chat"] if c.json().get("event_id") == event_id
    )
    end = robot.ended_at[utterance]
    return heard.at - end, reply_at - end


async def run(runs: int) -> None:
    """Start everything, run the turns, print p50/p95."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="robot-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("house", "robot", "ha", "whisper", "piper"):
            (workdir / name).mkdir()
        house = Mosquitto(workdir / "house", persistence=False)
        robot_broker = Mosquitto(workdir / "robot", persistence=False)
        house.start()
        robot_broker.start()
        servers = [
            LaunchedServer.whisper(workdir / "whisper"),
            LaunchedServer.joe_piper(workdir / "piper"),
        ]
        for server in servers:
            server.start()
        ollama = SlowStartOllama(models=["qwen3:4b"], token_interval=1 / TOKENS_PER_SECOND)
        await ollama.start()
        robot = RobotSim(robot_broker.host, robot_broker.port)
        await robot.start()
        options = {
            "robot_enabled": True,
            "robot_host": robot_broker.host,
            "robot_port": robot_broker.port,
            "robot_tls": False,
            "robot_device_id": robot.device_id,
        }
        pcm = joe_pcm16(SENTENCE) + QUIET
        try:
            async with english_moxie(workdir / "ha", house, ollama, servers, options) as (
                hass,
                _entry,
                _engines,
            ):
                await until(
                    lambda: (s := hass.states.get(ROBOT)) is not None and s.state != "unavailable"
                )
                await robot.wait_microphone_subscribed()
                await turn(robot, ollama, pcm)  # warm-up: models and connections
                results = [await turn(robot, ollama, pcm) for _ in range(runs)]
        finally:
            await robot.stop()
            await ollama.stop()
            for server in servers:
                server.stop()
            robot_broker.stop()
            house.stop()
    load_after = os.getloadavg()

    print(
        f"Robot Moxie benchmark: {runs} turns (+1 warm-up); joe's question ({len(SENTENCE)} chars)"
        f" streamed in real time as 100 ms zmqSTTRequest frames; Whisper tiny.en; answer of "
        f"{len(tokenize(ANSWER))} tokens at {TOKENS_PER_SECOND} tokens/s, first token after "
        f"{FIRST_TOKEN_DELAY * 1000:.0f} ms; {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print(f"  {'ms after END_OF_SPEECH':<34}{'p50':>8}{'p95':>8}{'min':>8}{'max':>8}")
    for label, column in (("zmqSTTResponse (transcript)", 0), ("remote_chat reply", 1)):
        values = [r[column] * 1000 for r in results]
        print(
            f"  {label:<34}{statistics.median(values):8.0f}{percentile(values, 0.95):8.0f}"
            f"{min(values):8.0f}{max(values):8.0f}"
        )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if os.environ.get("BENCH_LOG") else logging.ERROR)
    started = time.monotonic()
    asyncio.run(run(args.runs))
    print(f"  (took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
