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


def peak_rss_mb(children: bool = False) -> float:
    """This process's peak resident memory, or that of its largest finished child."""
    return resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF).ru_maxrss / 1024
