"""What the add-on tests share: the Supervisor's manifest rules and a run script's harness.

No Docker engine runs here. A manifest is checked against the rules the Supervisor applies to
the keys the add-ons use; a run script is run for real by bash, as the Supervisor runs it: the
Supervisor writes the options to /data/options.json and gives the add-on SUPERVISOR_TOKEN (and
PULSE_SERVER with the audio service); bashio reads them. Here a small stand-in for bashio reads a
real options.json written like the Supervisor's (config.yaml's options plus the user's), and
only the programs that cannot run here are stubs on PATH recording their argv and environment
(e.g. curl, the Supervisor's discovery API). jq, awk and /proc are real.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import subprocess
import sys
from typing import Any

import voluptuous as vol
import yaml

ROOT = Path(__file__).resolve().parent.parent
ADDONS_DIR = ROOT / "addons"
# Every add-on of the repository (the Supervisor lists addons/<slug>/config.yaml).
ADDON_SLUGS = ("moxie_speaker", "moxie_turn")

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


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def option_valid(kind: str, value: object) -> bool:
    """Whether value passes a Supervisor schema element (the kinds the add-ons use)."""
    kind = kind.removesuffix("?")
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("str", "password"):
        return isinstance(value, str)
    if kind == "port":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
    if match := re.fullmatch(r"list\((.+)\)", kind):
        return value in match.group(1).split("|")
    if match := re.fullmatch(r"(int|float)(?:\(([-\d.]*),([-\d.]*)\))?", kind):
        number = (int,) if match.group(1) == "int" else (int, float)
        if isinstance(value, bool) or not isinstance(value, number):
            return False
        low, high = match.group(2), match.group(3)
        return (not low or float(low) <= value) and (not high or value <= float(high))
    raise AssertionError(f"schema element {kind!r} not known to this check")


# The bashio functions the run scripts use, as bashio implements them on the Supervisor's data.
FAKE_BASHIO = r"""
bashio::services.available() { jq -e --arg s "$1" 'has($s)' "$FAKE_SERVICES" >/dev/null; }
bashio::services() { jq -r --arg s "$1" --arg k "$2" '.[$s][$k] // empty' "$FAKE_SERVICES"; }
bashio::var.true() { [ "$1" = "true" ]; }
bashio::config() {
    jq -r --arg k "$1" '.[$k] | if . == null then "null" else . end' "$FAKE_OPTIONS"
}
bashio::config.has_value() {
    jq -e --arg k "$1" '.[$k] != null and .[$k] != ""' "$FAKE_OPTIONS" >/dev/null
}
bashio::config.true() { jq -e --arg k "$1" '.[$k] == true' "$FAKE_OPTIONS" >/dev/null; }
bashio::log.info() { echo "INFO: $*" >&2; }
bashio::log.warning() { echo "WARNING: $*" >&2; }
bashio::log.error() { echo "ERROR: $*" >&2; }
bashio::exit.nok() { echo "FATAL: $*" >&2; exit 1; }
source "$1"
"""

RECORD = """#!{python}
import json, os, sys
with open(os.path.join({record!r}, {name!r} + ".json"), "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
"""
# The Supervisor's discovery API: curl exits FAKE_CURL_EXIT.
CURL_STUB = "sys.exit(int(os.environ.get('FAKE_CURL_EXIT', '0')))\n"

type Recorded = dict[str, list[dict[str, Any]]]


def run_script(
    addon: Path,
    script: str,
    tmp_path: Path,
    user_options: dict[str, Any],
    *,
    stubs: dict[str, str],
    env: dict[str, str] | None = None,
    services: dict[str, Any] | None = None,
    prefix: tuple[str, ...] = (),
) -> tuple[subprocess.CompletedProcess[str], Recorded]:
    """Run addon's real run script; return it and what each stub recorded (argv, env).

    stubs maps a program name to the Python run after the stub recorded its call. prefix runs
    the script under another program (e.g. in a network namespace of its own).
    """
    config = load_yaml(addon / "config.yaml")
    options = dict(config["options"]) | user_options
    (tmp_path / "options.json").write_text(json.dumps(options), encoding="utf-8")
    (tmp_path / "services.json").write_text(json.dumps(services or {}), encoding="utf-8")
    (tmp_path / "bashio").write_text(FAKE_BASHIO, encoding="utf-8")
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(
            RECORD.format(python=sys.executable, record=str(record), name=name) + body,
            encoding="utf-8",
        )
        stub.chmod(0o755)
    run_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SUPERVISOR_TOKEN": "supervisor-token",
        "FAKE_OPTIONS": str(tmp_path / "options.json"),
        "FAKE_SERVICES": str(tmp_path / "services.json"),
        "FAKE_RECORD": str(record),
    } | (env or {})
    result = subprocess.run(
        [*prefix, "bash", str(tmp_path / "bashio"), str(addon / "rootfs" / "usr" / "bin" / script)],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    recorded = {
        path.stem: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for path in record.glob("*.json")
    }
    return result, recorded


def discovery_body(curl: dict[str, Any]) -> dict[str, Any]:
    """The JSON a recorded curl call POSTed to the Supervisor's discovery API, with its token."""
    argv = curl["argv"]
    assert argv[argv.index("-X") + 1] == "POST"
    assert argv[-1] == "http://supervisor/discovery"
    assert "Authorization: Bearer supervisor-token" in argv
    body = json.loads(argv[argv.index("-d") + 1])
    assert isinstance(body, dict)
    return body
