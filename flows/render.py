"""Turning a ``Reply`` into text: one preloaded Jinja2 environment per output kind.

Templates are Jinja2 files of named blocks (``templates/<lang>/<file>.j2``); a reply names
``<file>.<block>``. Each file is compiled once, at start, into two environments: plain text for
Telegram and the terminal, and autoescaped for HTML channels, so user-supplied slot values can
never become markup. ``office`` facts from settings are passed in every render, with values given
per language (``{fi: …, sv: …, en: …}``) collapsed to the conversation's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import jinja2
import markupsafe
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.content import Content
from flows.model import LANGUAGES, Reply

_MONTHS_EN: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS: Final = {
    "fi": ("ma", "ti", "ke", "to", "pe", "la", "su"),
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    """A reply ready for a channel: text plus buttons as ``(title, payload)`` pairs."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    template: str = ""


def format_date(value: Any, lang: str = "fi") -> str:
    """Format a date or datetime (or its ISO string) the way each language writes it."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        day = format_date(value.date(), lang)
        clock = f"{value.hour}.{value.minute:02d}"
        return {"fi": f"{day} klo {clock}", "sv": f"{day} kl. {clock}"}.get(
            lang, f"{day} at {value.hour}:{value.minute:02d}"
        )
    if isinstance(value, date):
        weekday = _WEEKDAYS.get(lang, _WEEKDAYS["en"])[value.weekday()]
        if lang == "en":
            return f"{weekday} {value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
        return f"{weekday} {value.day}.{value.month}.{value.year}"
    return str(value)


def make_environment(*, html: bool) -> jinja2.Environment:
    """The sandboxed environment templates and branch conditions run in."""
    env = ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = lambda value, lang=None: format_date(value, lang or "fi")
    return env


def localize(value: Any, lang: str) -> Any:
    """Collapse ``{fi: …, sv: …, en: …}`` mappings (at any depth) to the value for ``lang``."""
    if isinstance(value, Mapping):
        keys = set(value)
        if keys and keys <= set(LANGUAGES):
            return value.get(lang, value.get(LANGUAGES[0]))
        return {k: localize(v, lang) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localize(v, lang) for v in value]
    return value


class Renderer:
    """Renders replies of one ``Content``; build once, share between threads (it is read-only)."""

    def __init__(self, content: Content) -> None:
        self._content = content
        self._office = {lang: localize(content.office, lang) for lang in LANGUAGES}
        self._templates: dict[tuple[bool, str, str], jinja2.Template] = {}
        for html in (False, True):
            env = make_environment(html=html)
            env.filters["date"] = _date_filter
            for lang, files in content.templates.items():
                for stem, source in files.items():
                    self._templates[(html, lang, stem)] = env.from_string(source)

    def has(self, key: str, lang: str) -> bool:
        stem, _, block = key.partition(".")
        template = self._templates.get((False, lang, stem))
        return template is not None and block in template.blocks

    def text(self, key: str, lang: str, variables: Mapping[str, Any], *, html: bool = False) -> str:
        """Render the block ``key`` (``file.block``) in ``lang``."""
        stem, _, block = key.partition(".")
        template = self._templates[(html, lang, stem)]
        context = template.new_context(
            {**variables, "office": self._office.get(lang, self._office[LANGUAGES[0]]), "lang": lang},
            shared=False,
        )
        return "".join(template.blocks[block](context)).strip()

    def render(
        self,
        reply: Reply,
        language: str,
        slots: Mapping[str, Any] | None = None,
        *,
        html: bool = False,
    ) -> Rendered:
        variables = {**(slots or {}), **reply.params}
        buttons = tuple(
            (
                self._button_text(b.text, html)
                if b.text is not None
                else self.text(b.label, language, variables, html=html),
                b.payload,
            )
            for b in reply.buttons
        )
        return Rendered(
            text=self.text(reply.template, language, variables, html=html),
            buttons=buttons,
            template=reply.template,
        )

    @staticmethod
    def _button_text(text: str, html: bool) -> str:
        return str(markupsafe.escape(text)) if html else text


@jinja2.pass_context
def _date_filter(context: Any, value: Any) -> str:
    return format_date(value, context.get("lang") or LANGUAGES[0])
