"""The web chat in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The page is served by the real app on a loopback port. These tests are the accessibility and
safety checks that only a browser can make: keyboard-only use, the live region, ``lang``
following the conversation, contrast of the rendered colours, 320 px reflow, and that user text
never becomes markup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.app import create_app
from bot.settings import Settings
from bot.turns import TurnProcessor, Turns
from bot.web import COOKIE_NAME, conversation_id
from flows.render import Renderer
from tests.fakes.server import running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-webchat.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def url(settings: Settings, processor: TurnProcessor) -> Iterator[str]:
    with running(create_app(settings, Turns(processor)), lifespan="on") as base:
        yield f"{base}/"


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 800, "height": 900}, locale="fi-FI")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    expect(page.locator("#log .choices button").first).to_be_visible()
    yield page
    context.close()
    assert errors == [], "the page's script must not throw"


def wait_for(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression until true. (``page.wait_for_function`` would ``eval`` it in the page,
    which the page's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


# --------------------------------------------------------------------------------------------------
# The walk: open, type, click, read
# --------------------------------------------------------------------------------------------------


def test_type_a_question_click_a_button_read_the_answer(page: Page, renderer: Renderer) -> None:
    log = page.locator("#log")
    expect(log.locator("li.bot").first).to_contain_text(renderer.text("common.privacy_notice", "fi", {})[:40])

    page.get_by_label("Kirjoita viestisi").fill("miten ilmoittaudun työnhakijaksi")
    page.get_by_role("button", name="Lähetä").click()

    expect(log.locator("li.user").last).to_have_text("Sinä: miten ilmoittaudun työnhakijaksi")
    intro = renderer.text("register_jobseeker.intro", "fi", {})
    expect(log.locator("li.bot", has_text=intro[:30])).to_have_count(1)
    choices = log.locator(".choices button")
    expect(choices.first).to_be_visible()
    expect(log.locator(".choices")).to_have_count(1)  # only the newest question has buttons
    title = choices.first.inner_text()
    bot_messages = log.locator("li.bot").count()

    choices.first.click()

    expect(log.locator("li.user").last).to_have_text(f"Sinä: {title}")
    expect(log.locator("li.bot")).not_to_have_count(bot_messages)
    assert log.locator("li.bot").count() > bot_messages
    expect(log.locator(".choices button", has_text=title)).to_have_count(0)


def test_keyboard_only(page: Page, renderer: Renderer) -> None:
    """Tab to the message box, type, Enter; Shift+Tab back to a choice, Enter; focus never lost."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "message":
            break
    else:
        pytest.fail("the message box cannot be reached with Tab")
    page.keyboard.type("valikko")
    page.keyboard.press("Enter")
    expect(page.locator("#log li.bot", has_text=renderer.text("common.menu", "fi", {}))).to_have_count(1)
    assert page.evaluate("document.activeElement.id") == "message", "focus stays in the box after sending"

    page.keyboard.press("Shift+Tab")
    focused = page.evaluate("document.activeElement.closest('.choices') !== null")
    assert focused, "Shift+Tab from the box reaches the newest question's buttons"
    title = page.evaluate("document.activeElement.textContent")
    count = page.locator("#log li.bot").count()
    page.keyboard.press("Enter")

    expect(page.locator("#log li.user").last).to_have_text(f"Sinä: {title}")
    wait_for(page, f"document.querySelectorAll('#log li.bot').length > {count}")
    active = page.evaluate("document.activeElement.tagName + '#' + document.activeElement.id")
    assert active != "BODY#", "focus must not fall to the page when the pressed button is removed"

    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus is visible"


def test_language_buttons_work_with_the_space_key(page: Page) -> None:
    page.locator("button.lang[data-lang='en']").focus()
    page.keyboard.press("Space")

    expect(page.locator("html")).to_have_attribute("lang", "en")


# --------------------------------------------------------------------------------------------------
# Language, live region, names
# --------------------------------------------------------------------------------------------------


def test_lang_attribute_and_labels_follow_the_conversation(page: Page, renderer: Renderer) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "fi")

    page.locator("#log .choices button", has_text="Svenska").click()

    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_label("Skriv ditt meddelande")).to_be_visible()
    expect(page.get_by_role("button", name="Skicka")).to_be_visible()
    changed = page.locator("#log li.bot", has_text=renderer.text("common.language_changed", "sv", {}))
    expect(changed).to_have_attribute("lang", "sv")
    assert page.title().startswith("Opastin – chattassistent")
    # Earlier messages keep their own language, so a screen reader reads them right.
    expect(page.locator("#log li.bot").first).to_have_attribute("lang", "fi")


def test_new_messages_arrive_in_a_polite_live_log(page: Page) -> None:
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_accessible_name("Keskustelu")
    expect(log.locator(".choices").first).to_have_attribute("role", "group")
    before = log.locator("li.bot").count()

    page.get_by_label("Kirjoita viestisi").fill("kiitos")
    page.keyboard.press("Enter")

    wait_for(page, f"document.querySelectorAll('#log li.bot').length > {before}")
    expect(page.get_by_role("status")).to_have_text("")  # "sending…" is cleared once answered


# --------------------------------------------------------------------------------------------------
# Safety, contrast, reflow
# --------------------------------------------------------------------------------------------------


def test_user_text_is_shown_as_text_never_as_markup(page: Page) -> None:
    attack = "<img src=x onerror=\"document.title='pwned'\"><b>lihava</b>"
    page.get_by_label("Kirjoita viestisi").fill(attack)
    page.keyboard.press("Enter")

    expect(page.locator("#log li.user").last).to_have_text(f"Sinä: {attack}")
    page.wait_for_timeout(300)
    assert page.locator("#log img, #log b").count() == 0
    assert page.title() != "pwned"


CONTRAST_JS = """
() => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const results = [];
  for (const selector of ["h1", "#intro", "label", ".hint", "li.bot", "li.user", ".choices button",
                          "button[type=submit]", "button.lang", "button.lang[aria-current=true]", "textarea"]) {
    const el = document.querySelector(selector);
    if (!el) { results.push([selector, 0]); continue; }
    const [l1, l2] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))];
    results.push([selector, (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)]);
  }
  return results;
}
"""


def test_every_text_meets_wcag_aa_contrast(page: Page) -> None:
    page.get_by_label("Kirjoita viestisi").fill("hei")
    page.keyboard.press("Enter")
    expect(page.locator("#log li.user")).to_have_count(1)
    page.locator("button.lang[data-lang='fi']").evaluate("b => b.setAttribute('aria-current', 'true')")

    ratios = dict(page.evaluate(CONTRAST_JS))

    low = {selector: round(ratio, 2) for selector, ratio in ratios.items() if ratio < 4.5}
    assert low == {}, f"contrast below 4.5:1: {low}"


def test_reflows_at_320_css_pixels(browser: Browser, url: str) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="fi-FI")
    page = context.new_page()
    page.goto(url)
    expect(page.locator("#log .choices button").first).to_be_visible()
    page.get_by_label("Kirjoita viestisi").fill("miten liityn videotapaamiseen puhelimella")
    page.keyboard.press("Enter")
    wait_for(page, "document.querySelectorAll('#log li.bot').length > 3")

    assert page.evaluate("document.documentElement.scrollWidth") <= 320, "no horizontal scrolling"
    box = page.get_by_role("button", name="Lähetä").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 320
    context.close()


def test_reload_keeps_the_transcript_without_starting_over(page: Page, processor: TurnProcessor) -> None:
    page.get_by_label("Kirjoita viestisi").fill("kiitos")
    page.keyboard.press("Enter")
    expect(page.locator("#log li.user")).to_have_count(1)
    wait_for(page, "document.getElementById('status').textContent === ''")
    shown = page.locator("#log li").all_inner_texts()
    session = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    version = processor.conversation("web", conversation_id(session)).state.version

    page.reload()

    expect(page.locator("#log li")).to_have_count(len(shown))
    assert page.locator("#log li").all_inner_texts() == shown
    assert processor.conversation("web", conversation_id(session)).state.version == version, "no new turn"


# --------------------------------------------------------------------------------------------------
# The README's screenshot
# --------------------------------------------------------------------------------------------------


def test_screenshot(browser: Browser, url: str, tmp_path: Path) -> None:
    """Takes the picture; ``OPASTIN_UPDATE_SCREENSHOT=1`` also writes ``docs/screenshot-webchat.png``."""
    context = browser.new_context(viewport={"width": 720, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Write your message").fill("How do I join a video meeting?")
    page.keyboard.press("Enter")
    expect(page.locator("#log .choices button").first).to_be_visible()
    page.wait_for_timeout(300)

    target = SCREENSHOT if os.environ.get("OPASTIN_UPDATE_SCREENSHOT") else tmp_path / "webchat.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    context.close()
    assert target.stat().st_size > 10_000
