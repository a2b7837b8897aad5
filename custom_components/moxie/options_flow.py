"""Moxie's options (Configure): a menu of the microphone, Moxie's Assist pipeline and the robot.

The microphone is its own step: it never depends on the pipeline, on Moxie's brain or on Wyoming
speech services. The pipeline step is the one the setup shows (pipeline_flow). Robot Moxie
(OpenMoxie) is two steps: the robot's broker, then which robot (robot_flow).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
import probatio as vol

from .const import CONF_LANGUAGE, CONF_ROBOT_DEVICE_ID, DEFAULT_LANGUAGE
from .models import MoxieConfigEntry
from .pipeline import PipelineSettings, agent_entity_id
from .pipeline_flow import CONF_PREFERRED, async_pipeline_step
from .robot_flow import async_validate_broker, broker_schema, device_schema, validate_device
from .satellite_flow import mic_schema, validate_mic

STEP_MICROPHONE = "microphone"
STEP_PIPELINE = "pipeline"
STEP_ROBOT = "robot"
STEP_ROBOT_DEVICE = "robot_device"


class MoxieOptionsFlow(OptionsFlow):
    """Moxie's microphone, its Assist pipeline (created when missing), and the robot it serves."""

    _robot: dict[str, Any] | None = None
    _robots: list[str] | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer what can be set."""
        return self.async_show_menu(
            step_id="init", menu_options=[STEP_MICROPHONE, STEP_PIPELINE, STEP_ROBOT]
        )

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

    async def async_step_robot(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Robot Moxie: on/off and the robot's broker (listened to for robots once submitted)."""
        entry = self.config_entry
        errors: dict[str, str] = {}
        if user_input is not None:
            options, robots, errors = await async_validate_broker(self.hass, user_input)
            if not errors and not options["robot_enabled"]:
                return self._async_save_robot(options)
            if not errors:
                self._robot, self._robots = options, robots
                return await self.async_step_robot_device()
        return self.async_show_form(
            step_id=STEP_ROBOT,
            data_schema=vol.Schema(broker_schema(user_input or entry.options)),
            errors=errors,
        )

    async def async_step_robot_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Which robot: one heard on the broker, or its device id typed (`d_<uuid>`)."""
        assert self._robot is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id, errors = validate_device(user_input)
            if not errors:
                return self._async_save_robot({**self._robot, CONF_ROBOT_DEVICE_ID: device_id})
        current = self.config_entry.options.get(CONF_ROBOT_DEVICE_ID)
        return self.async_show_form(
            step_id=STEP_ROBOT_DEVICE,
            data_schema=vol.Schema(device_schema(self._robots or [], current)),
            errors=errors,
            description_placeholders={"count": str(len(self._robots or []))},
        )

    def _async_save_robot(self, robot: dict[str, Any]) -> ConfigFlowResult:
        """Store the robot options and reload Moxie (its robot satellite comes or goes)."""
        entry = self.config_entry
        options = {**entry.options, **robot}
        self.hass.config_entries.async_update_entry(entry, options=options)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data=options)
