# SPDX-License-Identifier: MIT
"""Not a pytest file: `mypy --strict` checks this against the installed
package (tests/bindings, bindings_python_types), which works only when the
package ships its py.typed marker and its hints are consistent."""
from typing import Dict, Iterator, List, Optional

import acp_storage
from acp_storage import AcpStorageError, NotFound, Page, Store, StoredEvent


def newest_ids(store: Store, agent: str) -> List[str]:
    page: Page[Dict[str, object]] = store.list_runs(agent_name=agent, limit=5, total=True)
    total: Optional[int] = page.total
    ids = [str(r["run_id"]) for r in page.items]
    return ids if total is None else ids[:total]


def last_seq(store: Store, run_id: str) -> int:
    seq = store.add_event(run_id, {"type": "generic"})
    events: Iterator[StoredEvent] = store.events(run_id, after_seq=seq - 1)
    return max((e.seq for e in events), default=0)


def status_of(err: AcpStorageError) -> str:
    return err.status_name if isinstance(err, NotFound) else acp_storage.version()
