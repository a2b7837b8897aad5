"""Another integration's voice satellite (as a Voice PE, an ESPHome or a Wyoming one), for tests.

`async_add_kitchen` sets up a test integration, `kitchen`, from a config entry as Home Assistant
sets up any integration: its `assist_satellite` entity and its pipeline `select` (assist_pipeline's
own select entity) on one device, "Kitchen voice". The satellite runs pipelines through Home
Assistant's real AssistSatelliteEntity and records what it is told.
"""

from __future__ import annotations

from typing import override

from homeassistant.components.assist_pipeline import AssistPipelineSelect, PipelineEvent
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityDescription,
    AssistSatelliteEntityFeature,
)
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

KITCHEN = "kitchen"
KITCHEN_SATELLITE = "assist_satellite.kitchen_voice"
DEVICE = DeviceInfo(identifiers={(KITCHEN, "kitchen")}, name="Kitchen voice")


class KitchenSatellite(AssistSatelliteEntity):
    """A satellite with a speaker of its own: it plays announcements and answers itself."""

    entity_description = AssistSatelliteEntityDescription(key="assist_satellite")
    _attr_has_entity_name = True
    _attr_name = None
    _attr_unique_id = "kitchen-satellite"
    _attr_device_info = DEVICE
    _attr_supported_features = AssistSatelliteEntityFeature.ANNOUNCE

    def __init__(self) -> None:
        """Record nothing yet."""
        self.events: list[PipelineEvent] = []
        self.announcements: list[AssistSatelliteAnnouncement] = []

    @property
    @override
    def pipeline_entity_id(self) -> str | None:
        """The pipeline select on the satellite's device."""
        return er.async_get(self.hass).async_get_entity_id(
            Platform.SELECT, KITCHEN, "kitchen-pipeline"
        )

    @callback
    @override
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=1
        )

    @override
    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to set."""

    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        self.events.append(event)

    @override
    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        self.announcements.append(announcement)


class KitchenPipelineSelect(AssistPipelineSelect):
    """assist_pipeline's pipeline select, on the kitchen satellite's device."""

    _attr_has_entity_name = True
    _attr_device_info = DEVICE

    def __init__(self, hass: HomeAssistant) -> None:
        """Unique id `kitchen-pipeline`."""
        super().__init__(hass, KITCHEN, "kitchen")


def _platform(entity: Entity) -> MockPlatform:
    async def async_setup_entry(
        hass: HomeAssistant, entry: ConfigEntry, add: AddConfigEntryEntitiesCallback
    ) -> None:
        add([entity])

    return MockPlatform(async_setup_entry=async_setup_entry)


async def async_add_kitchen(
    hass: HomeAssistant,
    satellite: AssistSatelliteEntity | None = None,
    select: AssistPipelineSelect | None = None,
) -> MockConfigEntry:
    """Set up the kitchen integration with satellite and select (by default the kitchen's)."""
    assert await async_setup_component(hass, "assist_satellite", {})

    async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(
            entry, [Platform.ASSIST_SATELLITE, Platform.SELECT]
        )
        return True

    mock_integration(hass, MockModule(KITCHEN, async_setup_entry=async_setup_entry))
    mock_platform(hass, f"{KITCHEN}.assist_satellite", _platform(satellite or KitchenSatellite()))
    mock_platform(hass, f"{KITCHEN}.select", _platform(select or KitchenPipelineSelect(hass)))
    mock_platform(hass, f"{KITCHEN}.config_flow")
    entry = MockConfigEntry(domain=KITCHEN, title="Kitchen voice")
    entry.add_to_hass(hass)
    with mock_config_flow(KITCHEN, ConfigFlow):
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def kitchen_select(hass: HomeAssistant) -> str:
    """The entity id of the kitchen satellite's pipeline select."""
    entity_id = er.async_get(hass).async_get_entity_id(Platform.SELECT, KITCHEN, "kitchen-pipeline")
    assert entity_id is not None
    return entity_id
