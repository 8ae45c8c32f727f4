"""The package as users get it: the built wheel and sdist, checked, installed into a fresh venv.

Not the editable install the rest of the suite runs against: `python -m build`, `twine check
--strict`, what each archive holds, then a venv with the wheel and its required dependencies alone
(no extras; no network: they are linked from this environment) that runs the demo and type-checks a
user's file with mypy --strict.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

USER_FILE = '''\
"""A user's module: typed calls against the installed package (its py.typed)."""

from analytics_async import Analytics, Context
from analytics_async.sync import Client


async def signup(analytics: Analytics, user_id: str) -> Context:
    return await analytics.track(event="Signed Up", user_id=user_id, properties={"plan": "pro"})


def legacy(client: Client) -> bool:
    ok, message = client.track("u1", "Clicked")
    return ok and message["event"] == "Clicked"
'''


def run(*argv: str | Path, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command; fail the test with its output if it fails."""
    result = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            check=False)  # fmt: skip
    assert result.returncode == 0, f"{argv}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and the sdist, built from this checkout."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (the test extra has it)")
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def required_closure(wheel: Path) -> set[str]:
    """The distributions the wheel requires without extras, and theirs, as installed here."""
    from packaging.requirements import Requirement  # noqa: PLC0415 - the build tools bring it

    with zipfile.ZipFile(wheel) as archive:
        [meta] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line.split(":", 1)[1].strip() for line in archive.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]  # fmt: skip
    seen: set[str] = set()
    while requires:
        requirement = Requirement(requires.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name not in seen:
            seen.add(name)
            requires.extend(metadata.distribution(name).requires or [])
    return seen


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and exactly its required dependencies (no extras); its python.

    No network: the dependencies are the ones installed here, linked into a directory of their own
    (only those the wheel's metadata requires, recursively) that the venv reads through a .pth file.
    """
    [wheel] = dist.glob("*.whl")
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index",
        wheel)  # fmt: skip
    deps = tmp_path_factory.mktemp("deps")
    for name in required_closure(wheel):
        for file in metadata.distribution(name).files or []:
            top = file.parts[0]
            if not (deps / top).exists() and top != ".." and not top.endswith(".pth"):
                (deps / top).symlink_to(Path(str(file.locate())).parents[len(file.parts) - 1] / top)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    (Path(site) / "required_deps.pth").write_text(f"{deps}\n")
    return python


def test_twine_accepts_both_archives(dist: Path) -> None:
    """`twine check --strict`: metadata and the README render as PyPI would show them."""
    if importlib.util.find_spec("twine") is None:
        pytest.skip("the `twine` package is not installed (the test extra has it)")
    archives = sorted(dist.iterdir())
    assert sorted(a.suffix for a in archives) == [".gz", ".whl"]
    run(sys.executable, "-m", "twine", "check", "--strict", *archives)


def test_the_wheel_holds_the_package_and_nothing_else(dist: Path) -> None:
    """The package, py.typed and the license; no tests, benchmarks, docs or examples."""
    [wheel] = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "analytics_async/py.typed" in names
    assert "analytics_async/_cli/debugger.html" in names  # the sink's --ui page
    assert "analytics_async/__init__.py" in names
    assert "analytics_async/_threads/dropin.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    tops = {n.split("/")[0] for n in names}
    assert tops == {
        "analytics_async",
        wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info",
    }


def test_the_sdist_holds_tests_docs_and_examples(dist: Path) -> None:
    """Someone building from the sdist can run the tests and read the docs."""
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for wanted in ("analytics_async/py.typed", "tests/test_sync.py", "tests/apps/sync_script.py",
                   "docs/delivery.md", "examples", "README.md", "LICENSE", "pyproject.toml"):  # fmt: skip
        assert any(n == wanted or n.startswith(wanted + "/") for n in names), wanted
    assert not any(n.startswith((".venv/", "benchmarks/.node/", "dist/")) for n in names)


def test_the_installed_wheel_runs_the_demo(installed: Path) -> None:
    """No extras, not editable: the demo sends every event exactly once to its local server."""
    result = run(installed, "-m", "analytics_async", "demo", "--users", "3", cwd=installed.parent)
    assert "OK: every event arrived exactly once." in result.stdout
    located = run(
        installed, "-c", "import analytics_async; print(analytics_async.__file__)", cwd=installed.parent
    )
    assert str(installed.parent.parent) in located.stdout  # the venv's copy, not this checkout


def test_a_users_file_type_checks_against_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    """mypy --strict over a user's module finds the package's types in the venv (py.typed shipped)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (the test extra has it)")
    user = tmp_path / "user_app.py"
    user.write_text(USER_FILE)
    run(sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", installed,
        "--config-file", "/dev/null", user, cwd=tmp_path)  # fmt: skip
    user.write_text(USER_FILE + "\n\nwrong: int = Client('k').track('u', 'e')\n")
    failed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", str(installed),
         "--config-file", "/dev/null", str(user)], cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stdout  # the types are really read: a wrong one is caught
    assert "Incompatible types in assignment" in failed.stdout


def test_the_venv_has_no_extras(installed: Path) -> None:
    """Only the required dependencies are importable there: the extras' packages are not."""
    code = (
        "import importlib.util as u; print([m for m in ('jwt', 'opentelemetry', 'pytest') if u.find_spec(m)])"
    )
    assert run(installed, "-c", code, cwd=installed.parent).stdout.strip() == "[]"
