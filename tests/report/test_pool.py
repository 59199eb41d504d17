"""Stopping the chapter pool: its workers end, and the pool knows they did (else its shutdown waits for ever)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import time

from segmentation.report.chapters.pool import _stop_workers


def test_stopped_workers_are_gone_for_their_pool_and_its_shutdown_returns():
    pool = cf.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    futures = [pool.submit(time.sleep, 600) for _ in range(2)]
    while not all(f.running() for f in futures):  # both workers started and busy
        time.sleep(0.05)
    workers = dict(pool._processes)
    _stop_workers(pool)
    shutdown = threading.Thread(target=pool.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
    shutdown.start()
    shutdown.join(120)  # a guard against the hang, not a speed limit: it returns at once
    assert not shutdown.is_alive()
    # reaped behind the pool's back (as psutil did), a worker stays "alive" to multiprocessing for ever; asked
    # after the shutdown, since the pool's own thread may be the one that records a worker's end
    assert [w.is_alive() for w in workers.values()] == [False, False]
