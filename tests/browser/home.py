"""A real Home Assistant (`hass -c`, with its frontend) seeded with MQTT and a Moxie with a brain.

Started as a subprocess on a free loopback port, onboarded over its HTTP API like a first-time
owner would be through the onboarding screens; the test then logs in through the login page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
import json
import os
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any
import uuid

from playwright.async_api import APIRequestContext

from peers.entries import AGENT_OPTIONS
from peers.process import ROOT, outside_free_port, stop_process, wait_for_log
from scripts.dev_home import config_entry, write_http_port

USERNAME = "parent"
PASSWORD = "moxie-secret-1"  # noqa: S105 - the test owner of a throwaway Home Assistant
CONFIGURATION = """\
homeassistant:
  name: Casa
  language: es
  country: ES
  time_zone: Europe/Madrid
  unit_system: metric
frontend:
config:
api:
conversation:
logger:
  default: warning
  logs:
    custom_components.moxie: debug
"""


class LoopThread:
    """An asyncio loop in a thread, for the async probes of a synchronous browser test."""

    def __init__(self, workers: int = 2) -> None:
        self.loop = asyncio.new_event_loop()
        # The loop's executor threads start now, before any test (pytest-homeassistant's
        # cleanup check fails a test that leaves new threads behind).
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="moxie-browser")
        self.loop.set_default_executor(executor)
        barrier = threading.Barrier(workers)
        for _ in range(workers):
            executor.submit(barrier.wait, 10)
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="moxie-browser-loop", daemon=True
        )
        self._thread.start()

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class OllamaProcess:
    """The loopback Ollama in its own process."""

    def __init__(self, workdir: Path) -> None:
        self.port = outside_free_port()
        self.log = workdir / "ollama.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.browser.ollama_process", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        wait_for_log(self._proc, self.log, "Ready", 60)

    def stop(self) -> None:
        stop_process(self._proc)


class RealHome:
    """Home Assistant with the Moxie integration linked in, as a subprocess."""

    def __init__(self, workdir: Path, mqtt_port: int, ollama_url: str) -> None:
        self.config = workdir / "config"
        self.port = outside_free_port()
        self.log = workdir / "home-assistant.log"
        self.mqtt_port = mqtt_port
        self.ollama_url = ollama_url
        self.token = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        """Write configuration.yaml, link the integration, seed the MQTT and Moxie entries."""
        self.config.mkdir(parents=True)
        (self.config / "configuration.yaml").write_text(CONFIGURATION, encoding="utf-8")
        (self.config / "custom_components").mkdir()
        (self.config / "custom_components" / "moxie").symlink_to(
            ROOT / "custom_components" / "moxie"
        )
        agent = {
            "data": AGENT_OPTIONS,
            "subentry_id": uuid.uuid4().hex[:26].upper(),
            "subentry_type": "conversation",
            "title": "Cerebro de Moxie",  # the name the config flow gives it
            "unique_id": None,
        }
        entries = [
            config_entry(
                "mqtt", "Mosquitto", {"broker": "127.0.0.1", "port": self.mqtt_port}, None
            ),
            config_entry(
                "moxie",
                "Moxie",
                {"name": "Moxie", "base_topic": "moxie", "language": "es", "url": self.ollama_url},
                "moxie",
                subentries=[agent],
            ),
        ]
        storage = self.config / ".storage"
        storage.mkdir()
        write_http_port(storage, self.port, host="127.0.0.1")
        (storage / "core.config_entries").write_text(
            json.dumps(
                {
                    "version": 1,
                    "minor_version": 5,
                    "key": "core.config_entries",
                    "data": {"entries": entries},
                }
            ),
            encoding="utf-8",
        )

    def start(self) -> None:
        """Start Home Assistant and wait until it has started."""
        hass = Path(sys.executable).parent / "hass"
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [
                    str(hass),
                    "--config",
                    str(self.config),
                    "--skip-pip",
                    "--log-file",
                    str(self.log),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.config,
            )

    async def wait_started(self, request: APIRequestContext, timeout: float = 240.0) -> None:
        """Wait until the web UI answers (before and after onboarding alike)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"Home Assistant exited: {self.log_tail()}")
            try:
                response = await request.get(f"{self.url}/manifest.json", timeout=2000)
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.5)
                continue
            if response.ok:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"Home Assistant did not start: {self.log_tail()}")

    async def wait_running(self, request: APIRequestContext, timeout: float = 240.0) -> None:
        """Wait until Home Assistant says it is running (every integration set up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await request.get(f"{self.url}/api/config", headers=self.headers)
            if response.ok and (await response.json())["state"] == "RUNNING":
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"Home Assistant did not finish starting: {self.log_tail()}")

    async def onboard(self, request: APIRequestContext) -> None:
        """Create the owner and finish onboarding, as the onboarding screens do."""
        client_id = f"{self.url}/"
        response = await request.post(
            f"{self.url}/api/onboarding/users",
            data={
                "client_id": client_id,
                "name": "Mamá",
                "username": USERNAME,
                "password": PASSWORD,
                "language": "es",
            },
        )
        assert response.ok, await response.text()
        code = (await response.json())["auth_code"]
        token = await request.post(
            f"{self.url}/auth/token",
            form={"grant_type": "authorization_code", "code": code, "client_id": client_id},
        )
        assert token.ok, await token.text()
        self.token = (await token.json())["access_token"]
        for step, data in (
            ("core_config", {}),
            ("analytics", {}),
            (
                "integration",
                {"client_id": client_id, "redirect_uri": f"{self.url}/?auth_callback=1"},
            ),
        ):
            done = await request.post(
                f"{self.url}/api/onboarding/{step}", data=data, headers=self.headers
            )
            assert done.ok, (step, await done.text())

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, request: APIRequestContext, domain: str, service: str, **data: Any) -> Any:
        """Call an action through the REST API (with its response when it has one)."""
        query = "?return_response" if (domain, service) == ("conversation", "process") else ""
        response = await request.post(
            f"{self.url}/api/services/{domain}/{service}{query}",
            data=data,
            headers=self.headers,
            timeout=60000,
        )
        assert response.ok, await response.text()
        return await response.json()

    async def state(self, request: APIRequestContext, entity_id: str) -> dict[str, Any] | None:
        response = await request.get(f"{self.url}/api/states/{entity_id}", headers=self.headers)
        return await response.json() if response.ok else None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_process(self._proc)
