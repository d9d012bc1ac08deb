"""Disclosure control shared by every output: counts below a threshold are not published."""

from __future__ import annotations


def suppress(count: float | int, min_count: int) -> str:
    """Format a count for publication: the number, or ``"fewer than N"`` below the threshold."""
    count = int(count)
    if 0 < count < min_count:
        return f"fewer than {min_count}"
    return f"{count:,}"
