"""The Dask engine: ingest and per-cell aggregation on a ``dask.distributed`` cluster.

The same pipeline as the embedded engine, cut into tasks:

* **ingest**: one task per input file (:func:`hotspots.ingest.pipeline.ingest_source`): read,
  validate, geocode (H3 and boroughs, vectorised), weight by harm and write the file's
  accepted rows as part files into the store's staging folder. The client gathers each
  file's counts and rejects, then commits the month partitions exactly as an embedded
  ingest does (``--append`` and ``--replace-months`` included).
* **aggregation**: one task per month partition (:func:`hotspots.detect.streamed.reduce_month`),
  then a tree of merges (:func:`hotspots.detect.streamed.combine`) on the workers. Only the
  aggregates (distinct map points, cells x months) travel to the client, which runs the
  statistics (Gi*, kernel density, clustering, emerging trends) on them.

Sums are exact and tables are sorted before the statistics, so the answer does not depend
on how the work was split: the cells table equals the embedded engine's (a test checks it
on a two-worker ``LocalCluster``).

Running on a real cluster::

    dask scheduler                                   # on one machine: tcp://host:8786
    dask worker tcp://host:8786 --nthreads 1         # on each worker (as many as you like)
    hotspots ingest /shared/police_uk --out /shared/store --engine dask --scheduler tcp://host:8786
    hotspots detect /shared/store --out /shared/detect --engine dask --scheduler tcp://host:8786

Workers need ``hotspots`` installed (``pip install "hotspots[dask]"``, same version as
the client) and must see the input files and the ``--out`` folder at the same paths
(a shared filesystem such as NFS or Lustre): tasks read the inputs and write the store
directly, so no row passes through the client. Without ``--scheduler`` a local cluster
with one single-threaded worker process per core is started for the run.

dask-geopandas is not needed on this path: geocoding is already vectorised inside each
file's task (one point-in-polygon test per distinct map point), which is what a
dask-geopandas ``sjoin`` per partition would do, with more memory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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


def ingest_on_dask(
    sources: Sequence[Any], settings: Any, out_dir: str | Path, *, scheduler: Any = None
) -> Iterator[Any]:
    """Read every source as one task; yield :class:`hotspots.ingest.pipeline.SourceOutcome` in order.

    The tasks write part files into the staging folders of ``out_dir``; the caller
    (:func:`hotspots.ingest.pipeline.ingest_to_store` with ``engine="dask"``) commits them.
    """
    from hotspots.ingest.pipeline import ingest_source

    with connect(scheduler) as client:
        shared = client.scatter(settings, broadcast=True)
        futures = [
            client.submit(ingest_source, source, shared, str(out_dir), i, pure=False)
            for i, source in enumerate(sources)
        ]
        for future in futures:
            yield future.result()


def _merge(parts: list[Any]) -> Any:
    from hotspots.detect.streamed import combine

    present = [p for p in parts if p is not None]
    return combine(present) if present else None


def aggregate_on_dask(
    store: str | Path,
    *,
    months: tuple[str, str] | None = None,
    offences: Sequence[str] | None = None,
    scheduler: Any = None,
) -> Any:
    """:func:`hotspots.detect.streamed.aggregate_store` with one task per month and a tree of merges.

    Returns
    -------
    hotspots.detect.streamed.Aggregates
        The store's aggregates, gathered on the client.

    Raises
    ------
    InputError
        If the selection holds no incidents.
    """
    from hotspots.detect.streamed import dataset_root, months_in_store, reduce_month

    root = dataset_root(store)
    wanted = months_in_store(root, months)
    with connect(scheduler) as client:
        parts = [
            client.submit(
                reduce_month, str(root), month, offences=list(offences or []), pure=False
            )
            for month in wanted
        ]
        while len(parts) > 1:
            parts = [
                client.submit(_merge, parts[i : i + MERGE_FAN_IN], pure=False)
                for i in range(0, len(parts), MERGE_FAN_IN)
            ]
        result = parts[0].result() if parts else None
    if result is None:
        raise InputError(
            f"no incidents in {store} for the selection (months {months or 'all'}, offences "
            f"{', '.join(offences) if offences else 'all'}); check --months and --crime-type."
        )
    return result


__all__ = ["MERGE_FAN_IN", "aggregate_on_dask", "connect", "ingest_on_dask"]
