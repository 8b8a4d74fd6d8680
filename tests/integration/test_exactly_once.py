"""Eight processes race over 500 tokens on PostgreSQL: exactly one rating per token."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import func, select

from backend import create_app
from backend.extensions import db
from backend.models import PendingItem, Rating, RatingCount, UseTag
from tests.conftest import base_config, private_postgres_database
from tests.support.invitations import issue
from tests.support.race import race
from tests.support.release import release_all

RACERS, TOKENS = 8, 500


@pytest.fixture
def race_database():
    """Yield a fresh PostgreSQL database of this test's own."""
    with private_postgres_database("ssp_race") as url:
        yield url


@pytest.mark.slow
def test_racing_processes_rate_each_token_exactly_once(race_database):
    config = {**base_config(race_database), "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2}}
    app = create_app(config)
    with app.app_context():
        db.create_all()
        tokens = [i["token"] for i in issue(TOKENS, prefix="RACE")]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(RACERS, mp_context=context) as pool:
        barrier = manager.Barrier(RACERS)
        futures = [pool.submit(race, race_database, config, tokens, barrier, seed)
                   for seed in range(RACERS)]
        results = [f.result(timeout=300) for f in futures]
    created = sum(r.get(201, 0) for r in results)
    refused = sum(r.get(409, 0) for r in results)
    assert (created, refused) == (TOKENS, TOKENS * (RACERS - 1)), results
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UseTag)) == TOKENS
        assert db.session.scalar(select(func.count()).select_from(PendingItem)
                                 .where(PendingItem.kind == "rating")) == TOKENS
        assert release_all().ratings == TOKENS
        assert db.session.scalar(select(func.count()).select_from(Rating)) == TOKENS
        assert db.session.scalar(select(func.sum(RatingCount.count))) == TOKENS
        db.session.remove()  # return the session's connection before the pool goes
        db.engine.dispose()
