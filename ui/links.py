"""A page's view in its address (``st.query_params``), so that a link opens the same view.

Before a widget: ``seed(key, param, options)`` gives it its starting value from ``?param=``
(a value that is not among ``options`` is ignored). After the widgets: ``keep(param=value, ...)``
writes the view back into the address, and ``share()`` shows that address with a copy button.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from urllib.parse import urlencode

import streamlit as st


def seed(
    key: str,
    param: str,
    options: Collection | None = None,
    cast: Callable[[str], object] = str,
) -> None:
    """Start widget ``key`` at the address's ``?param=`` once, if it is a valid value."""
    if key in st.session_state or param not in st.query_params:
        return
    try:
        value = cast(st.query_params[param])
    except (TypeError, ValueError):
        return
    if options is None or value in options:
        st.session_state[key] = value


def seed_range(key: str, param: str, low: float, high: float) -> None:
    """Like ``seed`` for a range slider: ``?param=0.5-1``, both ends within [low, high]."""
    if key in st.session_state or param not in st.query_params:
        return
    try:
        a, b = (float(x) for x in st.query_params[param].split("-"))
    except ValueError:
        return
    if low <= a <= b <= high:
        st.session_state[key] = (a, b)


def keep(**params: object) -> None:
    """Write the view into the address: ``keep(model="vgg12", severity=3)``."""
    for param, value in params.items():
        if value is None:
            st.query_params.pop(param, None)
        elif isinstance(value, tuple):
            st.query_params[param] = "-".join(f"{v:g}" for v in value)
        else:
            st.query_params[param] = str(value)


def view_url() -> str:
    """The address of this page with its view, as the browser shows it."""
    base = st.context.url or ""
    query = urlencode(st.query_params.to_dict())
    return f"{base}?{query}" if query else base


def share(where=None) -> None:
    """A "Copy link" box whose address another browser opens on the same view; ``where``: a
    container made earlier (``st.empty()``), so it can sit above widgets that run after it."""
    with (where or st.container()).popover("Copy link", icon=":material/link:"):
        st.caption("Copy it (button on the right); it opens this page as you see it now.")
        st.code(view_url(), language=None, wrap_lines=True)
