"""Inference on a dask-distributed LocalCluster of worker processes."""

import os
import signal
import time
import warnings

import numpy as np
import pytest
from test_inference import model_path, scene  # noqa: F401  (fixture and scene builder)

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from xsoilmoist.inference import model_load_count, predict  # noqa: E402


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with Client(cluster) as client:
        yield client
    cluster.close()


def test_cluster_gives_the_same_numbers_and_loads_once_per_worker(client, model_path):  # noqa: F811
    ds = scene(ny=120, nx=130, nt=2, seed=7)
    local = predict(ds, model_path, progress=False).values
    lazy = predict(ds.chunk({"y": 60, "x": 65}), model_path)
    np.testing.assert_allclose(lazy.compute().values, local, atol=1e-6, rtol=0)
    again = predict(ds.chunk({"y": 60}), model_path).compute().values
    np.testing.assert_allclose(again, local, atol=1e-6, rtol=0)
    loads = client.run(model_load_count)
    assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1, loads
    threads = client.run(torch.get_num_threads)
    assert set(threads.values()) == {1}, threads  # no oversubscription


def test_progress_on_a_cluster(client, model_path, capsys):  # noqa: F811
    ssm = predict(scene(ny=40, nx=40, nt=1).chunk(), model_path, progress=True)
    assert isinstance(ssm.data, np.ndarray)
    assert np.isfinite(ssm.values).all()


def test_killed_worker_is_rescheduled_and_numbers_are_identical(client, model_path):  # noqa: F811
    from xsoilmoist import inference

    ds = scene(ny=200, nx=200, nt=4, seed=9)
    expected = predict(ds, model_path).values
    original = inference.TARGET_BLOCK
    inference.TARGET_BLOCK = 40  # many small tasks, so some are running when we kill
    try:
        ssm = predict(ds.chunk({"time": 1}), model_path)
    finally:
        inference.TARGET_BLOCK = original
    future = client.compute(ssm.data)
    deadline = time.monotonic() + 60
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = next(addr for addr, tasks in client.processing().items() if tasks)
    victim_pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(victim_pid, signal.SIGKILL)
    values = future.result(timeout=180)
    assert victim_pid not in client.run(os.getpid).values()  # it really died
    np.testing.assert_allclose(values, expected, atol=1e-6, rtol=0)
