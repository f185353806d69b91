# SPDX-License-Identifier: MIT
"""Loading libacp_storage and declaring the C functions the binding calls.

The library is found the way the acp-storage command finds it: an explicit
path in ACP_STORAGE_LIBRARY, else the dynamic loader's own search
(LD_LIBRARY_PATH, the ld.so cache, the default directories) for the SONAME
this binding was written against.  Plugins are not looked up here: the
library finds them itself (ACP_STORAGE_PLUGIN_PATH, then its install
directory).  ctypes.CDLL releases the interpreter lock during every call;
the held_* functions (PyDLL) keep it.
"""
import ctypes
import ctypes.util
import os
import threading
from typing import Any, Callable
from ctypes import POINTER, c_char, c_char_p, c_int, c_int64, c_size_t, c_uint, c_uint64, c_void_p

# The library's SONAME major this binding follows (include/acp_storage.h).
SONAME = "libacp_storage.so.0"
ERROR_MESSAGE_MAX = 1024


class AcpError(ctypes.Structure):
    """struct acp_error."""

    _fields_ = [("code", c_int), ("message", c_char * ERROR_MESSAGE_MAX)]


class RunFilter(ctypes.Structure):
    """struct acp_run_filter; size lets the library grow it."""

    _fields_ = [
        ("size", c_size_t),
        ("agent_name", c_char_p),
        ("session_id", c_char_p),
        ("limit", c_int64),
        ("offset", c_int64),
        ("cursor", c_char_p),
        ("want_total", c_int),
    ]


class Damage(ctypes.Structure):
    """struct acp_damage (acp_storage_status.h); size says which fields the
    library filled."""

    _fields_ = [
        ("size", c_size_t),
        ("kind", c_int),
        ("key", c_char_p),
        ("seq", c_int64),
        ("code", c_int),
        ("location", c_char_p),
        ("reason", c_char_p),
        ("moved_to", c_char_p),
    ]


class VerifyCounts(ctypes.Structure):
    """struct acp_verify_counts."""

    _fields_ = [(name, c_int64) for name in ("runs", "sessions", "events", "damaged",
                                               "quarantined")]


VERIFY_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(Damage))
VERIFY_QUARANTINE = 1


class EventFilter(ctypes.Structure):
    """struct acp_event_filter."""

    _fields_ = [
        ("size", c_size_t),
        ("limit", c_int64),
        ("offset", c_int64),
        ("after_seq", c_int64),
    ]


def _load() -> ctypes.CDLL:
    explicit = os.environ.get("ACP_STORAGE_LIBRARY")
    if explicit:
        return ctypes.CDLL(explicit)
    try:
        return ctypes.CDLL(SONAME)
    except OSError as first:
        # ldconfig may know it under the unversioned name only.
        found = ctypes.util.find_library("acp_storage")
        if found and found.startswith(SONAME):
            return ctypes.CDLL(found)
        raise first


def load() -> ctypes.CDLL:
    """Open the library and declare every function used; raises OSError."""
    lib = _load()
    E = POINTER(AcpError)
    P = POINTER(c_void_p)
    sigs = {
        "acp_status_name": (c_char_p, [c_int]),
        "acp_free": (None, [c_void_p]),
        "acp_version": (c_char_p, []),
        "acp_plugin_abi": (None, [POINTER(c_uint), POINTER(c_uint)]),
        "acp_config_new": (c_int, [P, E]),
        "acp_config_free": (None, [c_void_p]),
        "acp_config_parse_uri": (c_int, [c_void_p, c_char_p, E]),
        "acp_config_add_plugin_dir": (c_int, [c_void_p, c_char_p, E]),
        "acp_config_set_plugin_file": (c_int, [c_void_p, c_char_p, E]),
        "acp_config_set_timeout_ms": (c_int, [c_void_p, c_int64, E]),
        "acp_store_open": (c_int, [c_char_p, P, E]),
        "acp_store_open_config": (c_int, [c_void_p, P, E]),
        "acp_store_close": (None, [c_void_p]),
        "acp_store_backend": (c_char_p, [c_void_p]),
        "acp_store_backend_version": (c_char_p, [c_void_p]),
        "acp_store_capabilities": (c_uint64, [c_void_p]),
        "acp_store_ping": (c_int, [c_void_p, E]),
        "acp_store_verify": (c_int, [c_void_p, c_uint, VERIFY_FN, c_void_p,
                                     POINTER(VerifyCounts), E]),
        "acp_run_save": (c_int, [c_void_p, c_char_p, c_size_t, E]),
        "acp_run_get": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), POINTER(c_size_t), E]),
        "acp_run_delete": (c_int, [c_void_p, c_char_p, E]),
        "acp_run_list": (c_int, [c_void_p, POINTER(RunFilter), P, E]),
        "acp_session_save": (c_int, [c_void_p, c_char_p, c_size_t, E]),
        "acp_session_get": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), POINTER(c_size_t),
                                    E]),
        "acp_session_delete": (c_int, [c_void_p, c_char_p, E]),
        "acp_run_get_buf": (c_int, [c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_size_t),
                                    E]),
        "acp_session_get_buf": (c_int, [c_void_p, c_char_p, c_void_p, c_size_t,
                                        POINTER(c_size_t), E]),
        "acp_session_list": (c_int, [c_void_p, c_char_p, c_int64, P, E]),
        "acp_event_add": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, POINTER(c_int64), E]),
        "acp_event_list": (c_int, [c_void_p, c_char_p, POINTER(EventFilter), P, E]),
        "acp_page_count": (c_size_t, [c_void_p]),
        "acp_page_json": (c_void_p, [c_void_p, c_size_t, POINTER(c_size_t)]),
        "acp_page_seq": (c_int64, [c_void_p, c_size_t]),
        "acp_page_time_us": (c_int64, [c_void_p, c_size_t]),
        "acp_page_total": (c_int64, [c_void_p]),
        "acp_page_next_cursor": (c_char_p, [c_void_p]),
        "acp_page_free": (None, [c_void_p]),
        "acp_bind_new": (c_void_p, []),
        "acp_bind_free": (None, [c_void_p]),
        "acp_bind_run_get": (c_char_p, [c_void_p, c_char_p, c_void_p]),
        "acp_bind_session_get": (c_char_p, [c_void_p, c_char_p, c_void_p]),
        "acp_bind_event_add": (c_int64, [c_void_p, c_char_p, c_char_p, c_void_p]),
        "acp_bind_status": (c_int, [c_void_p]),
        "acp_bind_message": (c_char_p, [c_void_p]),
        "acp_bind_length": (c_size_t, [c_void_p]),
        "acp_bind_data": (c_void_p, [c_void_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    # The per-call path of the busiest calls without argtypes: checking five
    # arguments costs more than the memory backend's whole get.  Callers
    # pass exactly the C types: bytes, c_size_t lengths, byref() outputs,
    # and handles as pointers prepared by c_void_p.from_param (passed as
    # they are, where a c_void_p object is converted afresh on every call,
    # about 100 ns here).  lib[name] is a fresh function object, so the
    # checked one above stays as it is.
    for name in FAST:
        fn = lib[name]
        fn.restype = sigs[name][0]
        setattr(lib, "fast_" + name[4:], fn)
    # The same calls keeping the interpreter lock (PyDLL), for stores that
    # answer from memory: releasing and retaking the lock costs about as
    # much as the memory backend's whole get (Store chooses; see its
    # release_gil).
    held = ctypes.PyDLL(lib._name, handle=lib._handle)
    for name in FAST:
        fn = held[name]
        fn.restype = sigs[name][0]
        setattr(lib, "held_" + name[4:], fn)
    return lib


# A get goes through acp_bind_*_get (one foreign call, into the thread's
# acp_bind buffer, the document back as bytes), an add_event through
# acp_bind_event_add unless its text holds a NUL byte.
FAST = ("acp_run_save", "acp_session_save", "acp_event_add", "acp_bind_run_get",
        "acp_bind_session_get", "acp_bind_event_add")


class Bind:
    """One acp_bind (acp_storage_bind.h): a thread's calling context for
    the busiest calls, released with the thread's Scratch."""

    __slots__ = ("ptr", "arg", "_free")

    def __init__(self, lib: ctypes.CDLL) -> None:
        ptr = lib.acp_bind_new()
        if not ptr:
            raise MemoryError("acp_bind_new: out of memory")
        self.ptr: int = ptr
        self._free = lib.acp_bind_free
        # Passed to the unchecked calls as it is (see load()).
        self.arg = c_void_p.from_param(ptr)

    def __del__(self) -> None:
        self._free(self.ptr)


class Scratch(threading.local):
    """Per-thread output slots, so that concurrent calls never share one
    acp_error (the library writes the message there while the interpreter
    lock is released) and no call allocates them afresh.  library returns
    the loaded library: bind (the prepared pointer of the thread's acp_bind)
    is made on first use, after a store has loaded it."""

    def __init__(self, library: "Callable[[], ctypes.CDLL]") -> None:
        self._library = library
        self.err = AcpError()
        self.err_ref = ctypes.byref(self.err)
        self.ptr = c_void_p()
        self.ptr_ref = ctypes.byref(self.ptr)
        self.seq = c_int64()
        self.seq_ref = ctypes.byref(self.seq)

    def make_bind(self) -> Any:
        """Make the thread's bind (read as .bind, AttributeError before:
        a __getattr__ would slow down every lookup)."""
        self.bind_owner = Bind(self._library())
        self.bind = self.bind_owner.arg
        return self.bind
