"""One release, one version: every place that names the version agrees.

Each add-on installs its service from this repository's tagged source archive of its own
version, so a mismatch would install another release than the one the add-on describes.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import tomllib

import pytest
import yaml

from custom_components.moxie import discovery as integration_discovery
from tests.addons import ADDON_SLUGS, ADDONS_DIR
from wyoming_servers.speaker import discovery as speaker_discovery

ROOT = Path(__file__).resolve().parent.parent


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    assert isinstance(version, str)
    return version


def test_every_version_string_agrees() -> None:
    """pyproject, manifest, the add-ons, the integration's discovery origin and the speaker."""
    version = _project_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    manifest = json.loads((ROOT / "custom_components/moxie/manifest.json").read_text())
    versions = {
        "manifest.json": manifest["version"],
        "custom_components/moxie/discovery.py VERSION": integration_discovery.VERSION,
        "wyoming_servers/speaker/discovery.py VERSION": speaker_discovery.VERSION,
    }
    for slug in ADDON_SLUGS:
        addon = ADDONS_DIR / slug
        config = yaml.safe_load((addon / "config.yaml").read_text(encoding="utf-8"))
        versions[f"addons/{slug}/config.yaml"] = config["version"]
        assert f"## {version}" in (addon / "CHANGELOG.md").read_text(encoding="utf-8"), slug
    assert versions == dict.fromkeys(versions, version)


@pytest.mark.parametrize("slug", ADDON_SLUGS)
def test_addon_installs_the_tagged_archive_of_its_version(slug: str) -> None:
    """The add-on's image installs this repository's source archive tagged v<its version>.

    No version literal in build.yaml or the Dockerfile: the builder passes config.yaml's version
    as BUILD_VERSION, and the archive's address is the integration's origin URL.
    """
    addon = ADDONS_DIR / slug
    build = yaml.safe_load((addon / "build.yaml").read_text(encoding="utf-8"))
    dockerfile = (addon / "Dockerfile").read_text(encoding="utf-8")
    version = _project_version()
    assert version not in dockerfile
    assert version not in json.dumps(build)
    assert "ARG BUILD_VERSION" in dockerfile
    assert "ARG MOXIE_SOURCE" in dockerfile
    [requirement] = re.findall(r'(?:pip3|uv pip) install [^"]*"([^"]+)"', dockerfile)
    url = requirement.replace("${MOXIE_SOURCE}", build["args"]["MOXIE_SOURCE"]).replace(
        "${BUILD_VERSION}", version
    )
    assert re.fullmatch(r"moxie-home-assistant(\[[a-z,]+\])? @ \S+", url), url
    assert url.split(" @ ", 1)[1] == (
        f"{integration_discovery.ORIGIN_URL}/archive/refs/tags/v{version}.tar.gz"
    )
    with (ROOT / "pyproject.toml").open("rb") as file:
        assert tomllib.load(file)["project"]["name"] == "moxie-home-assistant"
