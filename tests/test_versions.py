"""One release, one version: every place that names the version agrees.

The add-on installs the speaker from this repository's tagged source archive of its own version,
so a mismatch would install another release than the one the add-on describes.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import tomllib

import yaml

from custom_components.moxie import discovery as integration_discovery
from wyoming_servers.speaker import discovery as speaker_discovery

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addons" / "moxie_speaker"


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    assert isinstance(version, str)
    return version


def test_every_version_string_agrees() -> None:
    """pyproject, manifest, add-on, the integration's discovery origin and the speaker."""
    version = _project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    manifest = json.loads((ROOT / "custom_components/moxie/manifest.json").read_text())
    config = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    versions = {
        "manifest.json": manifest["version"],
        "addons/moxie_speaker/config.yaml": config["version"],
        "custom_components/moxie/discovery.py VERSION": integration_discovery.VERSION,
        "wyoming_servers/speaker/discovery.py VERSION": speaker_discovery.VERSION,
    }
    assert versions == dict.fromkeys(versions, version)
    assert f"## {version}" in (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")


def test_addon_installs_the_tagged_archive_of_its_version() -> None:
    """The add-on's image installs this repository's source archive tagged v<its version>.

    No version literal in build.yaml or the Dockerfile: the builder passes config.yaml's version
    as BUILD_VERSION, and the archive's address is the integration's origin URL.
    """
    build = yaml.safe_load((ADDON / "build.yaml").read_text(encoding="utf-8"))
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    version = _project_version()
    assert version not in dockerfile
    assert version not in json.dumps(build)
    assert "ARG BUILD_VERSION" in dockerfile
    assert "ARG MOXIE_SOURCE" in dockerfile
    [requirement] = re.findall(r'pip3 install [^"]*"([^"]+)"', dockerfile)
    url = requirement.replace("${MOXIE_SOURCE}", build["args"]["MOXIE_SOURCE"]).replace(
        "${BUILD_VERSION}", version
    )
    assert url == (
        f"moxie-home-assistant @ {integration_discovery.ORIGIN_URL}"
        f"/archive/refs/tags/v{version}.tar.gz"
    )
    with (ROOT / "pyproject.toml").open("rb") as file:
        assert tomllib.load(file)["project"]["name"] == "moxie-home-assistant"
