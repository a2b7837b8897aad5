"""moxie-tts: Moxie's fast voice. A Wyoming TTS server on piper-tts, first clause first."""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
import logging
import os
from pathlib import Path
import signal
import time
from typing import Any

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.server import AsyncServer, AsyncTcpServer

from wyoming_servers.speech_core import Cut

from .engine import Engine, Tuning, Voice, find_voices, load_voice
from .handler import Settings, VoiceEventHandler

_LOGGER = logging.getLogger("wyoming_servers.voice")

VERSION = "0.1.0"
ENV_PREFIX = "MOXIE_TTS_"
TRUE = {"1", "true", "yes", "on"}
PIPER = Attribution(name="rhasspy", url="https://github.com/rhasspy/piper")


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_flag(name: str) -> bool:
    return str(_env(name, "")).strip().lower() in TRUE


def _env_list(name: str, separator: str) -> list[str]:
    return [item for item in str(_env(name, "")).split(separator) if item]


def _env_float(name: str) -> float | None:
    value = _env(name)
    return float(value) if value not in (None, "") else None


def build_parser() -> argparse.ArgumentParser:
    """Command line; every option's default comes from MOXIE_TTS_<OPTION> when set."""
    parser = argparse.ArgumentParser(
        prog="moxie-tts",
        description=__doc__,
        epilog="Every option can also be set as MOXIE_TTS_<OPTION> (lists: DATA_DIR joined "
        "with the path separator, VOICE with commas; flags: 1/true/yes/on).",
    )
    add = parser.add_argument
    add("--uri", default=_env("URI", "tcp://0.0.0.0:10200"), help="unix:// or tcp://")
    add(
        "--data-dir",
        action="append",
        default=_env_list("DATA_DIR", os.pathsep),
        help="Directory with <voice>.onnx and <voice>.onnx.json (repeatable)",
    )
    add(
        "--voice",
        action="append",
        default=_env_list("VOICE", ","),
        help="Voice to load (repeatable; the first is the default). Default: every voice found",
    )
    add(
        "--clause-words",
        type=int,
        default=int(_env("CLAUSE_WORDS", "2")),
        help="Words before a comma, colon, semicolon, dash or ¿¡ for the first clause to be "
        "spoken alone (0: first piece is a whole sentence, like wyoming-piper)",
    )
    add(
        "--clause-ahead",
        type=float,
        default=float(_env("CLAUSE_AHEAD", "1.0")),
        help="Later, a clause is spoken alone when less audio than this (seconds) is ahead",
    )
    add(
        "--max-chars",
        type=int,
        default=int(_env("MAX_CHARS", "240")),
        help="Longest piece synthesized at once (cut at a clause or a space)",
    )
    add(
        "--samples-per-chunk",
        type=int,
        default=int(_env("SAMPLES_PER_CHUNK", "1024")),
        help="Samples per audio-chunk event",
    )
    add(
        "--threads",
        type=int,
        default=int(_env("THREADS", "0")),
        help="ONNX intra-op threads (0: one per core)",
    )
    add(
        "--memory",
        choices=("shrink", "keep", "no-arena"),
        default=_env("MEMORY", "shrink"),
        help="onnxruntime's memory arena: given back after each request (shrink), kept at its "
        "peak (keep), or not used (no-arena); see the README for the measured trade-off",
    )
    add("--length-scale", type=float, default=_env_float("LENGTH_SCALE"), help="Speed")
    add("--noise-scale", type=float, default=_env_float("NOISE_SCALE"), help="Generator noise")
    add("--noise-w-scale", type=float, default=_env_float("NOISE_W_SCALE"), help="Width noise")
    add(
        "--no-streaming",
        action="store_true",
        default=_env_flag("NO_STREAMING"),
        help="Do not offer synthesize-start/-chunk/-stop",
    )
    add(
        "--zeroconf",
        nargs="?",
        const="moxie-tts",
        default=_env("ZEROCONF"),
        help="Announce over zeroconf (optional name)",
    )
    add("--debug", action="store_true", default=_env_flag("DEBUG"), help="Log DEBUG messages")
    add("--log-format", default=_env("LOG_FORMAT", logging.BASIC_FORMAT), help="Log format")
    add("--version", action="version", version=VERSION)
    return parser


def load_voices(args: argparse.Namespace, tuning: Tuning) -> dict[str, Voice]:
    """Load the chosen voices (every voice found without --voice) now, not at first use."""
    found = find_voices([Path(path) for path in args.data_dir])
    names = args.voice or sorted(found)
    missing = [name for name in names if name not in found]
    if missing or not names:
        raise SystemExit(
            f"Voice(s) {', '.join(missing) or '(any)'} not found in {args.data_dir}: "
            "put <voice>.onnx and <voice>.onnx.json in a --data-dir"
        )
    voices = {}
    for name in dict.fromkeys(names):
        started = time.monotonic()
        voices[name] = load_voice(name, *found[name], tuning)
        _LOGGER.debug("Loaded %s in %.2f s", name, time.monotonic() - started)
    return voices


def make_info(engine: Engine, *, streaming: bool) -> Info:
    """Describe the loaded voices, streaming or not, to Home Assistant and the speaker."""
    voices = [
        TtsVoice(
            name=voice.name,
            description=voice.description,
            attribution=PIPER,
            installed=True,
            version=None,
            languages=[voice.language],
            speakers=[TtsVoiceSpeaker(name=name) for name in voice.speakers] or None,
        )
        for voice in engine.voices.values()
    ]
    return Info(
        tts=[
            TtsProgram(
                name="moxie-tts",
                description="Moxie's fast voice: Piper, first clause first, abortable",
                attribution=PIPER,
                installed=True,
                version=VERSION,
                voices=voices,
                supports_synthesize_streaming=streaming,
            )
        ]
    )


async def serve(args: argparse.Namespace) -> None:
    """Load, warm up, then serve until SIGINT/SIGTERM."""
    tuning = Tuning(
        threads=args.threads,
        memory=args.memory,
        length_scale=args.length_scale,
        noise_scale=args.noise_scale,
        noise_w_scale=args.noise_w_scale,
    )
    voices = load_voices(args, tuning)
    engine = Engine(voices, next(iter(voices)), tuning)
    started = time.monotonic()
    engine.warm_up()
    _LOGGER.debug("Warmed up in %.2f s", time.monotonic() - started)
    info = make_info(engine, streaming=not args.no_streaming)
    settings = Settings(
        cut=Cut(clause_words=args.clause_words, max_chars=args.max_chars),
        clause_ahead=args.clause_ahead,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
    )
    server = AsyncServer.from_uri(args.uri)
    if args.zeroconf:
        if not isinstance(server, AsyncTcpServer):
            raise SystemExit("Zeroconf requires a tcp:// uri")
        from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415

        await HomeAssistantZeroconf(
            name=args.zeroconf, port=server.port, host=server.host
        ).register_server()
    _LOGGER.info("Ready: %s on %s", ", ".join(voices), args.uri)
    task = asyncio.create_task(
        server.run(partial(VoiceEventHandler, lambda: info, engine, settings))
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, task.cancel)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        _LOGGER.info("Stopped")
    finally:
        await server.stop()
        engine.close()


def main() -> None:
    """Console script entry point."""
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
