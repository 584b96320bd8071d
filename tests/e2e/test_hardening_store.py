"""Damaged stores are never served (issue 10).

On the main the issue was filed against, a 0-byte store file started as an empty fleet
without a word (no first instance), and a store with corrupted pages started and then
answered 500s. Now an empty file is a new store, and a damaged one is refused at start with
a message naming the file and what to do.
"""
from __future__ import annotations

import pytest

import imds_helpers as im
from helpers import DEFAULT_REGION, ImdsServer, describe, run_ids

STORE = "imds.sqlite"

# The SQLite store's own file: deselected when the suites run on PostgreSQL.
pytestmark = pytest.mark.sqlite_only


def test_an_empty_store_file_is_a_new_store_with_its_first_instance(server_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / STORE).write_bytes(b"")
    srv = server_factory(data_dir=data)
    ec2 = srv.client(DEFAULT_REGION)
    assert im.default_instance(ec2)
    addr = im.imds_address(srv)
    r = im.get(addr, "/latest/meta-data/instance-id", im.token(addr))
    assert r.status == 200 and r.text.startswith("i-"), r


def _refused(srv: ImdsServer) -> str:
    with pytest.raises(RuntimeError) as e:
        srv.start(timeout=60)
    assert srv.proc.returncode not in (None, 0)
    return str(e.value)


def test_a_store_with_corrupted_pages_is_refused_at_start(tmp_path):
    data = tmp_path / "data"
    srv = ImdsServer(tmp_path / "srv", data_dir=data)
    try:
        srv.start()
        run_ids(srv.client(DEFAULT_REGION), 300)
        assert srv.stop() == 0
        path = data / STORE
        good = path.read_bytes()
        assert len(good) > 40 * 4096, len(good)
        bad = bytearray(good)
        for i in range(20 * 4096, 30 * 4096):
            bad[i] = (i * 31 + 7) & 0xFF
        path.write_bytes(bytes(bad))
        message = _refused(srv)
        assert "is damaged" in message and str(path) in message, message
        assert "move it aside" in message, message
        # Moved aside as the message says: a new store with its first instance.
        path.rename(data / "damaged.sqlite")
        srv.start()
        assert len(describe(srv.client(DEFAULT_REGION))) == 1
    finally:
        srv.stop()


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / STORE).write_bytes(b"not a database, " * 4096)
    srv = ImdsServer(tmp_path / "srv", data_dir=data)
    try:
        message = _refused(srv)
        assert "is damaged" in message and str(data / STORE) in message, message
    finally:
        srv.stop()
