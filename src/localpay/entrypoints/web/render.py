"""Rendering pages: one Jinja2 environment, gettext by the page's language, htmx partials.

A template is rendered whole for a normal request and, for an htmx request that names a
block (`block=`), only that block (jinja2-fragments): the same template serves both, so a
partial can never drift from its page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from localpay.entrypoints.web import i18n
from localpay.entrypoints.web.context import page_context
from localpay.entrypoints.web.security import finish

TEMPLATES: Final = Path(__file__).parent / "templates"


@pass_context
def _gettext(context: Context, message: str, **variables: Any) -> str:
    text = i18n.translations(context["lang"]).gettext(message)
    return text % variables if variables else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, **variables: Any) -> str:
    text = i18n.translations(context["lang"]).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


@pass_context
def _won(context: Context, amount: int) -> str:
    return i18n.won(amount, context["lang"])


@pass_context
def _date(context: Context, value: Any) -> str:
    return i18n.date(value, context["lang"])


@pass_context
def _when(context: Context, epoch_ms: int) -> str:
    return i18n.when(epoch_ms, context["lang"])


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters["won"] = _won
    env.filters["date"] = _date
    env.filters["when"] = _when
    return env


ENV: Final = _environment()


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render `template` (or only its `block`) with the page context of `request`."""
    values = {**page_context(request), **(context or {})}
    if block is not None:
        html = render_block(ENV, template, block, **values)
    else:
        html = ENV.get_template(template).render(**values)
    return finish(request, HTMLResponse(html, status_code=status))  # type: ignore[return-value]
