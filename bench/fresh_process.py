"""Run one measurement in a fresh interpreter, so neither warm caches nor another run's memory count."""

from __future__ import annotations

import multiprocessing as mp
import resource


def in_process(target, *args):
    """Run target(*args, queue) in a new process; answers what it put on the queue."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
