# SPDX-License-Identifier: MIT
"""One exception class per library status, under one base class."""
import ctypes

import pytest

import acp_storage
from acp_storage import errors

NAMES = ["NOT_FOUND", "INVALID", "CONFLICT", "UNAVAILABLE", "IO", "CORRUPT", "NOMEM",
         "UNSUPPORTED", "LOAD", "PLUGIN"]


@pytest.mark.parametrize("status", range(1, 11))
def test_each_status_has_its_class_named_as_the_library_names_it(status):
    exc = errors.from_status(status, "the message")
    assert isinstance(exc, acp_storage.AcpStorageError)
    assert type(exc) is not acp_storage.AcpStorageError
    assert exc.status == status and str(exc) == "the message"
    lib = acp_storage.library()
    lib.acp_status_name.restype = ctypes.c_char_p
    assert exc.status_name == lib.acp_status_name(status).decode() == NAMES[status - 1]


def test_classes_are_exported_by_their_names():
    for name in ["NotFound", "Invalid", "Conflict", "Unavailable", "StorageIOError", "Corrupt",
                 "NoMemory", "Unsupported", "LoadError", "PluginError"]:
        assert issubclass(getattr(acp_storage, name), acp_storage.AcpStorageError)
    assert len(set(errors.BY_STATUS.values())) == 10


def test_unknown_status_gives_the_base_class():
    exc = errors.from_status(99, "m")
    assert type(exc) is acp_storage.AcpStorageError and exc.status == 99


def test_bad_uri_reports_the_library_message_unchanged():
    with pytest.raises(acp_storage.Invalid) as e:
        acp_storage.Store("memory:?nosuchoption=1")
    lib = acp_storage.library()
    err = acp_storage._lib.AcpError()
    out = ctypes.c_void_p()
    assert lib.acp_store_open(b"memory:?nosuchoption=1", ctypes.byref(out), ctypes.byref(err)) == 2
    assert str(e.value) == err.message.decode()


def test_rediss_says_tls_is_unsupported_as_the_command_does():
    # The hint lives in the library, so every caller gets it, not only the CLI.
    with pytest.raises(acp_storage.Unsupported) as e:
        acp_storage.Store("rediss://127.0.0.1:1/0")
    assert "Redis over TLS is not supported" in str(e.value)
    assert "redis://127.0.0.1:PORT" in str(e.value)
