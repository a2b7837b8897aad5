"""Install Moxie's blueprints into the user's blueprints folder, never over an edited copy.

The blueprints ship inside the integration (HACS installs only `custom_components/moxie/`) as
byte-identical copies of the repository's `blueprints/` (their source; `scripts/sync_blueprints`),
in the same layout as `<config>/blueprints/`: `{automation,script}/moxie/<name>.yaml`. On each start
a blueprint is written when it is missing, or when the copy there is still exactly what Moxie
installed last time (an update). A copy whose content differs from what Moxie installed was
edited by its owner and is left alone. The hash of each installed file is kept in HA's storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import logging
from pathlib import Path
from typing import TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SOURCE = Path(__file__).parent / "blueprints"
STORAGE_KEY = f"{DOMAIN}.blueprints"
STORAGE_VERSION = 1


class _Stored(TypedDict):
    installed: dict[str, str]


@dataclass
class InstallReport:
    """What one installation run did, by path relative to the blueprints folder."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_blueprints() -> list[Path]:
    """Return the blueprint files shipped with the integration."""
    return sorted(SOURCE.rglob("*.yaml"))


def _install(target_root: Path, installed: dict[str, str]) -> InstallReport:
    """Copy the shipped blueprints (runs in the executor); update `installed` in place."""
    report = InstallReport()
    for source in shipped_blueprints():
        relative = source.relative_to(SOURCE).as_posix()
        target = target_root / relative
        content = source.read_bytes()
        digest = _digest(content)
        try:
            if target.exists():
                current = _digest(target.read_bytes())
                if current == digest:
                    installed[relative] = digest
                    report.unchanged.append(relative)
                    continue
                if installed.get(relative) != current:
                    report.kept_edited.append(relative)
                    continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except OSError as err:
            _LOGGER.warning("Could not install the blueprint %s: %s", relative, err)
            report.failed.append(relative)
            continue
        installed[relative] = digest
        report.written.append(relative)
    return report


async def async_install_blueprints(hass: HomeAssistant) -> InstallReport:
    """Install or update Moxie's blueprints in `<config>/blueprints/`."""
    store: Store[_Stored] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
    stored = await store.async_load() or _Stored(installed={})
    installed = dict(stored["installed"])
    report = await hass.async_add_executor_job(
        _install, Path(hass.config.path("blueprints")), installed
    )
    if installed != stored["installed"]:
        await store.async_save(_Stored(installed=installed))
    if report.written:
        _LOGGER.info("Installed Moxie blueprints: %s", ", ".join(report.written))
    if report.kept_edited:
        _LOGGER.info(
            "Kept your edited copies of Moxie blueprints: %s", ", ".join(report.kept_edited)
        )
    return report
