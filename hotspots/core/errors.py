"""Exceptions and warnings raised by hotspots.

Every exception also inherits a built-in, so callers can catch either one.
The command line turns :class:`HotspotsError` into a one-line message and exit code 2.
"""


class HotspotsError(Exception):
    """Base class: catch this to handle any hotspots failure."""


class SchemaError(HotspotsError, ValueError):
    """A frame or file lacks required columns or has values of the wrong type."""


class CRSError(HotspotsError, ValueError):
    """Layers disagree on CRS, or a metric step was given degrees."""


class InputError(HotspotsError, ValueError):
    """An input path is missing, unreadable, empty or of an unknown format."""


class HotspotsWarning(UserWarning):
    """Input that is valid but suspicious (for example too few incidents)."""
