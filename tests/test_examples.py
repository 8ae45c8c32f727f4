"""The examples in examples/ run and do what the docs say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_plugins_tour() -> None:
    """Each plugin type does its job: bots dropped, e-mails hashed, names lowercased, audit routed."""
    result = await load("plugins_tour").main()
    arrived = result["arrived"]
    assert [(kind, event) for kind, event, _ in arrived] == [
        ("identify", None),
        ("track", "item purchased"),
        ("track", "internal ping"),
    ]
    assert arrived[0][2]["email"] != "Ada@Example.com"
    assert len(arrived[0][2]["email"]) == 64
    assert result["audit"] == ["u1 did item purchased"]
    assert result["after"] == ["delivered", "delivered", "delivered"]
    assert result["utility"] == ["caches"]
