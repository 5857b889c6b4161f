"""The one error tree of prodml.

Every error names the ids involved and the next step a user can take::

    ProdmlError
    ├── NotFoundError             an id, name or version that is not in the store
    ├── InvalidInputError         a value the caller passed that cannot be accepted
    │   ├── MetricValueError      a metric that is not a finite-or-NaN number
    │   ├── MetricFunctionError   a module:function metric that raised or gave no number
    │   └── ParamConflictError    a param re-logged with a different value
    ├── DataReadError             a file or folder that cannot be read as data
    ├── StoreError                the metadata or artifact store cannot serve the request
    │   ├── StoreVersionError     a store written by a newer prodml
    │   ├── StoreBusyError        the store stayed locked past the busy timeout
    │   └── IntegrityError        a blob whose bytes no longer match its digest
    ├── RunStateError             an operation that a run's state does not allow
    ├── GateRefusedError          a promotion the evaluation gate did not pass
    ├── AccessDeniedError         a token missing or without the role an action needs
    ├── RowsRefusedError          buffered rows the database refused (others were stored)
    └── StepFailedError           a pipeline step's function raised (nothing it made is cached)

The CLI prints ``str(error)`` and exits with code 1; HTTP layers map each class
to one status code.
"""

from __future__ import annotations

ECHOED = 60  # characters of what a user typed that an error message repeats


def echoed(text: str) -> str:
    """What a user typed, quoted for an error message: cut to ``ECHOED`` characters
    with its length said, so that a pasted megabyte does not fill the terminal."""
    if len(text) <= ECHOED:
        return repr(text)
    return f"{text[:ECHOED]!r}... ({len(text):,} characters)"


class ProdmlError(Exception):
    """Base of every error prodml raises on purpose."""

    exit_code = 1


class NotFoundError(ProdmlError):
    """An id, name or version that is not in the store."""


class InvalidInputError(ProdmlError):
    """A value the caller passed that cannot be accepted."""


class MetricValueError(InvalidInputError):
    """A metric value that is not a number."""


class MetricFunctionError(InvalidInputError):
    """A ``module:function`` metric that raised, or returned what is not a number."""


class ParamConflictError(InvalidInputError):
    """A param logged twice in one run with different values."""


class DataReadError(ProdmlError):
    """A file or folder that cannot be read as data."""


class StoreError(ProdmlError):
    """The metadata or artifact store cannot serve the request."""


class StoreVersionError(StoreError):
    """The store was written by a newer prodml than the one running."""


class StoreBusyError(StoreError):
    """The store stayed locked by another writer past the busy timeout."""


class IntegrityError(StoreError):
    """A blob whose bytes no longer match the digest it is stored under."""


class RunStateError(ProdmlError):
    """An operation that the run's current state does not allow."""


class GateRefusedError(ProdmlError):
    """A move of a protected alias that the suite's gate failed or could not decide."""


class AccessDeniedError(ProdmlError):
    """A token missing, unknown, revoked or without the role an action needs."""

    exit_code = 3


class RowsRefusedError(ProdmlError):
    """Buffered rows of one run that the database refused; other runs' rows were stored."""


class StepFailedError(ProdmlError):
    """A pipeline step whose function raised; nothing it made was cached."""
