"""A real Mosquitto broker on an ephemeral loopback port, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import socket
import subprocess
import time

from peers.process import free_port


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate authority and a server certificate it signed (PEM files)."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(workdir: Path) -> TlsFiles:
    """Create a CA and a server certificate with openssl, like OpenMoxie's `keys/`.

    OpenMoxie's Mosquitto listens on 8883 with self-signed keys: a CA without extensions and a
    server certificate for `mqtt.example.com` (no subject alternative name), whatever the
    broker's address.
    """
    openssl = shutil.which("openssl") or "/usr/bin/openssl"
    ca_key, ca, key, csr, cert = (
        workdir / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=MQTT CA",
        "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mqtt.example.com",
        "-keyout", str(key), "-out", str(csr))  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-out", str(cert))  # fmt: skip
    return TlsFiles(ca=ca, cert=cert, key=key)


class Mosquitto:
    """Start, stop and restart a real mosquitto on 127.0.0.1 (same port across restarts)."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = True,
        tls: TlsFiles | None = None,
        log_topic: bool = False,
    ) -> None:
        """Prepare a broker whose config, log and persistence live in workdir.

        With tls, its one listener speaks TLS with that certificate (anonymous clients). With
        log_topic, it also publishes its log on `$SYS/broker/log/#` (as OpenMoxie's does).
        """
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "mosquitto.log"
        self.conf_path = workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"log_dest file {self.log_path}",
            "log_type all",
            "max_queued_messages 100000",
        ]
        self.tls = tls
        if tls is not None:
            lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
        if log_topic:
            lines.append("log_dest topic")
        if os.geteuid() == 0:
            # As root, mosquitto would drop to its own user, which cannot write in pytest's
            # private temporary folders.
            lines.append("user root")
        if persistence:
            lines += ["persistence true", f"persistence_location {workdir}/"]
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, so a persistent broker saves its state)."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    async def wait_subscribed(self, topic: str, timeout: float = 10.0) -> None:
        """Wait until the broker's log shows a client subscribed to topic."""
        needle = f"\t{topic} (QoS"
        async with asyncio.timeout(timeout):
            while needle not in self.log_path.read_text(errors="replace"):
                await asyncio.sleep(0.02)

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the broker's log, for error messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
