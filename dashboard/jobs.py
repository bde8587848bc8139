"""Work that runs beside the page: many simulations at once, with progress and a cancel switch.

A search over architectures or a capacity sweep is many independent simulations. They run on the
one executor this app process shares between its sessions (engine/executors.py: local worker
processes, or the Dask cluster DASK_SCHEDULER_ADDRESS names), started in a thread so the page stays
responsive: a fragment polls the job's progress a few times a second, and a Cancel button sets its
switch. Nothing here draws anything; the pages do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import streamlit as st

from engine.executors import executor_from_env


@st.cache_resource(show_spinner=False)
def shared_executor() -> tuple[Executor, str]:
    """Return this process's executor and where it runs, in words (made once, on first use)."""
    return executor_from_env()


MAX_JOBS = 4  # searches and sweeps running at once in this app process, from all sessions together
_running = threading.BoundedSemaphore(MAX_JOBS)


class Busy(RuntimeError):
    """Too many jobs run in this app process already: the message says so."""


class Job:
    """One piece of work in a thread: `work(executor, report, cancel)` returns the result; `report(dict)` updates
    the progress the page shows; `cancel` is set when the user asks it to stop."""

    def __init__(self, work: Callable[[Executor, Callable[[dict], None], threading.Event], Any]):
        """Start `work` in a thread; raise Busy when MAX_JOBS jobs already run in this process."""
        if not _running.acquire(blocking=False):
            raise Busy(f"{MAX_JOBS} searches or sweeps are running on this app already: try again when one ends.")
        self.cancel = threading.Event()
        self.progress: dict = {}
        self.result: Any = None
        self.error: BaseException | None = None
        self.executor, self.where = shared_executor()
        self._thread = threading.Thread(target=self._run, args=(work,), name="gsl-job", daemon=True)
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work(self.executor, self.progress.update, self.cancel)
        except BaseException as exc:  # noqa: BLE001 - shown by the page, as a message
            self.error = exc
        finally:
            _running.release()

    @property
    def running(self) -> bool:
        """Return whether the work is still going."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the work to end (tests; a page polls instead)."""
        self._thread.join(timeout)
