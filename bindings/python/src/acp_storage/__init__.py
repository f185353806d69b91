# SPDX-License-Identifier: MIT
"""acp_storage: ACP runs, sessions and run events in any acp-storage backend.

    from acp_storage import Store
    with Store("sqlite:///var/lib/acp/acp.db") as store:
        store.save_run({"run_id": "r1", "agent_name": "echo", "status": "created"})
        store.add_event("r1", {"type": "run.created"})
        for ev in store.events("r1"):
            print(ev.seq, ev.event["type"])

The library (libacp_storage.so.0) is loaded from ACP_STORAGE_LIBRARY when
set, else found by the dynamic loader; it finds its backend plugins itself.
"""
from .errors import (AcpStorageError, Conflict, Corrupt, Invalid, LoadError, NoMemory, NotFound,
                     PluginError, StorageIOError, Unavailable, Unsupported)
from .store import (Damage, Page, Store, StoredEvent, StoredEventJSON, VerifyReport, library,
                    version)

__all__ = [
    "AcpStorageError", "Conflict", "Corrupt", "Invalid", "LoadError", "NoMemory", "NotFound",
    "PluginError", "StorageIOError", "Unavailable", "Unsupported",
    "Damage", "Page", "Store", "StoredEvent", "StoredEventJSON", "VerifyReport", "library",
    "version",
]
__version__ = "0.1.0"
