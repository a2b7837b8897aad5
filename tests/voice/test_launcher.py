"""moxie-piper, Moxie's voice launcher, starts moxie-tts by default (`--engine moxie`)."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import subprocess
import sys
import time

import pytest

from peers.process import outside_free_port
from peers.voices import describe, link_joe, synthesize
from tests.voice.conftest import JOE, ROOT, WAIT, seconds


class Launched:
    """moxie-piper started as a user would, without --engine or MOXIE_* variables."""

    def __init__(self, workdir: Path) -> None:
        """Start with the joe voice in <data>/piper and wait for moxie-tts's "Ready:"."""
        link_joe(workdir / "piper")
        self.uri = f"tcp://127.0.0.1:{outside_free_port()}"
        self.log = workdir / "moxie-piper.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOXIE_")}
        argv = [
            sys.executable, "-m", "wyoming_servers.launchers.piper", "--uri", self.uri,
            "--data-dir", str(workdir), "--voice", JOE, "--offline", "--no-zeroconf",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        deadline = time.monotonic() + WAIT
        while "Ready:" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(self.text()[-3000:])
            time.sleep(0.05)

    def text(self) -> str:
        """The log so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(30)


@pytest.fixture
def moxie_piper(tmp_path: Path) -> Iterator[Launched]:
    """moxie-piper with its defaults (the joe voice, offline, no zeroconf)."""
    launched = Launched(tmp_path)
    yield launched
    launched.stop()


async def test_moxie_piper_runs_moxie_tts_by_default(
    moxie_piper: Launched, socket_enabled: None
) -> None:
    """Without --engine, the launcher serves moxie-tts with its voice from <data>/piper."""
    info = await describe(moxie_piper.uri)
    pcm, rate, width, channels = await synthesize(moxie_piper.uri, "Good night, little star.")

    (program,) = info.tts
    assert program.name == "moxie-tts"
    assert program.supports_synthesize_streaming
    assert [voice.name for voice in program.voices] == [JOE]
    assert (rate, width, channels) == (22050, 2, 1)
    assert seconds(pcm) > 1.0
    assert "Starting moxie-tts" in moxie_piper.text()
    assert moxie_piper.stop() == 0  # SIGTERM is a clean stop
