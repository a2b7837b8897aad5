"""The moxie_speaker add-on's manifest, build file, docs and launcher agree with the service.

No Docker engine runs here: the manifest is checked against the rules the Supervisor applies to
the keys it uses (required keys, slug, arch, services, options/schema), not by building it.
"""

from __future__ import annotations

from pathlib import Path
import re

import pytest
import voluptuous as vol
import yaml

from wyoming_servers.speaker.__main__ import ENV_PREFIX, build_parser

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addons" / "moxie_speaker"
ARCHES = ["aarch64", "amd64", "armhf", "armv7", "i386"]
SCHEMA_TYPE = re.compile(
    r"^(bool|email|url|port|str|password|match\(.+\)|list\(.+\)"
    r"|(int|float)(\((-?[\d.]+)?,(-?[\d.]+)?\))?|str\(\d*,\d*\))\??$"
)

MANIFEST = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Required("version"): vol.Match(r"^\d+\.\d+\.\d+$"),
        vol.Required("slug"): vol.Match(r"^[-_.A-Za-z0-9]+$"),
        vol.Required("description"): str,
        vol.Required("arch"): [vol.In(ARCHES)],
        vol.Optional("init"): bool,
        vol.Optional("startup"): vol.In(
            ["initialize", "system", "services", "application", "once"]
        ),
        vol.Optional("boot"): vol.In(["auto", "manual", "manual_only"]),
        vol.Optional("services"): [vol.Match(r"^(mqtt|mysql):(provide|want|need)$")],
        vol.Optional("audio"): bool,
        vol.Optional("ingress"): bool,
        vol.Optional("ingress_port"): vol.All(int, vol.Range(min=1, max=65535)),
        vol.Optional("panel_icon"): vol.Match(r"^mdi:[-a-z0-9]+$"),
        vol.Optional("panel_title"): str,
        vol.Optional("panel_admin"): bool,
        vol.Optional("discovery"): [vol.Match(r"^\w*$")],
        vol.Optional("ports"): {
            vol.Match(r"^\d+(?:/(?:tcp|udp))?$"): vol.Any(
                None, vol.All(int, vol.Range(min=1, max=65535))
            )
        },
        vol.Optional("ports_description"): {vol.Match(r"^\d+(?:/(?:tcp|udp))?$"): str},
        vol.Required("options"): dict,
        vol.Required("schema"): {str: vol.Match(SCHEMA_TYPE)},
    },
    extra=vol.PREVENT_EXTRA,
)


def _load(name: str) -> dict[str, object]:
    data = yaml.safe_load((ADDON / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_manifest_valid() -> None:
    config = MANIFEST(_load("config.yaml"))
    assert config["slug"] == ADDON.name
    assert "mqtt:need" in config["services"]
    assert config["audio"] is True
    options, schema = config["options"], config["schema"]
    assert set(options) <= set(schema)
    assert {key for key, kind in schema.items() if not kind.endswith("?")} <= set(options)
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
        translations = yaml.safe_load(path.read_text(encoding="utf-8"))["configuration"]
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


@pytest.mark.parametrize("name", ["config.yaml", "config.yml", "config.json"])
def test_no_stray_addon_manifests(name: str) -> None:
    """The Supervisor takes any config.* file for an add-on manifest."""
    for folder in ("wyoming_servers", "tests/speaker", "bench"):
        assert not list((ROOT / folder).rglob(name))
    for path in (ROOT / "addons").rglob(name):
        assert len(path.relative_to(ROOT).parts) == 3, path  # only addons/<slug>/config.*
