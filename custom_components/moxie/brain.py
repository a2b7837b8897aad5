"""Moxie's brain: the Ollama client, its health, and the repair issues that explain problems."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
import logging

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.ssl import get_default_context
import httpx
import ollama

from .const import CONNECT_TIMEOUT, DOMAIN, RECHECK_INTERVAL

_LOGGER = logging.getLogger(__name__)

# Reading may wait long (a model loading, a big pull), connecting may not.
CLIENT_TIMEOUT = httpx.Timeout(300.0, connect=CONNECT_TIMEOUT)


class Problem(StrEnum):
    """What can be wrong with the brain; the values are config flow error keys."""

    CANNOT_CONNECT = "cannot_connect"
    INVALID_AUTH = "invalid_auth"
    TIMEOUT = "timeout"
    MODEL_MISSING = "model_missing"
    UNKNOWN = "unknown"


class BrainError(Exception):
    """Talking to Ollama failed; `problem` says how."""

    def __init__(self, problem: Problem, detail: str, model: str | None = None) -> None:
        """Keep the problem, a detail for the log and the model concerned."""
        super().__init__(detail)
        self.problem = problem
        self.model = model


def create_client(url: str, api_key: str | None) -> ollama.AsyncClient:
    """Return an Ollama client for url, sending the API key as a bearer token."""
    key = api_key.strip() if api_key else None
    return ollama.AsyncClient(
        host=url,
        headers={"Authorization": f"Bearer {key}"} if key else None,
        verify=get_default_context(),
        timeout=CLIENT_TIMEOUT,
    )


# What the ollama client raises when Ollama cannot answer.
OLLAMA_ERRORS = (
    ollama.ResponseError,
    ollama.RequestError,
    httpx.HTTPError,
    ConnectionError,
    TimeoutError,
)


def as_brain_error(err: BaseException, model: str | None = None) -> BrainError:
    """Map an error of the ollama client (or its transport) to a BrainError."""
    if isinstance(err, BrainError):
        return err
    if isinstance(err, TimeoutError | httpx.TimeoutException):
        return BrainError(Problem.TIMEOUT, str(err) or "timed out", model)
    if isinstance(err, ConnectionError | httpx.TransportError):
        return BrainError(Problem.CANNOT_CONNECT, str(err), model)
    if isinstance(err, ollama.ResponseError):
        if err.status_code in (401, 403):
            return BrainError(Problem.INVALID_AUTH, str(err), model)
        if err.status_code == 404 and "not found" in str(err.error):
            return BrainError(Problem.MODEL_MISSING, str(err), model)
    return BrainError(Problem.UNKNOWN, str(err), model)


async def async_close_client(client: ollama.AsyncClient) -> None:
    """Close the client's connections."""
    close: Callable[[], Awaitable[None]] = client.close  # unannotated in the library
    await close()


async def async_list_models(client: ollama.AsyncClient) -> list[str]:
    """Return the installed models' names; raise BrainError when Ollama does not answer."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            response = await client.list()
    except (TimeoutError, ConnectionError, httpx.HTTPError, ollama.ResponseError) as err:
        raise as_brain_error(err) from err
    return sorted(model.model for model in response.models if model.model)


async def async_validate(url: str, api_key: str | None) -> list[str]:
    """Check url (and key) with a fresh client; return the installed models."""
    client = create_client(url, api_key)
    try:
        return await async_list_models(client)
    finally:
        await async_close_client(client)


class Brain:
    """The Ollama client of one Moxie, and whether it currently works.

    A problem opens a repair issue (unreachable, unauthorized or a missing model) that closes by
    itself once Ollama answers again; while Ollama is unreachable it is checked periodically.
    """

    def __init__(
        self, hass: HomeAssistant, entry_id: str, name: str, url: str, api_key: str | None
    ) -> None:
        """Create the client; nothing is sent before the first check."""
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.url = url
        self.client = create_client(url, api_key)
        self.models: list[str] = []
        self.problem: Problem | None = None
        self.missing_models: set[str] = set()
        # What each model can do (Ollama's /api/show capabilities), asked once per model.
        self._capabilities: dict[str, set[str]] = {}
        self._recheck: CALLBACK_TYPE | None = None
        self.start_task: asyncio.Task[bool] | None = None

    async def async_close(self) -> None:
        """Stop checking and close the client (repair issues stay until fixed)."""
        if self.start_task is not None:
            self.start_task.cancel()
        self._stop_recheck()
        await async_close_client(self.client)

    async def async_check(self) -> bool:
        """Ask Ollama for its models; update health and issues; return whether it answered."""
        try:
            self.models = await async_list_models(self.client)
        except BrainError as err:
            self.async_report_problem(err)
            return False
        self.async_report_ok()
        # Missing-model issues may predate this brain (they survive restarts): scan them all.
        prefix, suffix = "model_missing_", f"_{self.entry_id}"
        for domain, issue_id in list(ir.async_get(self.hass).issues):
            if domain == DOMAIN and issue_id.startswith(prefix) and issue_id.endswith(suffix):
                model = issue_id.removeprefix(prefix).removesuffix(suffix)
                if model in self.models or f"{model}:latest" in self.models:
                    self._clear_model_missing(model)
        return True

    @callback
    def async_report_ok(self, model: str | None = None) -> None:
        """Ollama answered (with model, when given): close the matching repair issues."""
        if self.problem is not None:
            _LOGGER.info("Ollama at %s answers again", self.url)
        self.problem = None
        self._stop_recheck()
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id("ollama_unreachable"))
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id("ollama_unauthorized"))
        if model is not None:
            self._clear_model_missing(model)

    @callback
    def async_report_problem(self, err: BrainError) -> None:
        """Remember the problem and open the repair issue that explains how to fix it."""
        placeholders = {"name": self.name, "url": self.url, "model": err.model or ""}
        if err.problem is Problem.MODEL_MISSING and err.model:
            # Ollama answered, so the connection itself is fine.
            self.async_report_ok()
            self.missing_models.add(err.model)
            self._create_issue(
                f"model_missing_{err.model}",
                "model_missing",
                placeholders,
                fix_data={"entry_id": self.entry_id, "model": err.model},
            )
            return
        if self.problem is None:
            _LOGGER.warning("Ollama at %s: %s (%s)", self.url, err.problem, err)
        self.problem = err.problem
        if err.problem is Problem.INVALID_AUTH:
            self._create_issue("ollama_unauthorized", "ollama_unauthorized", placeholders)
            if entry := self.hass.config_entries.async_get_entry(self.entry_id):
                entry.async_start_reauth(self.hass)
        elif err.problem in (Problem.CANNOT_CONNECT, Problem.TIMEOUT):
            self._create_issue("ollama_unreachable", "ollama_unreachable", placeholders)
        if self._recheck is None:
            self._recheck = async_track_time_interval(
                self.hass,
                self._async_recheck,
                timedelta(seconds=RECHECK_INTERVAL),
                name="Moxie brain recheck",
                cancel_on_shutdown=True,
            )

    async def async_pull(self, model: str, on_progress: Callable[[float], None]) -> None:
        """Pull model through Ollama, reporting the share of bytes received (0 to 1)."""
        try:
            async for progress in await self.client.pull(model, stream=True):
                if progress.total and progress.completed is not None:
                    on_progress(min(progress.completed / progress.total, 1.0))
        except OLLAMA_ERRORS as err:
            raise as_brain_error(err, model) from err
        await self.async_check()

    async def async_calls_tools(self, model: str) -> bool:
        """Whether model calls tools (asked once; assumed when Ollama cannot tell)."""
        if model not in self._capabilities:
            try:
                shown = await self.client.show(model)
            except OLLAMA_ERRORS as err:
                _LOGGER.debug("Cannot read the capabilities of %s: %s", model, err)
                return True
            if shown.capabilities is None:
                return True
            self._capabilities[model] = set(shown.capabilities)
        return "tools" in self._capabilities[model]

    async def _async_recheck(self, _now: object) -> None:
        await self.async_check()

    def _stop_recheck(self) -> None:
        if self._recheck is not None:
            self._recheck()
            self._recheck = None

    def _issue_id(self, key: str) -> str:
        return f"{key}_{self.entry_id}"

    def _create_issue(
        self,
        key: str,
        translation_key: str,
        placeholders: dict[str, str],
        fix_data: dict[str, str | int | float | None] | None = None,
    ) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(key),
            is_fixable=fix_data is not None,
            data=fix_data,
            severity=ir.IssueSeverity.ERROR,
            translation_key=translation_key,
            translation_placeholders=placeholders,
        )

    def _clear_model_missing(self, model: str) -> None:
        self.missing_models.discard(model)
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(f"model_missing_{model}"))


@callback
def async_remove_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every repair issue of a removed entry."""
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and issue_id.endswith(f"_{entry_id}"):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
