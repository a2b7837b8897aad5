"""Moxie's memory in the Moxie card, in a real Chromium, on a real Home Assistant.

The same stack as test_moxie_card.py (its own Home Assistant for this module). Memories are made
the way a family makes them: a question to Moxie's agent ("Acuérdate de que ...") that the
loopback Ollama answers with a real call of Moxie's memory tool. The parent then sees, edits and
erases them in the card, in Spanish and in English.
"""

from __future__ import annotations

from playwright.async_api import Page, expect
import pytest

from tests.browser.test_moxie_card import (  # noqa: F401 - the module's stack fixture
    DESKTOP,
    PHONE,
    Stack,
    _in_browser,
    _shot,
    stack,
)

pytestmark = pytest.mark.timeout(600)


async def _tell(stack: Stack, text: str, language: str) -> str:  # noqa: F811
    """Ask Moxie's agent as the parent (through the REST API); return the answer."""
    result = await stack.home.call(
        stack.request,
        "conversation",
        "process",
        agent_id="conversation.moxie",
        text=text,
        language=language,
    )
    return str(result["service_response"]["response"]["speech"]["plain"]["speech"])


def test_parent_sees_edits_and_erases_memories_in_spanish(stack: Stack) -> None:  # noqa: F811
    assert stack.loop.run(_tell(stack, "Acuérdate de que mi perro se llama Toby.", "es")) == (
        "¡Me acordaré!"
    )
    stack.loop.run(_tell(stack, "Acuérdate para todos de que la gata se llama Misi.", "es"))

    async def steps(page: Page) -> None:
        card = page.locator("moxie-card")
        await expect(card.locator(".memories-title")).to_have_text("Lo que Moxie recuerda")
        mine = card.locator(".person[data-scope^='user:']")
        await expect(mine.locator(".who span")).to_have_text("Mamá")
        toby = mine.locator(".memory")
        await expect(toby.locator(".text")).to_have_text("Mi perro se llama Toby.")
        await expect(toby.locator(".meta")).to_contain_text("aprendido hoy")
        household = card.locator(".person[data-scope='household']")
        await expect(household.locator(".who span")).to_have_text("Toda la casa")
        await expect(household.locator(".memory .text")).to_have_text("La gata se llama Misi.")
        await _shot(stack, page, "card-es-memories")

        # Correct one.
        await toby.locator("button.edit").click()
        editor = toby.locator("input")
        await expect(editor).to_have_value("Mi perro se llama Toby.")
        await editor.fill("Mi perro se llama Toby y es blanco.")
        await editor.press("Enter")
        await expect(toby.locator(".text")).to_have_text("Mi perro se llama Toby y es blanco.")

        # Delete the household's, then erase all of the parent's (a second tap confirms).
        await expect(household.locator("button.forget")).to_have_text("Borrar")
        await household.locator("button.forget").click()
        await expect(household).to_have_count(0)
        erase = mine.locator("button.erase-all")
        await expect(erase).to_have_text("Borrar todo de Mamá")
        await erase.click()
        await expect(erase).to_have_text("Pulsa otra vez para borrarlo todo")
        await erase.click()
        await expect(card.locator(".no-memories")).to_have_text("Moxie todavía no recuerda nada.")
        await _shot(stack, page, "card-es-memories-erased")

    _in_browser(stack, "es", PHONE, steps)

    # Moxie forgot for real: the next question carries none of it.
    answer = stack.loop.run(_tell(stack, "¿Cómo se llama mi perro?", "es"))
    assert answer == "Eco: ¿Cómo se llama mi perro?"


def test_parent_sees_and_erases_memories_in_english(stack: Stack) -> None:  # noqa: F811
    stack.loop.run(_tell(stack, "Remember that my favourite colour is green.", "en"))

    async def steps(page: Page) -> None:
        card = page.locator("moxie-card")
        await expect(card.locator(".memories-title")).to_have_text("What Moxie remembers")
        person = card.locator(".person[data-scope^='user:']")
        await expect(person.locator(".memory .text")).to_have_text("My favourite colour is green.")
        await expect(person.locator(".memory .meta")).to_contain_text("learned today")
        await expect(person.locator("button.edit")).to_have_text("Edit")
        await expect(person.locator("button.erase-all")).to_have_text("Erase all of Mamá")
        await _shot(stack, page, "card-en-memories")
        await person.locator("button.forget").click()
        await expect(card.locator(".no-memories")).to_have_text("Moxie remembers nothing yet.")

    _in_browser(stack, "en", DESKTOP, steps)
