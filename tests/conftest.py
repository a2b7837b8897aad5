"""Fixtures shared by every test: the repo's custom_components and a real Mosquitto broker."""

from __future__ import annotations

from collections.abc import Iterator
import logging
from pathlib import Path
import sys

import pytest

# pytest-homeassistant-custom-component puts its own testing_config on sys.path, whose
# custom_components package would shadow ours: put the repo root first and import it now.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import custom_components  # noqa: E402
from tests.broker import Mosquitto  # noqa: E402

assert Path(custom_components.__file__).parent == ROOT / "custom_components"

# Real speech servers and joe's voice, for every test that hears or speaks (tests/voice_servers.py).
pytest_plugins = ["tests.voice_servers"]


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
