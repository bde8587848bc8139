"""Absolute links to the app's pages, and their QR codes: what a team pastes into a chat or a phone scans.

A link is built from the app's public address: GSL_PUBLIC_URL when the deployment sets it (the
address people use, behind whatever proxy), else the address this browser used, as Streamlit saw it.
Only when neither is known does a link fall back to a path on the same site.
"""

from __future__ import annotations

import io
import os
from urllib.parse import urlencode

import segno
import streamlit as st


def base_url() -> str:
    """Return the app's address without a trailing slash (scheme, host and any path prefix), or "" if unknown."""
    public = os.environ.get("GSL_PUBLIC_URL", "").strip().rstrip("/")
    if public.startswith(("http://", "https://")):
        return public
    try:
        here = (st.context.url or "").split("?")[0]
    except Exception:  # noqa: BLE001 - outside a browser session there is no address
        here = ""
    return here.rsplit("/", 1)[0] if here.count("/") > 2 else here


def app_link(page: str, **params: str) -> str:
    """Return the absolute address of one of the app's pages with its query parameters."""
    query = f"?{urlencode(params)}" if params else ""
    return f"{base_url()}/{page}{query}"


def qr_png(text: str) -> bytes:
    """Return a QR code of `text` as PNG bytes (segno, pure Python)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=10, border=2)
    return buffer.getvalue()
