"""The embedded engine: run work in this process, or in a pool of fresh processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

ENGINES = ("embedded", "dask")
"""Where work can run: this machine, or a ``dask.distributed`` cluster."""


def map_in_processes(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    args: tuple[Any, ...] = (),
    workers: int,
) -> Iterator[Any]:
    """Run ``func(item, *args)`` for every item in ``workers`` fresh processes, in order.

    Processes are spawned, never forked, so a threaded parent (Arrow, BLAS) is safe.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(func, item, *args) for item in items]
        for future in futures:
            yield future.result()
