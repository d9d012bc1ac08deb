"""How concentrated crime and harm are: Lorenz curve, Gini, the "power few".

"Power few" figures answer the commander's question: how small a share of places holds how
much of the harm? They are computed over *all* cells of the study area, zeros included,
because leaving out cells without incidents would understate concentration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import SchemaError

TOP_SHARES = (0.01, 0.05, 0.10)


@dataclass(frozen=True)
class Concentration:
    """Concentration of one quantity (counts or harm) over places.

    Attributes
    ----------
    quantity
        What was measured (``"incidents"`` or ``"harm"``).
    places
        Number of places (cells or areas), zeros included.
    total
        Sum of the quantity.
    gini
        Gini coefficient, 0 (even) to 1 (all in one place); the finite-sample form
        ``sum((2i - n - 1) x_i) / (n sum x)`` over ascending values.
    top_share
        Share of the total held by the top 1%, 5% and 10% of places (by value).
    places_for_half
        Fewest places that together hold at least half of the total.
    share_of_places_for_half
        ``places_for_half / places``.
    lorenz
        Curve points: ``share_of_places`` (ascending) and ``share_of_total``.
    """

    quantity: str
    places: int
    total: float
    gini: float
    top_share: dict[float, float]
    places_for_half: int
    share_of_places_for_half: float
    lorenz: pd.DataFrame

    def as_dict(self) -> dict[str, object]:
        """Plain form for manifests and reports (without the curve)."""
        return {
            "quantity": self.quantity,
            "places": self.places,
            "total": self.total,
            "gini": self.gini,
            "top_share": {f"top_{round(k * 100)}pct": v for k, v in self.top_share.items()},
            "places_for_half": self.places_for_half,
            "share_of_places_for_half": self.share_of_places_for_half,
        }


def measure_concentration(
    values: pd.Series | np.ndarray,
    *,
    quantity: str = "harm",
    top_shares: tuple[float, ...] = TOP_SHARES,
) -> Concentration:
    """Measure how concentrated ``values`` are across places.

    Parameters
    ----------
    values
        One value per place (cell or area), zeros included, all >= 0.
    quantity
        Name of what is measured, for labels.
    top_shares
        Shares of places for the "top x%" figures. The number of places in the top x% is
        ``ceil(x * places)``.

    Returns
    -------
    Concentration
        Gini, top shares, places for half, and the Lorenz curve.

    Raises
    ------
    SchemaError
        If values are empty, negative or not finite.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise SchemaError("measure_concentration needs at least one place.")
    if not np.isfinite(array).all() or (array < 0).any():
        raise SchemaError(
            f"measure_concentration needs finite values >= 0; got min {np.nanmin(array)}, "
            f"{int((~np.isfinite(array)).sum())} non-finite. Fill places without incidents with 0."
        )
    n = array.size
    ascending = np.sort(array)
    total = float(ascending.sum())
    descending = ascending[::-1]
    if total == 0:
        gini = 0.0
        shares = dict.fromkeys(top_shares, 0.0)
        for_half = 0
        cumulative = np.zeros(n)
    else:
        ranks = np.arange(1, n + 1)
        gini = float(((2 * ranks - n - 1) * ascending).sum() / (n * total))
        cumulative_desc = np.cumsum(descending) / total
        shares = {s: float(cumulative_desc[max(int(np.ceil(s * n)), 1) - 1]) for s in top_shares}
        for_half = int(np.searchsorted(cumulative_desc, 0.5 - 1e-12) + 1)
        cumulative = np.cumsum(ascending) / total
    lorenz = pd.DataFrame(
        {
            "share_of_places": np.concatenate([[0.0], np.arange(1, n + 1) / n]),
            "share_of_total": np.concatenate([[0.0], cumulative]),
        }
    )
    return Concentration(
        quantity=quantity,
        places=n,
        total=total,
        gini=gini,
        top_share=shares,
        places_for_half=for_half,
        share_of_places_for_half=for_half / n,
        lorenz=lorenz,
    )
