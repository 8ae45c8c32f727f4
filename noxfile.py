"""The suite on every interpreter the package claims (pyproject.toml: 3.11-3.13), and the built wheel.

    python -m nox                      # every session; an interpreter that is not installed is skipped
    python -m nox -s tests-3.13        # one interpreter

`.ci/run` runs the README's test command on its own interpreter, then the other two here. (The built
wheel is tested by tests/test_wheel.py, part of the suite.)
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
"""The interpreters pyproject.toml claims; keep in step with its classifiers and the README."""

nox.options.error_on_missing_interpreters = False  # reported as skipped, not failed


def _pyenv_interpreters() -> None:
    """Put pyenv's installed interpreters of these versions on PATH (its shims run only enabled ones)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for version in PYTHONS:
        installed = sorted(root.glob(f"{version}.*"), key=lambda p: [int(x) for x in p.name.split(".")[:3]])
        if installed:
            found.append(str(installed[-1] / "bin"))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_pyenv_interpreters()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite (slow tests too), from an editable install with the test and examples extras."""
    session.install("-e", ".[test,examples]")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)
