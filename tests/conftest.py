"""Fixtures shared by every test: the repo's custom_components, a real Mosquitto broker and voices.

The real peers they start are plain classes of the repository's `peers` package.
"""

from __future__ import annotations

from collections.abc import Iterator
import logging
from pathlib import Path
import sys

import pytest

# pytest-homeassistant-custom-component puts its own testing_config on sys.path, whose
# custom_components package would shadow ours: put the repo root first and import it now
# (the root also holds `peers`, the real protocol peers).
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import custom_components  # noqa: E402
from peers.broker import Mosquitto  # noqa: E402
from peers.voices import LaunchedServer  # noqa: E402

assert Path(custom_components.__file__).parent == ROOT / "custom_components"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_moxie_deprecations() -> Iterator[None]:
    """Fail any test during which Home Assistant's frame helper reports Moxie's own usage.

    Those reports (update listeners, deprecated helpers ...) announce code that stops working in a
    coming Home Assistant release.
    """
    collector = _Collector()
    logger = logging.getLogger("homeassistant.helpers.frame")
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    reports = [m for m in collector.messages if "integration 'moxie'" in m]
    if reports:
        pytest.fail("Home Assistant reported Moxie's usage: " + " | ".join(reports))


@pytest.fixture
def mosquitto(
    socket_enabled: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mosquitto]:
    """A real mosquitto broker on an ephemeral loopback port, stopped after the test."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


# Real speech servers, for every test that hears or speaks.


@pytest.fixture(scope="session")
def whisper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedServer]:
    """Real wyoming-faster-whisper (tiny.en, English, offline) started by moxie-whisper."""
    server = LaunchedServer.whisper(tmp_path_factory.mktemp("whisper_server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def joe_piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedServer]:
    """Real wyoming-piper (streaming) with the joe voice, offline, started by moxie-piper.

    Without Piper's random noise (passed through to upstream after `--`): the same text gives the
    same audio in every run, like joe_pcm.
    """
    quiet = ("--", "--noise-scale", "0", "--noise-w-scale", "0")
    server = LaunchedServer.joe_piper(tmp_path_factory.mktemp("joe_piper"), *quiet)
    server.start()
    yield server
    server.stop()
