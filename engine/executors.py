"""Where many simulations run at once: a pool of this machine's processes, or a Dask cluster.

A search over architectures is dozens of candidate designs x seeds x minutes of simulated traffic,
and every run is independent of the others: the textbook case for a pool of workers. One machine's
cores come first (a process pool: simulations are CPU-bound Python, so threads would share one
core). When that is not enough, the same work goes to a Dask cluster: set DASK_SCHEDULER_ADDRESS
(e.g. tcp://scheduler:8786) and every search and capacity sweep submits to it (docs/deploy.md).

Both are a `concurrent.futures.Executor` (Dask's through `Client.get_executor`), so the code that
submits work never knows which it has. What travels to a worker is plain data (a scenario as a
dict, a few numbers) and what comes back is a dict of figures. Dask moves them with pickle between
its own processes: a scheduler and workers are trusted parts of the deployment, never a browser.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

DASK_ADDRESS = "DASK_SCHEDULER_ADDRESS"


def local_workers() -> int:
    """Return how many worker processes to start here: GSL_WORKERS if set, else the machine's cores."""
    text = os.environ.get("GSL_WORKERS", "").strip()
    if text.isdigit():
        return max(int(text), 0)
    return os.cpu_count() or 1


def process_pool(workers: int) -> Executor:
    """Return a pool of `workers` fresh processes (spawned: a forked copy of a threaded server is unsafe);
    0 workers runs each task in one thread of this process (tests, and machines that cannot spawn)."""
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def dask_executor(address_or_cluster) -> Executor:
    """Return an executor on a Dask cluster: its scheduler's address, or a cluster object (a LocalCluster)."""
    from distributed import Client  # imported only when a cluster is used

    client = Client(address_or_cluster, set_as_default=False)
    executor = client.get_executor(pure=False)  # pure=False: two runs of the same task are two runs
    executor.client = client  # kept, so whoever holds the executor can close the connection
    return executor


def executor_from_env(workers: int | None = None) -> tuple[Executor, str]:
    """Return (an executor, where it runs, in words): the Dask cluster DASK_SCHEDULER_ADDRESS names, else a local
    process pool of `workers` (default: local_workers())."""
    address = os.environ.get(DASK_ADDRESS, "").strip()
    if address:
        return dask_executor(address), f"the Dask cluster at {address}"
    count = local_workers() if workers is None else workers
    return process_pool(count), (f"{count} local processes" if count else "this process")


def close(executor: Executor, cancel: bool = False) -> None:
    """Shut an executor down (and its Dask connection), cancelling what has not started if asked."""
    client = getattr(executor, "client", None)
    if client is None:
        executor.shutdown(wait=not cancel, cancel_futures=cancel)
        return
    executor.shutdown(wait=not cancel)  # Dask's: its futures are cancelled one by one by whoever submitted them
    client.close()
