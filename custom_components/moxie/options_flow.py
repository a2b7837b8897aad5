"""Moxie's options (Configure): a menu of the microphone and Moxie's Assist pipeline.

The microphone is its own step: it never depends on the pipeline, on Moxie's brain or on Wyoming
speech services. The pipeline step is the one the setup shows (pipeline_flow).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
import probatio as vol

from .const import CONF_LANGUAGE, DEFAULT_LANGUAGE
from .models import MoxieConfigEntry
from .pipeline import PipelineSettings, agent_entity_id
from .pipeline_flow import CONF_PREFERRED, async_pipeline_step
from .satellite_flow import mic_schema, validate_mic

STEP_MICROPHONE = "microphone"
STEP_PIPELINE = "pipeline"


class MoxieOptionsFlow(OptionsFlow):
    """Moxie's microphone, and its Assist pipeline (created when missing)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer what can be set."""
        return self.async_show_menu(step_id="init", menu_options=[STEP_MICROPHONE, STEP_PIPELINE])

    async def async_step_microphone(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Where the Wyoming mic next to Moxie listens; the satellite reconnects once saved."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            mic, errors = validate_mic(user_input)
            if not errors:
                return self.async_create_entry(data={**entry.options, **mic})
        return self.async_show_form(
            step_id=STEP_MICROPHONE,
            data_schema=vol.Schema(mic_schema(user_input or entry.options)),
            errors=errors,
        )

    async def async_step_pipeline(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the engines and voice; apply them to the pipeline (created when missing)."""
        entry: MoxieConfigEntry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED or entry.runtime_data.pipeline is None:
            return self.async_abort(reason="entry_not_loaded")
        if agent_entity_id(self.hass, entry) is None:
            return self.async_abort(reason="no_agent")
        pipeline = entry.runtime_data.pipeline

        async def save(settings: PipelineSettings | None) -> ConfigFlowResult:
            if settings is not None:
                await pipeline.async_apply(settings)
            return self.async_create_entry(data=dict(entry.options))

        # "Preferred" is an action of this form, not a state: it starts unchecked.
        current = {k: v for k, v in (pipeline.settings or {}).items() if k != CONF_PREFERRED}
        language = entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
        return await async_pipeline_step(
            self, language, current, user_input, save, ask_create=False
        )
