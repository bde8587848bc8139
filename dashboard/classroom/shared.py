"""The app's one store per process, and the banner that says when shared state is away.

Streamlit keeps one Store per process (st.cache_resource): the embedded fakeredis server must be
shared by every session of the process, and a real Redis connection pool should be too. Whether
Redis answers is checked at most every few seconds, so a lost server costs a page one short
timeout, not one per widget.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from dashboard.classroom.store import Store

RECHECK_S = 3.0
_last_check: dict[str, tuple[float, bool]] = {}


@st.cache_resource(show_spinner=False)
def shared_store() -> Store:
    """Return this process's store: REDIS_URL's server, or an embedded one."""
    return Store.from_env()


def store_is_up() -> bool:
    """Return whether the store answered a ping in the last few seconds."""
    store = shared_store()
    checked_at, up = _last_check.get(store.where, (0.0, False))
    if time.monotonic() - checked_at > RECHECK_S:
        up = store.ping()
        _last_check[store.where] = (time.monotonic(), up)
    return up


def banner() -> None:
    """Say, at the top of every page, when shared state is unavailable and what still works."""
    if not shared_store().secret_is_shared:
        st.info("REDIS_URL is set but GSL_SECRET is not: rooms and saved scenarios work only within this app "
                "process. Give every process the same GSL_SECRET (deploy/cluster.py does).", icon=":material/key:")
    if not store_is_up():
        st.warning(f"Shared state ({shared_store().where}) is not answering. Lessons, the sandbox and every "
                   "simulation keep working here; rooms and saved scenarios are unavailable until it is back "
                   "(no restart needed).", icon=":material/cloud_off:")


def client_id() -> str:
    """Return this browser's address, hashed with the app's secret: whom the store's limits count (never kept raw).

    Behind the deployment's nginx (GSL_BEHIND_PROXY=1, deploy/cluster.py), the address is the last one
    X-Forwarded-For names, the one nginx itself added (earlier ones are whatever the client wrote);
    otherwise it is the address Streamlit sees. Learners behind one NAT share an address, and so
    share its limits: the limits are sized for a classroom, and a presenter has a recovery key.
    """
    address = None
    try:
        if os.environ.get("GSL_BEHIND_PROXY"):
            forwarded = st.context.headers.get("X-Forwarded-For") or ""
            address = forwarded.split(",")[-1].strip() or None
        address = address or st.context.ip_address
    except Exception:  # noqa: BLE001 - outside a browser session (tests, scripts) there is no address
        address = None
    return shared_store().client_key(str(address) if isinstance(address, str) and address else "unknown")
