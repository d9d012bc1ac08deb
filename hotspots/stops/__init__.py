"""Stop and search: classification, rates and intervals, disclosure control, the review."""
