"""The application asks once per function whether it is a coroutine (Flask asks per call)."""

from __future__ import annotations

import gc

import pytest

from backend.app import App


def test_a_synchronous_function_is_returned_as_it_is_and_remembered_weakly():
    app = App("sync-check")

    def hook():
        return "ran"

    assert app.ensure_sync(hook) is hook and hook in app.sync_functions
    assert app.ensure_sync(hook)() == "ran"
    del hook
    gc.collect()
    assert len(app.sync_functions) == 0  # nothing kept alive


def test_bound_methods_are_remembered_by_their_function():
    app = App("sync-check")

    class View:
        def get(self):
            return id(self)

    first, second = View(), View()
    assert app.ensure_sync(first.get)() == id(first)
    assert app.ensure_sync(second.get)() == id(second)  # the method, bound to its own object
    assert list(app.sync_functions) == [View.get]


def test_a_coroutine_function_is_never_taken_for_a_synchronous_one():
    app = App("sync-check")

    async def view():
        return "ran"

    with pytest.raises(RuntimeError):  # Flask's own answer without its async extra
        app.ensure_sync(view)
    with pytest.raises(RuntimeError):
        app.ensure_sync(view)
    assert view not in app.sync_functions
