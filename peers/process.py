"""Processes and ports: free loopback ports, waiting for a log line, stopping a process."""

from __future__ import annotations

from pathlib import Path
import signal
import socket
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outside_free_port() -> int:
    """Find a free loopback port in a child process (session fixtures run with sockets blocked)."""
    code = "from peers.process import free_port; print(free_port())"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)
    return int(out.stdout)


def wait_for_log(
    proc: subprocess.Popen[bytes],
    log: Path,
    marker: str,
    timeout: float,
    name: str = "process",
    *,
    since: int = 0,
) -> None:
    """Wait until the process logged marker; fail if it exits first or takes over timeout s.

    Only what the log holds after its first `since` bytes counts (a restart appending to it).
    """
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_bytes()[since:].decode(errors="replace") if log.exists() else ""
        if marker in text:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {text[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: {marker!r} not logged in {timeout} s: {text[-3000:]}")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes] | None) -> int | None:
    """SIGTERM, as a service manager would (killed when it does not go); the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
