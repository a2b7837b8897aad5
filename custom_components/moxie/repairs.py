"""Repairs: the missing-model issue pulls the model; the deleted-pipeline issue recreates it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .brain import Brain, BrainError
from .models import MoxieConfigEntry

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


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the flow that fixes a missing-model or deleted-pipeline issue."""
    assert data is not None
    if data.get("kind") == "pipeline_deleted":
        return RecreatePipelineRepairFlow(str(data["entry_id"]))
    return PullModelRepairFlow(str(data["entry_id"]), str(data["model"]))
