"""One real local Dask cluster (2 worker processes, 1 thread each) shared by the batch tests."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    from napari_hacbsr.batching.cluster import start_local_cluster
    from napari_hacbsr.batching.item import FAULT_ENV

    fault_dir = tmp_path_factory.mktemp("faults")
    os.environ[FAULT_ENV] = str(fault_dir)  # inherited by the worker processes (and their restarts)
    local = start_local_cluster(workers=2)
    try:
        yield SimpleNamespace(address=local.scheduler_address, fault_dir=fault_dir, cluster=local)
    finally:
        local.close()
        os.environ.pop(FAULT_ENV, None)
