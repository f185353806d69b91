# SPDX-License-Identifier: MIT
"""The store under test comes from ACP_TEST_STORE, a URI template in which
"{dir}" becomes a fresh directory per test (the convention of the C
conformance suite and of tests/postgres|redis/with-server.sh, which give
postgres a schema and redis a key prefix of their own per {dir})."""
import os
import uuid

import pytest

from acp_storage import Store


def store_uri(tmp_path) -> str:
    template = os.environ.get("ACP_TEST_STORE", "memory:")
    # A unique path per test, also for the servers (schema / key prefix).
    d = tmp_path / uuid.uuid4().hex[:12]
    d.mkdir()
    return template.replace("{dir}", str(d))


@pytest.fixture
def uri(tmp_path) -> str:
    return store_uri(tmp_path)


@pytest.fixture
def store(uri):
    with Store(uri) as s:
        yield s
