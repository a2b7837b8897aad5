"""What hassfest and HACS check of a custom integration, and es/en translation parity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.util.yaml import load_yaml

ROOT = Path(__file__).parents[2]
COMPONENT = ROOT / "custom_components" / "moxie"


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    keys: set[str] = set()
    for key, value in tree.items():
        keys |= _keys(value, f"{prefix}.{key}" if prefix else key)
    return keys


def test_manifest_key_order_and_version() -> None:
    manifest = json.loads((COMPONENT / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "moxie"
    assert manifest["version"]
    assert manifest["config_flow"] is True
    assert "mqtt" in manifest["dependencies"]


def test_hacs_json() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == "Moxie"
    major, minor, *_ = (int(part) for part in hacs["homeassistant"].split("."))
    assert (major, minor) >= (2026, 10)


def test_spanish_and_english_translations_have_the_same_keys() -> None:
    en = json.loads((COMPONENT / "translations" / "en.json").read_text())
    es = json.loads((COMPONENT / "translations" / "es.json").read_text())
    assert _keys(en) == _keys(es)
    assert "[%key:" not in json.dumps(en)  # custom integrations get no reference expansion


def test_every_action_and_field_is_translated() -> None:
    services = load_yaml(str(COMPONENT / "services.yaml"))
    assert isinstance(services, dict)
    en = json.loads((COMPONENT / "translations" / "en.json").read_text())
    icons = json.loads((COMPONENT / "icons.json").read_text())
    for service, spec in services.items():
        assert en["services"][service]["name"]
        assert service in icons["services"]
        for field in (spec or {}).get("fields", {}):
            assert en["services"][service]["fields"][field]["name"], (service, field)
