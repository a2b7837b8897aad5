"""moxie-speaker: Moxie's voice. Speaks the MQTT speech mirror through a Wyoming TTS server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from pathlib import Path
import signal
from typing import Any

from wyoming_servers.speech_core import DEFAULT_BASE_TOPIC, DISCOVERY_PREFIX, Topics

from .discovery import DEFAULT_LANGUAGE, LANGUAGES, VERSION
from .journal import Journal
from .monitor import make_app, monitor_access, start_monitor
from .mqtt import MqttBridge, MqttSettings
from .sinks import make_sink
from .speaker import Speaker
from .synth import WyomingSynth

_LOGGER = logging.getLogger("wyoming_servers.speaker")

ENV_PREFIX = "MOXIE_SPEAKER_"
TRUE = {"1", "true", "yes", "on"}


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_flag(name: str) -> bool:
    return str(_env(name, "")).strip().lower() in TRUE


def build_parser() -> argparse.ArgumentParser:
    """Command line; every option's default comes from MOXIE_SPEAKER_<OPTION> when set."""
    parser = argparse.ArgumentParser(
        prog="moxie-speaker",
        description=__doc__,
        epilog="Every option can also be set as MOXIE_SPEAKER_<OPTION>.",
    )
    add = parser.add_argument
    add("--mqtt-host", default=_env("MQTT_HOST", "127.0.0.1"), help="MQTT broker host")
    add("--mqtt-port", type=int, default=int(_env("MQTT_PORT", "1883")), help="MQTT port")
    add("--mqtt-username", default=_env("MQTT_USERNAME"), help="MQTT user name")
    add("--mqtt-password", default=_env("MQTT_PASSWORD"), help="MQTT password")
    add("--mqtt-tls", action="store_true", default=_env_flag("MQTT_TLS"), help="Use TLS")
    add("--mqtt-ca-file", default=_env("MQTT_CA_FILE"), help="CA bundle for TLS")
    add(
        "--mqtt-tls-insecure",
        action="store_true",
        default=_env_flag("MQTT_TLS_INSECURE"),
        help="Do not verify the broker's certificate",
    )
    add(
        "--mqtt-client-id",
        default=_env("MQTT_CLIENT_ID"),
        help="Client id of the persistent session (default: moxie-speaker-<device id>)",
    )
    add("--base-topic", default=_env("BASE_TOPIC", DEFAULT_BASE_TOPIC), help="Base topic")
    add(
        "--discovery-prefix",
        default=_env("DISCOVERY_PREFIX", DISCOVERY_PREFIX),
        help="Home Assistant MQTT discovery prefix",
    )
    add(
        "--tts-uri",
        default=_env("TTS_URI", "tcp://127.0.0.1:10200"),
        help="Wyoming TTS server (tcp://host:port or unix://path)",
    )
    add("--voice", default=_env("VOICE"), help="Voice name (default: the server's default)")
    add("--speaker", default=_env("SPEAKER"), help="Speaker of a multi-speaker voice")
    add(
        "--sink",
        default=_env("SINK", "aplay"),
        help="Audio output: aplay[:<args>], paplay[:<args>], command:<argv>, wav:<dir>, null",
    )
    add(
        "--no-pacing",
        action="store_true",
        default=_env_flag("NO_PACING"),
        help="wav/null sinks: write as fast as synthesized instead of in real time",
    )
    add(
        "--volume",
        type=int,
        default=None if _env("VOLUME") is None else int(_env("VOLUME")),
        help="Initial volume in percent (default: the last one set over MQTT, else 100)",
    )
    add(
        "--stop-clears-queue",
        action="store_true",
        default=_env_flag("STOP_CLEARS_QUEUE"),
        help="A stop also drops every waiting utterance",
    )
    add(
        "--chunk-timeout",
        type=float,
        default=float(_env("CHUNK_TIMEOUT", "30")),
        help="Seconds to wait for a missing chunk before speaking what came",
    )
    add(
        "--max-age",
        type=float,
        default=float(_env("MAX_AGE", "0")),
        help="Drop speech whose timestamp is older than this many seconds (0: never)",
    )
    add(
        "--state-dir",
        default=_env("STATE_DIR"),
        help="Directory of the crash-safe speech journal (default: no journal)",
    )
    add(
        "--monitor",
        default=_env("MONITOR", "127.0.0.1:8787"),
        help="Monitor address host:port ('off' to disable)",
    )
    add(
        "--monitor-token",
        default=_env("MONITOR_TOKEN"),
        help="Token the monitor requires (default: none on loopback; elsewhere a generated one, "
        "kept in --state-dir and logged)",
    )
    add(
        "--monitor-trusted-ip",
        default=_env("MONITOR_TRUSTED_IP"),
        help="Client address let into the monitor without the token "
        "(the add-on: Home Assistant's ingress proxy, 172.30.32.2)",
    )
    add(
        "--language",
        choices=LANGUAGES,
        default=_env("LANGUAGE", DEFAULT_LANGUAGE),
        help="Language of the discovered entities' names and the monitor page (es or en)",
    )
    add("--debug", action="store_true", default=_env_flag("DEBUG"), help="Log DEBUG messages")
    add(
        "--log-format",
        default=_env("LOG_FORMAT", "%(asctime)s %(levelname)s %(name)s: %(message)s"),
        help="Format for log messages",
    )
    add("--version", action="version", version=VERSION, help="Print version and exit")
    return parser


async def run(args: argparse.Namespace) -> None:
    """Run speaker, MQTT bridge and monitor until cancelled."""
    topics = Topics(args.base_topic, args.discovery_prefix)
    synth = WyomingSynth(args.tts_uri, voice=args.voice, speaker=args.speaker)
    sink = make_sink(args.sink, paced=not args.no_pacing)
    journal = Journal(Path(args.state_dir)) if args.state_dir else None
    speaker = Speaker(
        synth,
        sink,
        chunk_timeout=args.chunk_timeout,
        max_age=args.max_age,
        stop_clears_queue=args.stop_clears_queue,
        volume=100 if args.volume is None else args.volume,
        journal=journal,
    )
    speaker.restore()
    settings = MqttSettings(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_username,
        password=args.mqtt_password,
        tls=args.mqtt_tls,
        ca_file=args.mqtt_ca_file,
        tls_insecure=args.mqtt_tls_insecure,
        client_id=args.mqtt_client_id or f"moxie-speaker-{topics.device_id}",
    )
    language = args.language
    if language not in LANGUAGES:  # e.g. a bad MOXIE_SPEAKER_LANGUAGE (argparse checks flags)
        _LOGGER.warning("Unknown language %r; using %s", language, DEFAULT_LANGUAGE)
        language = DEFAULT_LANGUAGE
    bridge = MqttBridge(
        settings, topics, speaker, restore_volume=args.volume is None, language=language
    )
    runner = None
    if args.monitor and args.monitor.lower() != "off":
        host, _, port = args.monitor.rpartition(":")
        host = host or "127.0.0.1"
        access = monitor_access(
            host,
            int(port),
            token=args.monitor_token,
            trusted_ip=args.monitor_trusted_ip,
            state_dir=Path(args.state_dir) if args.state_dir else None,
        )
        app = make_app(speaker, bridge, language=language, access=access)
        runner = await start_monitor(app, host, int(port))
    _LOGGER.info("Ready: %s -> %s -> %s sink", topics.tts_text, args.tts_uri, sink.name)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(speaker.run())
            group.create_task(bridge.run())
    finally:
        if runner is not None:
            await runner.cleanup()
        if journal is not None:
            journal.close()


def main() -> None:
    """Console script entry point."""
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    if not args.debug:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def _main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run(args)
        _LOGGER.info("Stopped")

    asyncio.run(_main())


if __name__ == "__main__":
    main()
