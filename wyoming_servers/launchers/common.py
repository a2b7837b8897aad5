"""What both launchers share: the Moxie data folder, environment options, starting a server."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
import logging
import os
from pathlib import Path
import shlex
import signal
import sys
import textwrap
import threading
import time
from types import FrameType
from typing import NoReturn

_LOGGER = logging.getLogger("wyoming_servers.launchers")

ENV_DATA_DIR = "MOXIE_DATA_DIR"
ADDON_DATA_DIR = Path("/data")
HOME_DATA_DIR = Path("~/.local/share/moxie")
EXIT_MISSING = 2
LOG_FORMAT = logging.BASIC_FORMAT  # the upstream servers' own format
TRUE = {"1", "true", "yes", "on"}
PROGRESS_STEP = 10  # percent between download progress lines
PROGRESS_INTERVAL = 5.0  # seconds between download progress lines (also when the size is unknown)
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - compared with, never bound


class Env:
    """Option defaults read from <PREFIX><OPTION> environment variables."""

    def __init__(self, prefix: str) -> None:
        """Read variables named prefix + option name."""
        self.prefix = prefix

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of PREFIX+name, or default when unset or empty."""
        return os.environ.get(self.prefix + name) or default

    def flag(self, name: str) -> bool:
        """Tell whether PREFIX+name is 1, true, yes or on."""
        return os.environ.get(self.prefix + name, "").strip().lower() in TRUE


def default_data_dir(env: Env) -> Path:
    """<PREFIX>DATA_DIR, else MOXIE_DATA_DIR, else /data in an add-on, else ~/.local/share/moxie."""
    if value := env.get("DATA_DIR") or os.environ.get(ENV_DATA_DIR):
        return Path(value).expanduser()
    if ADDON_DATA_DIR.is_dir():
        return ADDON_DATA_DIR
    return HOME_DATA_DIR.expanduser()


def add_common_options(
    parser: argparse.ArgumentParser, env: Env, *, uri: str, zeroconf: str
) -> None:
    """Options every launcher has: --uri, --data-dir, zeroconf, offline mode and --debug."""
    add = parser.add_argument
    add("--uri", default=env.get("URI", uri), help=f"Wyoming URI to serve (default: {uri})")
    add(
        "--data-dir",
        type=Path,
        default=default_data_dir(env),
        help="Moxie data folder; models live in a subfolder (default: $MOXIE_DATA_DIR, "
        "else /data when it exists, else ~/.local/share/moxie)",
    )
    add(
        "--zeroconf",
        metavar="NAME",
        default=env.get("ZEROCONF", zeroconf),
        help=f"Name announced over zeroconf for Home Assistant (default: {zeroconf})",
    )
    add(
        "--no-zeroconf",
        action="store_true",
        default=env.flag("NO_ZEROCONF"),
        help="Do not announce the server over zeroconf",
    )
    add(
        "--offline",
        "--local-files-only",
        dest="offline",
        action="store_true",
        default=env.flag("OFFLINE"),
        help="Never download: fail with a clear message when the model is missing",
    )
    add("--debug", action="store_true", default=env.flag("DEBUG"), help="Log DEBUG messages")


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split argv at the first "--": the launcher's own arguments, then upstream's."""
    args = list(argv)
    if "--" in args:
        index = args.index("--")
        return args[:index], args[index + 1 :]
    return args, []


def zeroconf_args(args: argparse.Namespace) -> list[str]:
    """Upstream's `--zeroconf NAME`, when wanted and possible (tcp:// only)."""
    if args.no_zeroconf or not args.zeroconf:
        return []
    if not args.uri.startswith("tcp://"):
        _LOGGER.info("Zeroconf needs a tcp:// URI; not announcing %s", args.uri)
        return []
    return ["--zeroconf", args.zeroconf]


def announce_reachable_address() -> None:
    """Make upstream's zeroconf announce this machine's address, never a wildcard.

    Upstream announces the host of --uri, so the default tcp://0.0.0.0 would tell Home Assistant
    to connect to 0.0.0.0. Without a host, wyoming's HomeAssistantZeroconf finds the address of
    the interface that reaches the mDNS group itself: use that.
    """
    from wyoming import zeroconf  # noqa: PLC0415 - imports the zeroconf package

    upstream = zeroconf.HomeAssistantZeroconf

    class ReachableZeroconf(upstream):  # type: ignore[misc,valid-type]
        def __init__(self, port: int, name: str | None = None, host: str | None = None) -> None:
            super().__init__(port, name, None if host in WILDCARD_HOSTS else host)
            _LOGGER.info("Announcing %s on %s:%s over zeroconf", self.name, self.host, port)

    zeroconf.HomeAssistantZeroconf = ReachableZeroconf  # type: ignore[misc]


def setup_logging(debug: bool) -> None:
    """Log the launcher's lines like upstream does, leaving the root logger to upstream.

    Upstream configures logging itself (`--debug`, `--log-format` passed through after `--`).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    _LOGGER.addHandler(handler)
    _LOGGER.setLevel(logging.DEBUG if debug else logging.INFO)
    _LOGGER.propagate = False


def human_size(size: int) -> str:
    """Format a size for the log in decimal units, as the hub shows them: '63.2 MB', '4.8 kB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


class Progress:
    """Log a download's progress: the size, then every PROGRESS_STEP % or PROGRESS_INTERVAL s."""

    def __init__(self, logger: logging.Logger, name: str, total: int | None) -> None:
        """Start reporting the download of name (total bytes, None when unknown) to logger."""
        self.logger = logger
        self.name = name
        self.total = total
        self.done = 0
        self.start = self.last_time = time.monotonic()
        self.last_step = 0
        self._lock = threading.Lock()  # downloads may report from several threads

    def update(self, size: int) -> None:
        """Count size more bytes; log when a step is crossed or the interval has passed."""
        with self._lock:
            self._update(size)

    def reach(self, done: int) -> None:
        """Count up to done bytes in all (never back)."""
        with self._lock:
            if done > self.done:
                self._update(done - self.done)

    def _update(self, size: int) -> None:
        self.done += size
        now = time.monotonic()
        if self.total:
            step = min(100, self.done * 100 // self.total) // PROGRESS_STEP * PROGRESS_STEP
            if step > self.last_step or now - self.last_time >= PROGRESS_INTERVAL:
                self.last_step = max(step, self.last_step)
                self.last_time = now
                percent = min(100, self.done * 100 // self.total)
                self.logger.info(
                    "%s: %d%% (%s of %s)",
                    self.name, percent, human_size(self.done), human_size(self.total),
                )  # fmt: skip
        elif now - self.last_time >= PROGRESS_INTERVAL:
            self.last_time = now
            self.logger.info("%s: %s so far", self.name, human_size(self.done))

    def finish(self) -> None:
        """Log the size downloaded and the time taken."""
        self.logger.info(
            "Downloaded %s (%s) in %.1f s",
            self.name, human_size(self.done), time.monotonic() - self.start,
        )  # fmt: skip


# Why a model could not be had, in the user's language.
REASONS: dict[str, dict[str, str]] = {
    "offline": {"en": "offline mode: no download", "es": "modo sin conexión: no se descarga"},
    "download_failed": {"en": "download failed: {error}", "es": "la descarga falló: {error}"},
    "not_downloadable": {
        "en": "not in wyoming-piper's voice list, so not downloadable",
        "es": "no está en la lista de voces de wyoming-piper, así que no se puede descargar",
    },
}


def user_language() -> str:
    """Return "es" when the locale (LC_ALL, LC_MESSAGES, LANG) is Spanish, else "en"."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(name):
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def reason(key: str, **fields: object) -> str:
    """One of REASONS in the user's language."""
    return REASONS[key][user_language()].format(**fields)


def fail_missing(messages: Mapping[str, str], **fields: object) -> NoReturn:
    """Print one paragraph (in the user's language) saying what is missing and how to get it.

    Then exit with code 2: a supervisor can tell it from a crash.
    """
    message = messages[user_language()].format(**fields)
    text = textwrap.fill(
        " ".join(message.split()), 100, break_on_hyphens=False, break_long_words=False
    )
    print(text, file=sys.stderr)  # noqa: T201
    sys.exit(EXIT_MISSING)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_upstream(prog: str, run: Callable[[], None], argv: Sequence[str], debug: bool) -> int:
    """Run a server's entry point (upstream's or moxie-tts's) here; return an exit code."""
    _LOGGER.info("Starting %s %s", prog, shlex.join(argv))
    if "--zeroconf" in argv:
        announce_reachable_address()
    # A service manager stops with SIGTERM: end like Ctrl-C (upstream whisper has no handler).
    signal.signal(signal.SIGTERM, _interrupt)
    sys.argv = [prog, *argv]
    try:
        run()
    except KeyboardInterrupt:
        return 0
    except Exception as err:  # one line for users, the traceback with --debug
        if debug:
            _LOGGER.exception("%s stopped", prog)
        else:
            _LOGGER.error("%s stopped: %s (run with --debug for details)", prog, err)
        return 1
    return 0
