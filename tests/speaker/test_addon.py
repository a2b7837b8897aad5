"""The moxie_speaker add-on's manifest, build file, docs and launcher agree with the service.

No Docker engine runs here: the manifest is checked against the rules the Supervisor applies to
the keys it uses (required keys, slug, arch, services, options/schema; tests/addons.py), not by
building it.
"""

from __future__ import annotations

import re

from tests.addons import ADDONS_DIR, MANIFEST, load_yaml, option_valid
from wyoming_servers.speaker.__main__ import ENV_PREFIX, build_parser

ADDON = ADDONS_DIR / "moxie_speaker"


def _load(name: str) -> dict[str, object]:
    return load_yaml(ADDON / name)


def test_manifest_valid() -> None:
    config = MANIFEST(_load("config.yaml"))
    assert config["slug"] == ADDON.name
    assert "mqtt:need" in config["services"]
    assert config["audio"] is True
    options, schema = config["options"], config["schema"]
    assert set(options) <= set(schema)
    assert {key for key, kind in schema.items() if not kind.endswith("?")} <= set(options)
    for key, value in options.items():
        assert option_valid(schema[key], value), key
    assert config["ingress"] is True
    assert config["ingress_port"] == 8787
    assert config["panel_admin"] is True  # the panel shows what was said to Moxie
    # The monitor is reached through ingress only; the one declared port is Moxie's microphone,
    # closed on the host unless the user opens it (Home Assistant reaches it on the add-on network).
    assert config["ports"] == {f"{options['microphone_port']}/tcp": None}
    assert set(config["ports_description"]) == set(config["ports"])
    assert config["discovery"] == ["moxie"]  # the Moxie integration's domain
    assert options["microphone"] is True
    assert options["echo_cancel"] is True
    assert options["microphone_device"] == ""


def test_build_file_and_dockerfile() -> None:
    build = _load("build.yaml")
    config = _load("config.yaml")
    assert set(build["build_from"]) == set(config["arch"])  # type: ignore[call-overload]
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BUILD_FROM" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert "/health" in dockerfile


def test_every_option_translated_and_documented() -> None:
    schema = _load("config.yaml")["schema"]
    assert isinstance(schema, dict)
    docs = (ADDON / "DOCS.md").read_text(encoding="utf-8")
    for language in ("en", "es"):
        path = ADDON / "translations" / f"{language}.yaml"
        translations = load_yaml(path)["configuration"]
        assert set(translations) == set(schema), language
        for key in schema:
            assert translations[key]["name"], (language, key)
            assert translations[key]["description"], (language, key)
    for key in schema:
        assert f"`{key}`" in docs, key
    assert "0.1.0" in (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")


def test_launcher_sets_only_real_options() -> None:
    launcher = (ADDON / "rootfs" / "usr" / "bin" / "moxie-speaker-run").read_text(encoding="utf-8")
    known = {ENV_PREFIX + action.dest.upper() for action in build_parser()._actions}
    exported = set(re.findall(r"export (MOXIE_SPEAKER_\w+)=", launcher))
    assert exported
    assert exported <= known, exported - known
    schema = _load("config.yaml")["schema"]
    assert isinstance(schema, dict)
    for key in schema:
        assert re.search(rf"bashio::config(\.true|\.has_value)? '{key}'", launcher), key


def test_monitor_behind_ingress() -> None:
    """The monitor listens on the ingress port; the ingress proxy is its one trusted peer."""
    launcher = (ADDON / "rootfs" / "usr" / "bin" / "moxie-speaker-run").read_text(encoding="utf-8")
    exported = dict(re.findall(r'export (MOXIE_SPEAKER_\w+)="([^"$]*)"', launcher))
    port = _load("config.yaml")["ingress_port"]
    assert exported["MOXIE_SPEAKER_MONITOR"] == f"0.0.0.0:{port}"
    # The Supervisor's ingress proxy: its requests need no token, all others do.
    assert exported["MOXIE_SPEAKER_MONITOR_TRUSTED_IP"] == "172.30.32.2"
    assert "MOXIE_SPEAKER_MONITOR_TOKEN" not in launcher  # generated and kept in /data
    assert exported["MOXIE_SPEAKER_STATE_DIR"] == "/data"
