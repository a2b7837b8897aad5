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
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoredExtraData

from .const import DOMAIN
from .entity import base_entity_id_changed
from .ha_private import PipelineSelectFollowingPipelines
from .models import MoxieConfigEntry
from .pipeline import moxie_pipeline_id, pipeline_signal
from .satellite_entity import MoxieSatelliteEntity, satellite_unique_id

PARALLEL_UPDATES = 0

# Stored with the pipeline select's state: whether its option is the user's choice.
USER_CHOSE = "user_chose"


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
    """The pipeline Moxie's satellite uses: Moxie's own pipeline until the user picks another.

    Until the user picks another option the select follows Moxie's pipeline by its id: it
    takes it once it exists (created at setup or later from Configure), follows its renames,
    and falls back to "preferred" while there is none. Whether the user picked an option is
    stored with the select's restored state, so a restart keeps the user's choice (even
    "preferred") and never mistakes the "preferred" shown before Moxie's pipeline existed for one.
    """

    def __init__(self, hass: HomeAssistant, entry: MoxieConfigEntry) -> None:
        """Initialize on the satellite's device."""
        MoxieSatelliteEntity.__init__(self, entry, "select", "pipeline")
        AssistPipelineSelect.__init__(self, hass, DOMAIN, satellite_unique_id(entry))
        self._user_chose = False

    @property
    @override
    def extra_restore_state_data(self) -> RestoredExtraData:
        """Remember whether the option shown is the user's choice."""
        return RestoredExtraData({USER_CHOSE: self._user_chose})

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the user's choice; without one, follow Moxie's pipeline (now or once made)."""
        await super().async_added_to_hass()
        extra = await self.async_get_last_extra_data()
        if extra is not None:
            self._user_chose = bool(extra.as_dict().get(USER_CHOSE))
        else:
            # No state, or one stored by an older Moxie: only another pipeline's name is sure
            # to be the user's ("preferred" was also shown before Moxie's pipeline existed).
            last = await self.async_get_last_state()
            self._user_chose = last is not None and last.state not in (
                OPTION_PREFERRED,
                self._moxie_pipeline_name(),
            )
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, pipeline_signal(self.entry.entry_id), self._follow_moxie_pipeline
            )
        )
        self._follow_moxie_pipeline()

    # Not @override: Home Assistant 2026.10 has no such hook (it re-adds the entity instead).
    @callback
    def async_entity_id_changed(self, old_entity_id: str) -> None:
        """Take a new entity id in place (Home Assistant 2026.11): nothing is keyed on it."""
        base_entity_id_changed(super(), old_entity_id)

    @override
    async def async_select_option(self, option: str) -> None:
        """Keep the user's choice (choosing Moxie's pipeline is following it)."""
        self._user_chose = option != self._moxie_pipeline_name()
        await super().async_select_option(option)
        self._notify_satellite()

    @callback
    @override
    def async_pipelines_changed(self) -> None:
        """Moxie's pipeline may have been renamed (the options follow every change)."""
        self._follow_moxie_pipeline()
        self._notify_satellite()

    @callback
    def _moxie_pipeline_name(self) -> str | None:
        pipeline_id = moxie_pipeline_id(self.hass, self.entry)
        if pipeline_id is None:
            return None
        return next((p.name for p in async_get_pipelines(self.hass) if p.id == pipeline_id), None)

    @callback
    def _follow_moxie_pipeline(self) -> None:
        """Show Moxie's pipeline ("preferred" while there is none) unless the user chose."""
        if self._user_chose:
            return
        option = self._moxie_pipeline_name() or OPTION_PREFERRED
        if option == self._attr_current_option:
            return
        self._attr_current_option = option
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
