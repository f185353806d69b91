# SPDX-License-Identifier: MIT
"""One exception class per acp_status.  str(exc) is the library's message,
unchanged; exc.status is the numeric status and exc.status_name its stable
upper-case name ("NOT_FOUND")."""
from typing import Dict, Type


class AcpStorageError(Exception):
    """Base of every error this package raises."""

    status = -1
    status_name = "UNKNOWN"

    def __init__(self, message: str, status: "int | None" = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotFound(AcpStorageError, LookupError):
    """No such run or session (ACP_NOT_FOUND)."""

    status, status_name = 1, "NOT_FOUND"


class Invalid(AcpStorageError, ValueError):
    """Bad argument, URI, option or document; nothing changed (ACP_INVALID)."""

    status, status_name = 2, "INVALID"


class Conflict(AcpStorageError):
    """A concurrent change prevented the operation (ACP_CONFLICT)."""

    status, status_name = 3, "CONFLICT"


class Unavailable(AcpStorageError):
    """Server unreachable or lock timeout; safe to retry (ACP_UNAVAILABLE)."""

    status, status_name = 4, "UNAVAILABLE"


class StorageIOError(AcpStorageError):
    """Disk or network error (ACP_IO)."""

    status, status_name = 5, "IO"


class Corrupt(AcpStorageError):
    """Stored data unreadable (ACP_CORRUPT)."""

    status, status_name = 6, "CORRUPT"


class NoMemory(AcpStorageError, MemoryError):
    """Out of memory (ACP_NOMEM)."""

    status, status_name = 7, "NOMEM"


class Unsupported(AcpStorageError):
    """The backend does not offer this operation (ACP_UNSUPPORTED)."""

    status, status_name = 8, "UNSUPPORTED"


class LoadError(AcpStorageError):
    """The backend plugin, or the library itself, could not be loaded (ACP_LOAD)."""

    status, status_name = 9, "LOAD"


class PluginError(AcpStorageError):
    """A plugin-specific failure (ACP_PLUGIN)."""

    status, status_name = 10, "PLUGIN"


BY_STATUS: Dict[int, Type[AcpStorageError]] = {
    cls.status: cls
    for cls in (NotFound, Invalid, Conflict, Unavailable, StorageIOError, Corrupt, NoMemory,
                Unsupported, LoadError, PluginError)
}


def from_status(status: int, message: str) -> AcpStorageError:
    """The exception for a status the library returned."""
    cls = BY_STATUS.get(status)
    if cls is None:
        return AcpStorageError(message, status)
    return cls(message)
