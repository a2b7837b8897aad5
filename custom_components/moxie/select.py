"""The settings of Moxie's satellite: its Assist pipeline and its finished-speaking detection."""

from __future__ import annotations

from typing import override

from homeassistant.components.assist_pipeline import (
    OPTION_PREFERRED,
    AssistPipelineSelect,
    VadSensitivitySelect,
    async_get_pipelines,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import base_entity_id_changed
from .ha_private import PipelineSelectFollowingPipelines
from .models import MoxieConfigEntry
from .pipeline import CONF_PIPELINE, agent_entity_id
from .satellite_entity import MoxieSatelliteEntity, satellite_unique_id

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MoxieConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the satellite's pipeline and finished-speaking detection selects."""
    async_add_entities(
        [MoxieSatellitePipelineSelect(hass, entry), MoxieSatelliteVadSelect(hass, entry)]
    )


class MoxieSatellitePipelineSelect(MoxieSatelliteEntity, PipelineSelectFollowingPipelines):
    """The pipeline Moxie's satellite uses: Moxie's own pipeline until the user picks another."""

    def __init__(self, hass: HomeAssistant, entry: MoxieConfigEntry) -> None:
        """Initialize on the satellite's device."""
        MoxieSatelliteEntity.__init__(self, entry, "select", "pipeline")
        AssistPipelineSelect.__init__(self, hass, DOMAIN, satellite_unique_id(entry))
        self._chosen = False

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the user's choice; without one, take Moxie's pipeline (now or once made)."""
        await super().async_added_to_hass()
        self._chosen = await self.async_get_last_state() is not None
        self._take_moxie_pipeline()

    # Not @override: Home Assistant 2026.10 has no such hook (it re-adds the entity instead).
    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Take a new entity id in place (Home Assistant 2026.11): nothing is keyed on it."""
        base_entity_id_changed(super(), old_entity_id)

    @override
    async def async_select_option(self, option: str) -> None:
        """Remember that the user chose."""
        self._chosen = True
        await super().async_select_option(option)
        self._notify_satellite()

    @callback
    @override
    def async_pipelines_changed(self) -> None:
        """Moxie's pipeline may have just been created."""
        self._take_moxie_pipeline()
        self._notify_satellite()

    @callback
    def _take_moxie_pipeline(self) -> None:
        if self._chosen or self._attr_current_option != OPTION_PREFERRED:
            return
        pipeline_id = (self.entry.data.get(CONF_PIPELINE) or {}).get("id")
        agent = agent_entity_id(self.hass, self.entry)
        name = next(
            (
                p.name
                for p in async_get_pipelines(self.hass)
                if p.id == pipeline_id or (pipeline_id is None and p.conversation_engine == agent)
            ),
            None,
        )
        if name is not None:
            self._attr_current_option = name
            self._chosen = True
            self.async_write_ha_state()
            self._notify_satellite()

    @callback
    def _notify_satellite(self) -> None:
        """Tell the satellite (its wake word stage follows the pipeline)."""
        self.entry.runtime_data.satellite_device.async_pipeline_changed()


class MoxieSatelliteVadSelect(MoxieSatelliteEntity, VadSensitivitySelect):
    """How long a silence ends what a person says to Moxie."""

    def __init__(self, hass: HomeAssistant, entry: MoxieConfigEntry) -> None:
        """Initialize on the satellite's device."""
        MoxieSatelliteEntity.__init__(self, entry, "select", "vad_sensitivity")
        VadSensitivitySelect.__init__(self, hass, satellite_unique_id(entry))
