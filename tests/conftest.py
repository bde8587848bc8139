"""Fixtures every test shares."""

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """Start every test with empty Streamlit caches: they outlive AppTest instances in one process."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def jobs_in_process(monkeypatch):
    """Run searches and sweeps in a thread of this process: AppTest has no server to spawn workers beside."""
    from dashboard.jobs import shared_executor

    monkeypatch.setenv("GSL_WORKERS", "0")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    shared_executor.clear()
    yield
    shared_executor.clear()
