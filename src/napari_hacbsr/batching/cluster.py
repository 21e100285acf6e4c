"""Where a batch runs: a local Dask cluster started for it, or a scheduler given by address (checked first).

`connect` yields a Client either way. A given address is asked who it is before the Client is made:
`distributed.Client(address, timeout=...)` bounds the TCP connect but not Dask's handshake, so a port
that accepts connections and never answers (the dashboard's HTTP port, any silent listener) would
otherwise hang the batch forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_SECONDS = 20  # to reach the address (TCP), retried by distributed within this time
HANDSHAKE_SECONDS = 10  # for what answers there to say it is a Dask scheduler
# How often an item is retried after a worker running it died (killed: out of memory, a crash); at the
# next death it is reported failed. Dask's own default, so local and remote clusters behave alike (a
# cluster given by address keeps its `distributed.scheduler.allowed-failures`). Dask also counts a
# death against an item merely queued on that worker, hence not fewer.
WORKER_DEATH_RETRIES = 3
# One torch/BLAS thread per CPU worker: the cluster's parallelism is its workers, not threads in them.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
DASHBOARD_ADDRESS = ":8787"  # distributed moves to a free port when this one is taken
# Dask's nannies export MALLOC_TRIM_THRESHOLD_=65536 to their workers, which turns off glibc's dynamic
# mmap threshold: every large short-lived torch buffer then costs fresh page faults, and items ran
# 30-40 % slower on a worker than in a plain process (interleaved probe, benchmarks/batch.py). Local
# clusters drop it (None unsets a pre-spawn variable); docs/user-guide.md says how for other clusters.
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": WORKER_DEATH_RETRIES,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def require_distributed():
    """The `distributed` module; ImportError that names the extra when it is not installed."""
    try:
        import distributed
    except ImportError:
        raise ImportError("batch runs need Dask distributed: pip install 'napari-hacbsr[batch]'") from None
    return distributed


def _not_a_scheduler(address: str, what: str) -> ConnectionError:
    return ConnectionError(
        f"{address} answers but is not a Dask scheduler ({what}); the dashboard is usually :8787, the "
        f"scheduler :8786 — check the --scheduler address (or $DASK_SCHEDULER_ADDRESS)"
    )


def _reachable_by_tcp(address: str, seconds: float) -> bool:
    """For tcp:// addresses, whether something accepts a TCP connection (False: not tcp, or refused)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return False
    try:
        with socket.create_connection(parse_host_port(location), timeout=seconds):
            return True
    except OSError:  # refused or unreachable: distributed's connect retries and says so
        return False


def probe_scheduler(address: str, connect_s: float | None = None, handshake_s: float | None = None) -> None:
    """Return when a Dask scheduler answers at `address`; ConnectionError in words, in bounded time, otherwise."""
    from distributed.comm import connect as dask_connect

    connect_s = CONNECT_SECONDS if connect_s is None else connect_s
    handshake_s = HANDSHAKE_SECONDS if handshake_s is None else handshake_s

    async def ask() -> Any:
        # distributed's connect retries the TCP connect for connect_s and raises OSError when nothing
        # listens; its handshake read has no bound, hence the wait_for around the whole exchange.
        comm = await dask_connect(address, timeout=connect_s)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def in_own_loop() -> Any:  # its own thread and loop: the caller may already run one (Jupyter)
        limit = connect_s + handshake_s
        if _reachable_by_tcp(address, connect_s):  # reached: what remains is Dask's part
            limit = handshake_s
        return asyncio.run(asyncio.wait_for(ask(), limit))

    with ThreadPoolExecutor(1, thread_name_prefix="hacbsr-probe") as pool:
        try:
            reply = pool.submit(in_own_loop).result()
        except TimeoutError:  # (asyncio's too) reached, but the Dask handshake never came
            raise _not_a_scheduler(address, f"no Dask handshake within {handshake_s:g} s") from None
        except ValueError as exc:  # malformed address, unknown protocol
            raise ConnectionError(f"{address} is not a Dask scheduler address ({exc}); e.g. tcp://HOST:8786") from None
        except OSError as exc:
            from distributed.comm.core import CommClosedError

            if isinstance(exc, CommClosedError):  # connected, then closed on our handshake: another protocol
                raise _not_a_scheduler(address, "it closed the connection on Dask's handshake") from None
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {address} ({exc}); check the address and that it runs"
            ) from None
        except Exception as exc:  # noqa: BLE001 - whatever answered sent bytes Dask cannot decode
            raise _not_a_scheduler(address, f"its reply is not Dask's: {type(exc).__name__}") from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        what = f"it is a Dask {kind}" if isinstance(kind, str) else "its reply is not a Dask identity"
        raise _not_a_scheduler(address, what)


def _visible_gpus() -> list[str]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return []
    if not torch.cuda.is_available():
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    ids = [v for v in visible.split(",") if v] if visible else [str(i) for i in range(torch.cuda.device_count())]
    return ids[: torch.cuda.device_count()]


def start_local_cluster(workers: int | None = None):
    """One worker process per GPU (pinned with CUDA_VISIBLE_DEVICES), else one per CPU core, 1 thread each."""
    distributed = require_distributed()
    import dask

    gpus = _visible_gpus()
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        if gpus:
            chosen = gpus[: workers or len(gpus)]
            spec = {
                f"gpu{gpu}": {
                    "cls": distributed.Nanny,
                    "options": {"nthreads": 1, "env": {**ONE_THREAD_ENV, "CUDA_VISIBLE_DEVICES": gpu}},
                }
                for gpu in chosen
            }
            scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": DASHBOARD_ADDRESS}}
            return distributed.SpecCluster(workers=spec, scheduler=scheduler, name="hacbsr-gpu")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        n = workers or cores
        return distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=DASHBOARD_ADDRESS,
            env=ONE_THREAD_ENV,
        )


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Client on `scheduler` (or $DASK_SCHEDULER_ADDRESS), else on a local cluster closed on exit."""
    distributed = require_distributed()
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address:
        probe_scheduler(address)
        try:
            client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {address} ({exc}); check the address and that it runs"
            ) from None
        with client:
            yield client
        return
    cluster = start_local_cluster(workers)
    try:
        with distributed.Client(cluster) as client:
            from .interrupt import IgnoreInterrupt

            client.register_plugin(IgnoreInterrupt())
            yield client
    finally:
        cluster.close()
