"""moxie-tts as users run it (`python -m wyoming_servers.voice`) with the real joe voice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import subprocess
import sys

from peers.process import ROOT, outside_free_port, stop_process, wait_for_log
from peers.voices import joe_voice_dir

WAIT = 120.0  # generous bound for a loaded 2-core machine


class MoxieTts:
    """The server process on a loopback port; its log is read by the tests."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, args: Sequence[str] = ()) -> None:
        """Prepare a server with the joe voice."""
        self.port = outside_free_port()
        self.log = workdir / "moxie-tts.log"
        self.argv = [
            sys.executable, "-m", "wyoming_servers.voice", "--uri", self.uri,
            "--data-dir", str(joe_voice_dir()), "--debug", *args,
        ]  # fmt: skip
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Wyoming URI of the server."""
        return f"tcp://{self.host}:{self.port}"

    def log_text(self) -> str:
        """What the server logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start and wait for "Ready" (logged once the voice is loaded and warm)."""
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for_log(self._proc, self.log, "Ready:", WAIT, "moxie-tts")

    def stop(self) -> None:
        """SIGTERM, as a service manager would."""
        proc, self._proc = self._proc, None
        stop_process(proc)

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._proc is not None and self._proc.poll() is None
