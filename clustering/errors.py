"""Exception types raised by the library.

Every error a user can fix is a :class:`ClusteringError`; the CLI prints its message
as one line on stderr and exits non-zero.
"""

from __future__ import annotations


class ClusteringError(Exception):
    """Base class for errors the user can act on."""


class InputError(ClusteringError, ValueError):
    """The input file or data cannot be used as given (unreadable, empty, no text)."""


class ParameterError(ClusteringError, ValueError):
    """An option has a value outside what is allowed.

    The message names the option, what is allowed and what was given.
    """

    def __init__(self, name: str, allowed: str, given: object, hint: str = "") -> None:
        self.name = name
        self.allowed = allowed
        self.given = given
        message = f"{name} must be {allowed}; got {given!r}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class ModelError(ClusteringError):
    """A saved model folder cannot be used (missing, damaged, incompatible)."""


class OutputError(ClusteringError, OSError):
    """The output folder cannot be written as asked (exists, not writable)."""
