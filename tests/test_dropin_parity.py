"""The drop-in beside segment-analytics-python 2.4.0 (installed in the test): messages, key by key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from analytics_async.sync import Client

official = pytest.importorskip("segment.analytics", reason="segment-analytics-python is not installed")

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("track", {"user_id": 157963456373623802, "event": "e", "properties": {"a": 1}}),
    ("track", {"anonymous_id": "anon", "event": "e", "integrations": {"All": False}}),
    ("identify", {"user_id": "u", "traits": {"plan": "pro"}, "context": {"ip": "1.2.3.4"}}),
    ("group", {"user_id": "u", "group_id": "g", "traits": {"n": 2}}),
    ("alias", {"previous_id": "p", "user_id": "u"}),
    ("page", {"user_id": "u", "category": "Docs", "name": "Intro", "properties": {"x": "y"}}),
    ("page", {"anonymous_id": "a"}),
    ("screen", {"user_id": "u", "name": "Home"}),
]
DIFFERENT_ON_PURPOSE = {"messageId", "timestamp"}
"""Distinct per call (both uuid4 strings); timestamps end in `Z` with milliseconds (docs/migrating.md)."""


@pytest.fixture
def clients() -> Iterator[tuple[Any, Client]]:
    """The official SDK's Client and ours, neither sending."""
    theirs, ours = official.Client("wk", send=False), Client("wk", send=False)
    yield theirs, ours
    theirs.shutdown()
    ours.shutdown()


@pytest.mark.parametrize(("call", "kwargs"), CALLS)
def test_returned_message_matches_the_official_sdk(
    clients: tuple[Any, Client], call: str, kwargs: dict[str, Any]
) -> None:
    """Same keys in the same order, None where unset, same values but ids, timestamps and the library."""
    theirs, ours = clients
    their_ok, their_msg = getattr(theirs, call)(**kwargs)
    our_ok, our_msg = getattr(ours, call)(**kwargs)
    assert our_ok == their_ok
    assert list(our_msg) == list(their_msg)
    for key, value in their_msg.items():
        if key in DIFFERENT_ON_PURPOSE:
            assert isinstance(our_msg[key], str)
        elif key == "context":
            assert {k: v for k, v in our_msg[key].items() if k != "library"} == {
                k: v for k, v in value.items() if k != "library"
            }
            assert our_msg[key]["library"]["name"] == "analytics-async"
        else:
            assert our_msg[key] == value, key
