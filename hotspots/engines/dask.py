"""The Dask engine: run tasks on a ``dask.distributed`` cluster (or a local one).

It knows nothing of crime data: :func:`map_on_dask` runs one task per item and yields the
results in order (ingest: one task per input file, :func:`hotspots.ingest.pipeline.ingest_source`);
:func:`reduce_on_dask` runs one task per item and a tree of merges on the workers (detect:
one task per month partition, :func:`hotspots.aggregates.store.reduce_month`, merged with
:func:`hotspots.aggregates.tables.combine`), so only the aggregates reach the client.

Sums are exact and tables are sorted before the statistics, so the answer does not depend
on how the work was split: the cells table equals the embedded engine's (a test checks it
on a two-worker ``LocalCluster``).

Running on a real cluster::

    dask scheduler                                   # on one machine: tcp://host:8786
    dask worker tcp://host:8786 --nthreads 1         # on each worker (as many as you like)
    hotspots ingest /shared/police_uk --out /shared/store --engine dask --scheduler tcp://host:8786
    hotspots detect /shared/store --out /shared/detect --engine dask --scheduler tcp://host:8786

Workers need ``hotspots`` installed (same version as the client) and must see the input
files and the ``--out`` folder at the same paths (a shared filesystem such as NFS or
Lustre): tasks read the inputs and write the store directly, so no row passes through the
client. Without ``--scheduler`` a local cluster with one single-threaded worker process
per core is started for the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hotspots.core.errors import InputError

MERGE_FAN_IN = 4
"""Aggregates merged per task in the reduction tree."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the Dask engine needs dask.distributed; install it with pip install "hotspots[dask]"'
        ) from exc
    return distributed


@contextmanager
def connect(
    scheduler: Any = None,
    *,
    n_workers: int | None = None,
    processes: bool = True,
    timeout: str = "30s",
) -> Iterator[Any]:
    """Yield a ``distributed.Client``: to ``scheduler``, or to a local cluster started here.

    Parameters
    ----------
    scheduler
        A scheduler address (``"tcp://host:8786"``), an existing ``Client`` (used as it
        is, not closed), or ``None`` for a ``LocalCluster`` of single-threaded workers
        that lives as long as the context.
    n_workers
        Workers of the local cluster (default: one per core).
    processes
        Local workers as processes (default) or threads.
    timeout
        How long to try reaching ``scheduler``.

    Raises
    ------
    InputError
        If the scheduler cannot be reached.
    """
    distributed = _distributed()
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                "'dask scheduler' and pass its tcp://host:port address."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    # a local cluster is an implementation detail: keep its start-up chatter out of the
    # command's output unless logging was asked for (hotspots -v)
    chatter = logging.getLogger("distributed")
    level = chatter.level
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        chatter.setLevel(logging.WARNING)
    cluster = distributed.LocalCluster(
        n_workers=n_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",  # any free port: never clash with another cluster
        silence_logs=logging.WARNING,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        chatter.setLevel(level)


def map_on_dask(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    shared: Any = None,
    args: tuple[Any, ...] = (),
    scheduler: Any = None,
) -> Iterator[Any]:
    """Run ``func(item, shared, *args, index)`` as one task per item; yield results in order.

    ``shared`` is sent to every worker once (broadcast), not once per task.
    """
    with connect(scheduler) as client:
        # a fresh key per call: with the default hashed key, a second run scattering equal
        # settings can race the release of the first run's copy ("lost dependencies")
        sent = client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        futures = [
            client.submit(func, item, sent, *args, i, pure=False) for i, item in enumerate(items)
        ]
        for future in futures:
            yield future.result()


def reduce_on_dask(
    func: Callable[..., Any],
    items: Sequence[Any],
    merge: Callable[[list[Any]], Any],
    *,
    kwargs: dict[str, Any] | None = None,
    scheduler: Any = None,
    fan_in: int = MERGE_FAN_IN,
) -> Any:
    """Run ``func(item, **kwargs)`` as one task per item, then a tree of ``merge`` tasks.

    Only the final result travels to the client. Returns ``None`` when there are no items.
    """
    with connect(scheduler) as client:
        parts = [client.submit(func, item, **(kwargs or {}), pure=False) for item in items]
        while len(parts) > 1:
            parts = [
                client.submit(merge, parts[i : i + fan_in], pure=False)
                for i in range(0, len(parts), fan_in)
            ]
        return parts[0].result() if parts else None


__all__ = ["MERGE_FAN_IN", "connect", "map_on_dask", "reduce_on_dask"]
