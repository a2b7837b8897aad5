"""Runs of Moxie's pipeline on other voice satellites, followed through public states only.

A Voice PE, an ESPHome or a Wyoming satellite whose pipeline is Moxie's makes Moxie's Status
follow its runs, as its `assist_satellite` entity shows them: `listening` is listening,
`processing` is thinking, anything else is over (`responding`: the satellite says the answer
itself; `idle`, `unavailable`). Which pipeline a satellite uses is public too: the pipeline
select on its device (assist_pipeline's select, translation key `pipeline`) shows a pipeline's
name or `preferred`; a satellite without one uses the preferred pipeline.

Moxie's own satellite reports its runs itself (from its pipeline events), so it is left out.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.components.assist_satellite import DOMAIN as ASSIST_SATELLITE_DOMAIN
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.const import EVENT_STATE_CHANGED, Platform
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN

type RunPhaseListener = Callable[[str, str | None], None]
"""Called with (run id, "listening" | "thinking" | None) as a Moxie pipeline run moves on."""

type PipelineTest = Callable[[str | None], bool]
"""Whether a satellite whose pipeline select shows this option (None: no select) runs Moxie's."""

# The translation key of assist_pipeline's pipeline select (the first one of a device).
PIPELINE_SELECT = "pipeline"

PHASES: dict[str, str] = {
    AssistSatelliteState.LISTENING: "listening",
    AssistSatelliteState.PROCESSING: "thinking",
}


@callback
def _relevant(data: EventStateChangedData) -> bool:
    """Satellites and selects (a satellite's pipeline select)."""
    return data["entity_id"].startswith((f"{ASSIST_SATELLITE_DOMAIN}.", f"{Platform.SELECT}."))


class SatelliteRuns:
    """Reports the runs of Moxie's pipeline on other integrations' satellites."""

    def __init__(
        self, hass: HomeAssistant, runs_moxie_pipeline: PipelineTest, on_run_phase: RunPhaseListener
    ) -> None:
        """Prepare; call async_start."""
        self.hass = hass
        self._runs_moxie_pipeline = runs_moxie_pipeline
        self._on_run_phase = on_run_phase
        self._reported: set[str] = set()
        self._unsubscribe: CALLBACK_TYPE | None = None

    @callback
    def async_start(self) -> None:
        """Follow every satellite's state, starting with the current ones."""
        self._unsubscribe = self.hass.bus.async_listen(
            EVENT_STATE_CHANGED, self._state_changed, event_filter=_relevant
        )
        for entity_id in self.hass.states.async_entity_ids(ASSIST_SATELLITE_DOMAIN):
            self._follow(entity_id)

    @callback
    def async_stop(self) -> None:
        """Stop following; the runs reported so far are over for the Status."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for entity_id in self._reported:
            self._on_run_phase(entity_id, None)
        self._reported.clear()

    @callback
    def _state_changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if entity_id.startswith(f"{ASSIST_SATELLITE_DOMAIN}."):
            self._follow(entity_id)
            return
        registry = er.async_get(self.hass)
        select = registry.async_get(entity_id)
        if select is None or select.translation_key != PIPELINE_SELECT or not select.device_id:
            return
        for entry in er.async_entries_for_device(registry, select.device_id):
            if entry.domain == ASSIST_SATELLITE_DOMAIN:
                self._follow(entry.entity_id)

    @callback
    def _follow(self, entity_id: str) -> None:
        """Report the satellite's phase when it is (or was) a run of Moxie's pipeline."""
        phase = self._phase(entity_id)
        if phase is None:
            if entity_id not in self._reported:
                return
            self._reported.discard(entity_id)
        else:
            self._reported.add(entity_id)
        self._on_run_phase(entity_id, phase)

    @callback
    def _phase(self, entity_id: str) -> str | None:
        state = self.hass.states.get(entity_id)
        if state is None or (phase := PHASES.get(state.state)) is None:
            return None
        entry = er.async_get(self.hass).async_get(entity_id)
        if entry is not None and entry.platform == DOMAIN:
            return None  # Moxie's own satellite reports itself
        return phase if self._runs_moxie_pipeline(self._pipeline_option(entry)) else None

    @callback
    def _pipeline_option(self, satellite: er.RegistryEntry | None) -> str | None:
        """Return the pipeline select's option on the satellite's device, None without one."""
        if satellite is None or not satellite.device_id:
            return None
        registry = er.async_get(self.hass)
        for entry in er.async_entries_for_device(registry, satellite.device_id):
            if entry.domain == Platform.SELECT and entry.translation_key == PIPELINE_SELECT:
                state = self.hass.states.get(entry.entity_id)
                return state.state if state is not None else None
        return None
