# SPDX-License-Identifier: MIT
"""Store: one open acp-storage store, used from any number of threads."""
import ctypes
import json
import os
import threading
import time
from typing import (Any, Callable, Dict, Generic, Iterable, Iterator, List, Mapping, NamedTuple,
                    Optional, TypeVar, Union)

from . import _lib
from .errors import BY_STATUS, Invalid, LoadError, from_status

T = TypeVar("T")
Document = Dict[str, Any]
JSONText = Union[str, bytes]

_loaded: Optional[ctypes.CDLL] = None
_load_lock = threading.Lock()
_scratch = _lib.Scratch(lambda: library())
_close_lock = threading.Lock()
# Verify calls in progress in this process (one entry each; append and pop
# are atomic).  A backend's own verify may hold its lock while on_damage
# waits for the interpreter lock; a call keeping the interpreter lock while
# it waits for that backend lock would never return.  So no call keeps the
# interpreter lock while any verify runs (checked just before each call;
# "memory:" has no verify of its own: the library walks it holding no lock
# while on_damage runs).
_verifying: List[None] = []


def library() -> ctypes.CDLL:
    """The loaded libacp_storage (loaded on first use).  Raises LoadError
    with the dynamic loader's message when it cannot be opened."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            try:
                lib = _lib.load()
            except OSError as e:
                raise LoadError(
                    f"cannot load libacp_storage ({_lib.SONAME}): {e}; set ACP_STORAGE_LIBRARY "
                    "to the library's path or install the library where the dynamic loader "
                    "looks") from None
            _fill_fns(lib)
            _loaded = lib
        return _loaded


def version() -> str:
    """The library version at run time ("0.1.0")."""
    return str(library().acp_version().decode())


class Page(Generic[T]):
    """One page of a listing: items, the cursor of the next page (None when
    this was the last) and, for runs listed with total=True, the count of
    every match (else None)."""

    __slots__ = ("items", "next_cursor", "total")

    def __init__(self, items: List[T], next_cursor: Optional[str], total: Optional[int]) -> None:
        self.items = items
        self.next_cursor = next_cursor
        self.total = total

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Page({len(self.items)} items, next_cursor={self.next_cursor!r}, total={self.total!r})"


class StoredEvent(NamedTuple):
    """An event as the store keeps it: its sequence number in the run (1, 2, ...),
    the time it was stored (microseconds since the epoch) and the document."""

    seq: int
    time_us: int
    event: Document


class StoredEventJSON(NamedTuple):
    """As StoredEvent, with the document as the exact JSON text stored."""

    seq: int
    time_us: int
    json: str


class Damage(NamedTuple):
    """One damaged item found by Store.verify()."""

    kind: str                # "run", "session", "event", "index" or "other"
    key: Optional[str]       # run id (also for events) or session id
    seq: int                 # events: the sequence number (0 if unknown); else 0
    status_name: str         # "CORRUPT" for damage, "IO" when it could not be read
    location: Optional[str]  # where: a path in the store, a table and rowid, a key
    reason: str              # why, one line
    moved_to: Optional[str]  # with quarantine=True: where it was moved


class VerifyReport(NamedTuple):
    """What Store.verify() checked and found.  ok is False when anything is
    damaged; message is then the library's summary."""

    ok: bool
    runs: int
    sessions: int
    events: int
    damaged: int
    quarantined: int
    items: List[Damage]
    message: str


_KINDS = {1: "run", 2: "session", 3: "event", 4: "index", 5: "other"}


def _damage(d: "_lib.Damage") -> Damage:
    # Fields past the size the library wrote are absent.
    def field(name: str) -> Optional[str]:
        end = getattr(_lib.Damage, name).offset + ctypes.sizeof(ctypes.c_char_p)
        v = getattr(d, name) if d.size >= end else None
        return None if v is None else v.decode("utf-8", "replace")

    cls = BY_STATUS.get(d.code)
    return Damage(_KINDS.get(d.kind, "other"), field("key"), d.seq,
                  cls.status_name if cls else str(d.code), field("location"),
                  field("reason") or "", field("moved_to"))


def _id(value: str, what: str) -> bytes:
    # The C API takes NUL-terminated ids: an embedded NUL would silently
    # name another record, so it is refused here.  (Looking for the int 0:
    # a bytes needle costs a raised and caught TypeError inside, ~100 ns.)
    try:
        b = value.encode()
    except AttributeError:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}") from None
    if 0 in b:
        raise Invalid(f"{what} contains a NUL character")
    return b


def _opt_id(value: Optional[str], what: str) -> Optional[bytes]:
    return None if value is None else _id(value, what)


def _dumps(doc: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise Invalid(f"document is not JSON: {e}") from None


def _text(doc: JSONText) -> bytes:
    if isinstance(doc, str):
        return doc.encode("utf-8")
    if isinstance(doc, (bytes, bytearray, memoryview)):
        return bytes(doc)
    raise TypeError(f"JSON text must be str or bytes, not {type(doc).__name__}")


class _Fns:
    """A library call in its two forms, keeping the interpreter lock (held)
    or releasing it (fast); filled when the library is loaded."""

    __slots__ = ("name", "held", "fast")

    def __init__(self, name: str) -> None:
        self.name = name
        self.held: Any = None
        self.fast: Any = None


_RUN_GET, _SESSION_GET, _EVENT_ADD = (_Fns("acp_bind_run_get"), _Fns("acp_bind_session_get"),
                                      _Fns("acp_bind_event_add"))


def _fill_fns(lib: ctypes.CDLL) -> None:
    for f in (_RUN_GET, _SESSION_GET, _EVENT_ADD):
        f.held, f.fast = getattr(lib, "held_" + f.name[4:]), getattr(lib, "fast_" + f.name[4:])


def _bind() -> Any:
    """The calling thread's acp_bind, as the acp_bind_* calls take it."""
    try:
        return _scratch.bind
    except AttributeError:
        return _scratch.make_bind()


def _bind_error(lib: ctypes.CDLL, bind: Any) -> Exception:
    """The exception for the failed acp_bind_* call of this thread."""
    return from_status(lib.acp_bind_status(bind),
                       lib.acp_bind_message(bind).decode("utf-8", "replace"))


def _getter(fns: _Fns, what: str, name: str, doc: str) -> Callable[["Store", str], str]:
    """get_run_json / get_session_json: one foreign call (acp_bind_*_get),
    the document coming back as bytes.  _enter() is written out: this is
    the busiest path."""

    def get_json(self: "Store", key: str) -> str:
        k = _id(key, what)
        try:  # _bind(), written out
            bind = _scratch.bind
        except AttributeError:
            bind = _scratch.make_bind()
        calls = self._calls
        calls.append(None)
        try:
            h = self._harg
            if h is None:
                raise Invalid("the store is closed")
            text = (fns.held if self._hold and not _verifying else fns.fast)(h, k, bind)
        finally:
            calls.pop()
        if text is None:
            lib = self._lib
            if lib.acp_bind_status(bind):
                raise _bind_error(lib, bind)
            # A NUL byte inside: read the length given.
            text = ctypes.string_at(lib.acp_bind_data(bind), lib.acp_bind_length(bind))
        out: str = text.decode()
        return out

    get_json.__doc__ = doc
    get_json.__name__ = name
    get_json.__qualname__ = "Store." + name
    return get_json


class Store:
    """An open store, named by a URI ("memory:", "sqlite:///var/lib/acp/acp.db",
    "file:///srv/acp", "postgres://...", "redis://...").  uri None means the
    environment variable ACP_STORAGE_URL.

    Use it as a context manager, or call close().  Every method may be
    called from many threads at once; the interpreter lock is released
    while the library works.  release_gil=False keeps it during get, save
    and add_event: sensible only for a store that keeps its data in this
    process's memory (as "memory:"), where such a call takes about 100 ns,
    about what releasing and retaking the lock costs; other threads then
    wait for the call (longer while another thread's call holds the
    backend's lock, e.g. a listing of a very large store).  Every other
    call always releases it.  close() waits for calls in progress on other
    threads and makes later calls raise Invalid.

    Failures raise the AcpStorageError subclass of the library's status
    (NotFound, Invalid, Conflict, Unavailable, StorageIOError, Corrupt,
    NoMemory, Unsupported, LoadError, PluginError) with the library's
    message unchanged.

    Following a run (being told of new events as they are added) is not
    offered: the library has no such call yet.  Poll events(run_id,
    after_seq=last_seen) meanwhile.
    """

    def __init__(self, uri: Optional[str] = None, *, plugin_dirs: Iterable[str] = (),
                 plugin_file: Optional[str] = None, timeout_ms: Optional[int] = None,
                 release_gil: bool = True) -> None:
        self._lib = lib = library()
        # Calls in progress, one entry each: list.append and list.pop are
        # atomic under the interpreter lock, and cost far less than a lock.
        self._calls: List[None] = []
        self._handle: Optional[ctypes.c_void_p] = None
        # The handle as the unchecked calls take it (see _lib.load).
        self._harg: Any = None
        self._hold = False
        plugin_dirs = list(plugin_dirs)
        s = _scratch
        out = ctypes.c_void_p()
        if not plugin_dirs and plugin_file is None and timeout_ms is None:
            st = lib.acp_store_open(_opt_id(uri, "uri"), ctypes.byref(out), s.err_ref)
        else:
            st = self._open_config(uri, plugin_dirs, plugin_file, timeout_ms, out)
        if st:
            raise self._error(st)
        self._handle = out
        self._harg = ctypes.c_void_p.from_param(out.value)
        self._hold = not release_gil

    def _open_config(self, uri: Optional[str], plugin_dirs: List[str],
                     plugin_file: Optional[str], timeout_ms: Optional[int],
                     out: ctypes.c_void_p) -> int:
        lib, s = self._lib, _scratch
        cfg = ctypes.c_void_p()
        st: int = lib.acp_config_new(ctypes.byref(cfg), s.err_ref)
        if st:
            return st
        try:
            if uri is None:
                uri = os.environ.get("ACP_STORAGE_URL")
                if uri is None:
                    raise Invalid("no store URI given and ACP_STORAGE_URL is not set")
            st = lib.acp_config_parse_uri(cfg, _id(uri, "uri"), s.err_ref)
            for d in plugin_dirs:
                if not st:
                    st = lib.acp_config_add_plugin_dir(cfg, _id(d, "plugin dir"), s.err_ref)
            if not st and plugin_file is not None:
                st = lib.acp_config_set_plugin_file(cfg, _id(plugin_file, "plugin file"),
                                                    s.err_ref)
            if not st and timeout_ms is not None:
                st = lib.acp_config_set_timeout_ms(cfg, int(timeout_ms), s.err_ref)
            if not st:
                st = lib.acp_store_open_config(cfg, ctypes.byref(out), s.err_ref)
            return st
        finally:
            lib.acp_config_free(cfg)

    # ---- lifetime ----

    def close(self) -> None:
        """Close the store, after any call other threads are making on it
        returns.  Closing twice is fine."""
        # The handle is taken away before the calls in progress are looked
        # at, and a call registers itself before it reads the handle: so
        # every call either sees None or is waited for here.
        with _close_lock:
            handle, self._handle = self._handle, None
            self._harg = None
        if handle is None:
            return
        while self._calls:
            time.sleep(0.0005)
        self._lib.acp_store_close(handle)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to report to
            pass

    @property
    def closed(self) -> bool:
        return self._handle is None

    @property
    def releases_gil(self) -> bool:
        """Whether get, save and add_event release the interpreter lock
        during the library call (see release_gil)."""
        return not self._hold

    def _pick(self, held: Any, fast: Any) -> Any:
        return held if self._hold and not _verifying else fast

    def _enter(self) -> Any:
        """Register a call and return the handle (as _harg); the caller pops
        self._calls when the library call returns (inline: this is the
        path every call takes)."""
        self._calls.append(None)
        h = self._harg
        if h is None:
            self._calls.pop()
            raise Invalid("the store is closed")
        return h

    @staticmethod
    def _error(status: int) -> Exception:
        return from_status(status, _scratch.err.message.decode("utf-8", "replace"))

    def _call(self, fn: Any, *args: Any) -> None:
        h = self._enter()
        try:
            st = fn(h, *args)
        finally:
            self._calls.pop()
        if st:
            raise self._error(st)

    # ---- the store ----

    def _query(self, fn: Any) -> Any:
        h = self._enter()
        try:
            return fn(h)
        finally:
            self._calls.pop()

    @property
    def backend(self) -> str:
        """The backend's name ("sqlite")."""
        return str(self._query(self._lib.acp_store_backend).decode())

    @property
    def backend_version(self) -> str:
        return str(self._query(self._lib.acp_store_backend_version).decode())

    @property
    def capabilities(self) -> int:
        """The backend's ACP_CAP_* flags (acp_storage_plugin.h)."""
        return int(self._query(self._lib.acp_store_capabilities))

    def ping(self) -> None:
        """Check the store is healthy; raises Unavailable, StorageIOError or Corrupt."""
        self._call(self._lib.acp_store_ping, _scratch.err_ref)

    def verify(self, *, quarantine: bool = False,
               on_damage: Optional[Callable[[Damage], Optional[bool]]] = None) -> VerifyReport:
        """Walk the whole store and check every document, event and index
        (acp_store_verify).  Every damaged item is in the report's items,
        and is also passed to on_damage as it is found; on_damage returning
        True stops the walk.  quarantine=True moves damaged items aside
        where the backend can.  on_damage runs while the backend may hold
        its locks: it must not call this store.  Raises for failures of the
        walk itself (StorageIOError, Unavailable, Unsupported, ...), not
        for damage.  Not bounded by the store's call timeout."""
        items: List[Damage] = []
        failure: List[BaseException] = []

        def each(_ctx: Optional[int], d: Any) -> int:
            try:
                item = _damage(d.contents)
                items.append(item)
                return 1 if on_damage is not None and on_damage(item) else 0
            except BaseException as e:  # raised again below, after the walk
                failure.append(e)
                return 1

        fn = _lib.VERIFY_FN(each)
        counts = _lib.VerifyCounts()
        s = _scratch
        _verifying.append(None)
        try:
            h = self._enter()
            try:
                st = self._lib.acp_store_verify(h, _lib.VERIFY_QUARANTINE if quarantine else 0,
                                                fn, None, ctypes.byref(counts), s.err_ref)
            finally:
                self._calls.pop()
        finally:
            _verifying.pop()
        if failure:
            raise failure[0]
        if st not in (0, 6):  # OK, CORRUPT: the walk went through
            raise self._error(st)
        return VerifyReport(st == 0, counts.runs, counts.sessions, counts.events, counts.damaged,
                            counts.quarantined, items,
                            "" if st == 0 else s.err.message.decode("utf-8", "replace"))

    # ---- runs ----

    def save_run_json(self, doc: JSONText) -> None:
        """Insert or replace a run given as JSON text (stored byte for byte)."""
        b = _text(doc)
        self._call(self._pick(self._lib.held_run_save, self._lib.fast_run_save), b,
                   ctypes.c_size_t(len(b)), _scratch.err_ref)

    def save_run(self, run: Mapping[str, Any]) -> None:
        """Insert or replace a run given as a dict."""
        b = _dumps(run)
        self._call(self._pick(self._lib.held_run_save, self._lib.fast_run_save), b,
                   ctypes.c_size_t(len(b)), _scratch.err_ref)

    get_run_json = _getter(_RUN_GET, "run_id", "get_run_json",
                           "The run's document as the exact JSON text stored; NotFound if none.")

    def get_run(self, run_id: str) -> Document:
        """The run's document as a dict; NotFound if none."""
        doc: Document = json.loads(self.get_run_json(run_id))
        return doc

    def delete_run(self, run_id: str) -> None:
        """Delete a run and all its events; NotFound if neither existed."""
        self._call(self._lib.acp_run_delete, _id(run_id, "run_id"), _scratch.err_ref)

    def list_runs_json(self, *, agent_name: Optional[str] = None,
                       session_id: Optional[str] = None, limit: int = 10, offset: int = 0,
                       cursor: Optional[str] = None, total: bool = False) -> Page[str]:
        """One page of runs, newest first, as JSON text.  cursor is the
        next_cursor of an earlier page (then offset is usually 0); total=True
        also counts every match."""
        f = _lib.RunFilter(ctypes.sizeof(_lib.RunFilter), _opt_id(agent_name, "agent_name"),
                           _opt_id(session_id, "session_id"), limit, offset,
                           _opt_id(cursor, "cursor"), 1 if total else 0)
        page = self._list(self._lib.acp_run_list, ctypes.byref(f))
        return self._read_page(page, lambda i, text: text)

    def list_runs(self, *, agent_name: Optional[str] = None, session_id: Optional[str] = None,
                  limit: int = 10, offset: int = 0, cursor: Optional[str] = None,
                  total: bool = False) -> Page[Document]:
        """As list_runs_json, with each run as a dict."""
        p = self.list_runs_json(agent_name=agent_name, session_id=session_id, limit=limit,
                                offset=offset, cursor=cursor, total=total)
        return Page([json.loads(t) for t in p.items], p.next_cursor, p.total)

    def runs_json(self, *, agent_name: Optional[str] = None, session_id: Optional[str] = None,
                  page_size: int = 100) -> Iterator[str]:
        """Every matching run, newest first, walking pages by cursor (each
        page costs the same at any depth)."""
        cursor = None
        while True:
            p = self.list_runs_json(agent_name=agent_name, session_id=session_id,
                                    limit=page_size, cursor=cursor)
            yield from p.items
            if p.next_cursor is None:
                return
            cursor = p.next_cursor

    def runs(self, *, agent_name: Optional[str] = None, session_id: Optional[str] = None,
             page_size: int = 100) -> Iterator[Document]:
        """As runs_json, with each run as a dict."""
        for t in self.runs_json(agent_name=agent_name, session_id=session_id,
                                page_size=page_size):
            yield json.loads(t)

    # ---- sessions ----

    def save_session_json(self, doc: JSONText) -> None:
        """Insert or replace a session given as JSON text."""
        b = _text(doc)
        self._call(self._pick(self._lib.held_session_save, self._lib.fast_session_save), b,
                   ctypes.c_size_t(len(b)), _scratch.err_ref)

    def save_session(self, session: Mapping[str, Any]) -> None:
        """Insert or replace a session given as a dict."""
        b = _dumps(session)
        self._call(self._pick(self._lib.held_session_save, self._lib.fast_session_save), b,
                   ctypes.c_size_t(len(b)), _scratch.err_ref)

    get_session_json = _getter(_SESSION_GET, "session_id", "get_session_json",
                               "The session's exact stored JSON text; NotFound if none.")

    def get_session(self, session_id: str) -> Document:
        """The session as a dict; NotFound if none."""
        doc: Document = json.loads(self.get_session_json(session_id))
        return doc

    def delete_session(self, session_id: str) -> None:
        """Remove the session (its runs stay); NotFound if none."""
        self._call(self._lib.acp_session_delete, _id(session_id, "session_id"),
                   _scratch.err_ref)

    def list_sessions_json(self, *, after_id: Optional[str] = None,
                           limit: int = 100) -> Page[str]:
        """Sessions with id > after_id, ascending byte-wise; next_cursor is
        the after_id of the next page.  Unsupported on backends without it."""
        page = self._list(self._lib.acp_session_list, _opt_id(after_id, "after_id"), limit)
        return self._read_page(page, lambda i, text: text)

    def list_sessions(self, *, after_id: Optional[str] = None,
                      limit: int = 100) -> Page[Document]:
        """As list_sessions_json, with each session as a dict."""
        p = self.list_sessions_json(after_id=after_id, limit=limit)
        return Page([json.loads(t) for t in p.items], p.next_cursor, p.total)

    def sessions_json(self, *, page_size: int = 100) -> Iterator[str]:
        """Every session in id order, page by page."""
        after = None
        while True:
            p = self.list_sessions_json(after_id=after, limit=page_size)
            yield from p.items
            if p.next_cursor is None:
                return
            after = p.next_cursor

    def sessions(self, *, page_size: int = 100) -> Iterator[Document]:
        """As sessions_json, with each session as a dict."""
        for t in self.sessions_json(page_size=page_size):
            yield json.loads(t)

    # ---- events ----

    def _add(self, run_id: str, b: bytes) -> int:
        # The busiest write, with one foreign call of four arguments: the
        # document goes in NUL-terminated, without its length (one argument
        # less); one holding a NUL byte goes in with its length instead.
        k = _id(run_id, "run_id")
        if 0 in b:
            return self._add_sized(k, b)
        bind = _bind()
        h = self._enter()
        try:
            seq: int = (_EVENT_ADD.held if self._hold and not _verifying else _EVENT_ADD.fast)(
                h, k, b, bind)
        finally:
            self._calls.pop()
        if not seq:
            raise _bind_error(self._lib, bind)
        return seq

    def _add_sized(self, k: bytes, b: bytes) -> int:
        s = _scratch
        self._call(self._pick(self._lib.held_event_add, self._lib.fast_event_add), k, b,
                   ctypes.c_size_t(len(b)), s.seq_ref, s.err_ref)
        v: int = s.seq.value
        return v

    def add_event_json(self, run_id: str, doc: JSONText) -> int:
        """Append an event given as JSON text; returns its sequence number."""
        return self._add(run_id, _text(doc))

    def add_event(self, run_id: str, event: Mapping[str, Any]) -> int:
        """Append an event given as a dict; returns its sequence number (1, 2, ...)."""
        return self._add(run_id, _dumps(event))

    def list_events_json(self, run_id: str, *, limit: int = 100, offset: int = 0,
                         after_seq: int = 0) -> Page[StoredEventJSON]:
        """One page of a run's events in sequence order (an unknown run gives
        an empty page); next_cursor is the after_seq of the next page."""
        f = _lib.EventFilter(ctypes.sizeof(_lib.EventFilter), limit, offset, after_seq)
        page = self._list(self._lib.acp_event_list, _id(run_id, "run_id"), ctypes.byref(f))
        lib = self._lib
        return self._read_page(page, lambda i, text: StoredEventJSON(
            lib.acp_page_seq(page, i), lib.acp_page_time_us(page, i), text))

    def list_events(self, run_id: str, *, limit: int = 100, offset: int = 0,
                    after_seq: int = 0) -> Page[StoredEvent]:
        """As list_events_json, with each event as a dict."""
        p = self.list_events_json(run_id, limit=limit, offset=offset, after_seq=after_seq)
        return Page([StoredEvent(e.seq, e.time_us, json.loads(e.json)) for e in p.items],
                    p.next_cursor, p.total)

    def events_json(self, run_id: str, *, after_seq: int = 0,
                    page_size: int = 100) -> Iterator[StoredEventJSON]:
        """Every event of the run after after_seq, page by page."""
        while True:
            p = self.list_events_json(run_id, limit=page_size, after_seq=after_seq)
            yield from p.items
            if p.next_cursor is None:
                return
            after_seq = int(p.next_cursor)

    def events(self, run_id: str, *, after_seq: int = 0,
               page_size: int = 100) -> Iterator[StoredEvent]:
        """As events_json, with each event as a dict."""
        for e in self.events_json(run_id, after_seq=after_seq, page_size=page_size):
            yield StoredEvent(e.seq, e.time_us, json.loads(e.json))

    # ---- pages ----

    def _list(self, fn: Any, *args: Any) -> int:
        s = _scratch
        h = self._enter()
        try:
            st = fn(h, *args, s.ptr_ref, s.err_ref)
        finally:
            self._calls.pop()
        if st:
            raise self._error(st)
        return int(s.ptr.value or 0)

    def _read_page(self, page: int, make: Any) -> Page[Any]:
        lib, n = self._lib, ctypes.c_size_t()
        try:
            items = []
            for i in range(lib.acp_page_count(page)):
                p = lib.acp_page_json(page, i, ctypes.byref(n))
                items.append(make(i, ctypes.string_at(p, n.value).decode("utf-8")))
            cur = lib.acp_page_next_cursor(page)
            total = lib.acp_page_total(page)
            return Page(items, None if cur is None else cur.decode("utf-8"),
                        None if total < 0 else total)
        finally:
            lib.acp_page_free(page)
