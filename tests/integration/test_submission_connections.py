"""Submissions run on a connection each thread keeps, never pinged: a closed one costs nothing.

The submission store skips a ping before use (a round trip per rating). Here the server
closes the kept connections under it (pg_terminate_backend, as a restart or an idle timeout
would): the next submission still gets its receipt, on a new connection, and its rating is
stored once. A write the server cannot have committed is never retried.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from backend.extensions import db
from backend.models import PendingItem, UseTag
from tests.support.invitations import issue


@pytest.fixture
def pooled(app):
    """The submission engine of the app's engine (PostgreSQL only)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the driver store and its connections are PostgreSQL's")
    from backend.storage.rating_store_pg import submission_engine

    return submission_engine(db.engine)


def backend_pids(engine) -> set[int]:
    """Return the server process of the connection this thread keeps for submissions."""
    from backend.storage.rating_store_pg import _kept

    kept = getattr(_kept, "kept", None)
    if kept is None or kept.source.engine is not engine or kept.connection.closed:
        return set()
    return {kept.connection.info.backend_pid}


def terminate(session, pids: set[int]) -> int:
    """Have the server close the given connections; return how many it closed."""
    closed = session.execute(text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                                  "FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                             {"pids": list(pids)}).scalar_one()
    session.commit()
    return closed


def stored(session) -> tuple[int, int]:
    """Count the use tags and the pending ratings."""
    return (session.scalar(select(func.count()).select_from(UseTag)),
            session.scalar(select(func.count()).select_from(PendingItem)
                           .where(PendingItem.kind == "rating")))


def test_a_submission_on_a_connection_the_server_closed_still_gets_its_receipt(
        client, session, pooled):
    first, second, third = issue(3, prefix="PC")
    url = "/api/v1/invitations/{}/rating"
    assert client.post(url.format(first["token"]), json={"score": 9}).status_code == 201
    pids = backend_pids(pooled)
    assert pids and terminate(session, pids) == len(pids)
    response = client.post(url.format(second["token"]), json={"score": 8})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["receipt"]
    assert stored(session) == (2, 2)
    assert backend_pids(pooled) and backend_pids(pooled).isdisjoint(pids)  # a new one
    # The new connection goes on serving: the next rating and a second use of a link.
    assert client.post(url.format(third["token"]), json={"score": 7}).status_code == 201
    assert client.post(url.format(second["token"]), json={"score": 7}).status_code == 409
    assert stored(session) == (3, 3)


def test_a_write_on_a_closed_connection_is_a_503_and_not_retried(client, session, pooled,
                                                                 monkeypatch):
    from backend.storage import rating_store_pg

    (link,) = issue(1, prefix="PW")
    read = rating_store_pg.PostgresStore.read

    def read_then_lose_the_connection(store, token, use_tags):
        presented = read(store, token, use_tags)
        terminate(session, {store.connection.info.backend_pid})
        return presented

    monkeypatch.setattr(rating_store_pg.PostgresStore, "read", read_then_lose_the_connection)
    response = client.post(f"/api/v1/invitations/{link['token']}/rating", json={"score": 9})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["message"]
    assert stored(session) == (0, 0)
    monkeypatch.undo()
    again = client.post(f"/api/v1/invitations/{link['token']}/rating", json={"score": 9})
    assert again.status_code == 201, again.get_data(as_text=True)


def test_lent_connections_are_in_autocommit_mode_and_leave_nothing_open(client, session,
                                                                        pooled):
    from backend.storage.rating_store_pg import driver_store

    links = issue(3, prefix="PA")
    for link in links:
        response = client.post(f"/api/v1/invitations/{link['token']}/rating", json={"score": 9})
        assert response.status_code == 201
    store = driver_store(db.engine)
    assert store.connection.autocommit
    pids = {store.connection.info.backend_pid}
    pids |= backend_pids(pooled)
    states = session.execute(text("SELECT state FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                             {"pids": list(pids)}).scalars().all()
    session.commit()
    assert states and set(states) == {"idle"}  # no transaction left open on any of them


def positional(statement) -> tuple[str, int]:
    """Return a compiled statement with $1, $2, ... for psycopg's %(name)s placeholders, and
    how many parameters it takes."""
    from backend.storage.rating_store_pg import compiled

    names: list[str] = []

    def number(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered = re.sub(r"%\((\w+)\)s", number, compiled(statement))
    return numbered, len(names)


def test_the_plans_kept_for_the_tag_tables_use_their_keys_while_they_are_small(pooled):
    """A prepared statement's plan outlives the table size it was made for.

    A plan made while the tag tables are empty (a new deployment) would scan them whole on
    every submission as they grow. The submission connections plan with their keys whatever
    the size: the generic plan, the one kept, holds no sequential scan.
    """
    from backend.storage.rating_store_pg import POSTGRESQL_WRITE, PRESENTED_PG

    connection = pooled.raw_connection()
    try:
        driver = connection.driver_connection
        driver.execute("SET plan_cache_mode = force_generic_plan")
        for name, statement in (("read_plan", PRESENTED_PG), ("write_plan", POSTGRESQL_WRITE)):
            sql, count = positional(statement)
            driver.execute(f"PREPARE {name} AS {sql}")
            nulls = ", ".join(["NULL"] * count)
            plan = "\n".join(row[0] for row in driver.execute(f"EXPLAIN EXECUTE {name}({nulls})"))
            driver.execute(f"DEALLOCATE {name}")
            assert "Seq Scan" not in plan, plan
            assert "invitation_use_tags" in plan
    finally:
        connection.driver_connection.execute("RESET plan_cache_mode")
        connection.close()


def open_pids(session, pids: set[int]) -> set[int]:
    """Return which of the server processes still serve a connection."""
    found = session.execute(text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                            {"pids": list(pids)}).scalars().all()
    session.commit()
    return set(found)


def test_each_thread_keeps_its_own_connection_and_it_closes_when_the_thread_ends(
        app, session, pooled):
    import gc
    import threading

    from backend.storage.rating_store_pg import driver_store

    engine, pids, barrier = db.engine, [], threading.Barrier(3)

    def submit_twice() -> None:
        seen = set()
        for _ in range(2):
            seen.add(driver_store(engine).connection.info.backend_pid)
        barrier.wait()  # all three hold theirs at once
        pids.append(seen)

    threads = [threading.Thread(target=submit_twice) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(seen) == 1 for seen in pids)  # one connection per thread, kept
    kept = set().union(*pids)
    assert len(kept) == 3 and not kept & backend_pids(pooled)
    gc.collect()
    assert open_pids(session, kept) == set()  # each went with its thread


def test_a_disposed_engine_retires_the_kept_connections(client, session, pooled):
    first, second = issue(2, prefix="PD")
    url = "/api/v1/invitations/{}/rating"
    assert client.post(url.format(first["token"]), json={"score": 9}).status_code == 201
    (before,) = backend_pids(pooled)
    db.engine.dispose()
    assert open_pids(session, {before}) == set()
    assert client.post(url.format(second["token"]), json={"score": 8}).status_code == 201
    assert stored(session) == (2, 2)
