"""Repairs: pull a missing model, recreate a deleted pipeline, give Moxie a microphone.

The no-microphone issue asks for the Wyoming microphone next to Moxie and saves it in the
entry's options (the satellite reconnects by itself).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect
import probatio as vol

from .brain import Brain, BrainError
from .const import CONF_MIC_HOST, DOMAIN
from .models import MoxieConfigEntry
from .satellite_flow import mic_schema, validate_mic

NO_MICROPHONE: str = "no_microphone"

_LOGGER = logging.getLogger(__name__)


class PullModelRepairFlow(RepairsFlow):
    """Confirm, then pull the missing model with a progress bar."""

    def __init__(self, entry_id: str, model: str) -> None:
        """Fix the missing model of one Moxie."""
        self._entry_id = entry_id
        self._model = model
        self._task: asyncio.Task[None] | None = None
        self._error: BrainError | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Ask before downloading (models are big)."""
        if user_input is None:
            return self.async_show_form(
                step_id="confirm", description_placeholders={"model": self._model}
            )
        return await self.async_step_pull()

    async def async_step_pull(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Pull the model, showing its progress."""
        if self._task is None:
            if (brain := self._brain()) is None:
                return self.async_abort(reason="entry_not_loaded")
            self._task = self.hass.async_create_background_task(
                self._async_pull(brain), f"Moxie pulls {self._model}"
            )
        if not self._task.done():
            return self.async_show_progress(
                step_id="pull",
                progress_action="pull",
                progress_task=self._task,
                description_placeholders={"model": self._model},
            )
        return self.async_show_progress_done(
            next_step_id="pull_failed" if self._error else "pulled"
        )

    async def async_step_pulled(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Close the issue: the model is there."""
        return self.async_create_entry(data={})

    async def async_step_pull_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Tell why the pull failed (the issue stays open)."""
        return self.async_abort(
            reason="download_failed",
            description_placeholders={"model": self._model, "error": str(self._error)},
        )

    def _brain(self) -> Brain | None:
        entry: MoxieConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        return entry.runtime_data.brain

    async def _async_pull(self, brain: Brain) -> None:
        try:
            await brain.async_pull(self._model, self.async_update_progress)
        except BrainError as err:
            self._error = err
            _LOGGER.warning("Pulling %s failed: %s", self._model, err)


class RecreatePipelineRepairFlow(RepairsFlow):
    """Confirm, then create Moxie's Assist pipeline again."""

    def __init__(self, entry_id: str) -> None:
        """Fix the deleted pipeline of one Moxie."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Ask, then recreate the pipeline (which closes the issue)."""
        entry: MoxieConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if (
            entry is None
            or entry.state is not ConfigEntryState.LOADED
            or entry.runtime_data.pipeline is None
        ):
            return self.async_abort(reason="entry_not_loaded")
        if user_input is None:
            return self.async_show_form(
                step_id="confirm", description_placeholders={"name": entry.title}
            )
        await entry.runtime_data.pipeline.async_recreate()
        if entry.runtime_data.pipeline.pipeline_id is None:
            return self.async_abort(reason="pipeline_not_created")
        return self.async_create_entry(data={})


class MicrophoneRepairFlow(RepairsFlow):
    """Ask for the Wyoming microphone next to Moxie and save it in the entry's options."""

    def __init__(self, entry_id: str) -> None:
        """Give ears to one Moxie."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the microphone form."""
        return await self.async_step_microphone()

    async def async_step_microphone(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show the options' microphone form; saved, the satellite connects by itself."""
        entry: MoxieConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            mic, errors = validate_mic(user_input)
            if not errors and not mic[CONF_MIC_HOST]:
                errors = {CONF_MIC_HOST: "host_required"}
            if not errors:
                self.hass.config_entries.async_update_entry(entry, options={**entry.options, **mic})
                ir.async_delete_issue(self.hass, DOMAIN, no_microphone_issue_id(entry.entry_id))
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="microphone",
            data_schema=vol.Schema(mic_schema(user_input or entry.options)),
            errors=errors,
            description_placeholders={"name": entry.title},
        )


def no_microphone_issue_id(entry_id: str) -> str:
    """Return the id of the repair issue raised while Moxie has no microphone."""
    return f"{NO_MICROPHONE}_{entry_id}"


@callback
def async_check_microphone(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Raise the no-microphone issue while entry has no microphone; delete it once it has one."""
    issue_id = no_microphone_issue_id(entry.entry_id)
    if str(entry.options.get(CONF_MIC_HOST) or "").strip():
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=NO_MICROPHONE,
        translation_placeholders={"name": entry.title},
        data={"entry_id": entry.entry_id, "kind": NO_MICROPHONE},
    )


@callback
def async_track_microphone(hass: HomeAssistant, entry: ConfigEntry) -> CALLBACK_TYPE:
    """Check entry's microphone now and whenever its options are saved (any flow).

    Not an update listener: the signal the satellite also follows to reconnect its microphone.
    """
    async_check_microphone(hass, entry)

    @callback
    def _changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if change is ConfigEntryChange.UPDATED and changed.entry_id == entry.entry_id:
            async_check_microphone(hass, changed)

    return async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _changed)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the flow that fixes a missing-model, deleted-pipeline or no-microphone issue."""
    assert data is not None
    if data.get("kind") == NO_MICROPHONE:
        return MicrophoneRepairFlow(str(data["entry_id"]))
    if data.get("kind") == "pipeline_deleted":
        return RecreatePipelineRepairFlow(str(data["entry_id"]))
    return PullModelRepairFlow(str(data["entry_id"]), str(data["model"]))
