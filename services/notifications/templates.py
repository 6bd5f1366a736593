"""Jinja2 templates of every mail and inbox entry, per kind and language.

``templates/<language>/<kind>.txt`` holds the blocks ``subject`` and ``summary`` (the
inbox title and body) and the plain-text part; ``templates/<language>/<kind>.html``
the HTML part, autoescaped (user content such as a proposal's text is escaped). The
recipient's language chooses; a language or kind without a template falls back to
English and logs a warning (once per language and kind), and a template that fails
to render in its language is retried in English: rendering never crashes on a
translation.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from jinja2 import (ChainableUndefined, Environment, FileSystemLoader, TemplateNotFound, Undefined, pass_context,
                    select_autoescape)

from services.notifications.domain import FALLBACK_LANGUAGE
from services.notifications.words import words_for

log = logging.getLogger(__name__)
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SUBJECT_MAX = 200


def one_line(value: str) -> str:
    """Collapses line breaks and runs of spaces (a header can never be injected), keeping
    typographic spaces such as the narrow no-break space of French numbers."""
    return re.sub(r"[ \t\r\n\f\v]+", " ", value or "").strip()


class Rendered(NamedTuple):
    language: str
    subject: str
    summary: str
    text: str
    html: str


def _group(value: Any, separator: str) -> str:
    if isinstance(value, Undefined):
        return ""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    return f"{number:,}".replace(",", separator)


SEPARATORS = {"fr": "\u202f", "de": ".", "en": ","}


@pass_context
def _number(ctx, value):
    return _group(value, SEPARATORS.get(ctx.get("lang"), ","))


@pass_context
def _percent(ctx, value):
    if isinstance(value, Undefined) or value is None:
        return ""
    try:
        share = round(float(value) * 100)
    except (TypeError, ValueError):
        return ""
    return f"{share}\u00a0%" if ctx.get("lang") in ("fr", "de") else f"{share}%"


class Renderer:
    def __init__(self, directory: Path | str = TEMPLATE_DIR, fallback: str = FALLBACK_LANGUAGE):
        self.fallback = fallback
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
        )
        self.env.filters["number"] = _number
        self.env.filters["percent"] = _percent
        self._warned: set[tuple[str, str]] = set()

    def render(self, kind: str, language: str | None, context: Mapping[str, Any]) -> Rendered:
        """Subject, inbox summary, text and HTML parts of ``kind`` in ``language``
        (English when that language has no template for it or its template fails)."""
        language = (language or self.fallback).lower()
        if language != self.fallback:
            try:
                return self._render(kind, language, context)
            except TemplateNotFound:
                self._warn(kind, language, "no template")
            except Exception as exc:  # a broken translation must not stop the mail
                self._warn(kind, language, f"template failed ({exc.__class__.__name__}: {exc})")
        return self._render(kind, self.fallback, context)

    def _warn(self, kind, language, why):
        if (kind, language) not in self._warned:
            self._warned.add((kind, language))
            log.warning("notifications: %s for %r in language %r; falling back to %r", why, kind, language,
                        self.fallback)

    def _render(self, kind: str, language: str, context: Mapping[str, Any]) -> Rendered:
        text_template = self.env.get_template(f"{language}/{kind}.txt")
        html_template = self.env.get_template(f"{language}/{kind}.html")
        ctx = dict(context)
        ctx.update(lang=language, words=words_for(language))
        subject = one_line(self._block(text_template, "subject", ctx))[:SUBJECT_MAX]
        summary = one_line(self._block(text_template, "summary", ctx))
        ctx.update(subject=subject, summary=summary)
        text = text_template.render(ctx).strip() + "\n"
        html = html_template.render(ctx).strip() + "\n"
        return Rendered(language, subject, summary, text, html)

    @staticmethod
    def _block(template, name, ctx) -> str:
        block = template.blocks.get(name)
        if block is None:
            return ""
        return "".join(block(template.new_context(ctx)))


_default: Renderer | None = None


def renderer() -> Renderer:
    global _default
    if _default is None:
        _default = Renderer()
    return _default
