"""Pytest fixtures for Moxie's brain: the loopback Ollama and a Moxie entry connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.ollama_server import OllamaServer


@pytest.fixture
async def ollama_server(socket_enabled: None) -> AsyncIterator[OllamaServer]:
    """The loopback Ollama with `qwen3:4b` installed, stopped after the test."""
    server = OllamaServer(models=["qwen3:4b"])
    await server.start()
    yield server
    await server.stop()
