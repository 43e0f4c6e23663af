"""The layering written in the packages' docstrings (batcher/voiceapi, web, plan, workbook,
followup, cli) and errors.py, held by tests.

Only batcher.voiceapi (aiohttp's client, to the vendor) and batcher.web (aiohttp.web, to serve
the campaign owner's page) import aiohttp; nothing else imports batcher.web but the `serve`
command's handler, lazily; the leaf modules (errors, outcomes, settings, clock) import
nothing else of batcher but errors; a dry run and the pipeline's import never load aiohttp.
The stage packages import no package above them; no module imports another's private name; the
modules of batcher import one another without a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "batcher"
LEAVES = {
    "errors.py": set(),
    "outcomes.py": set(),
    "clock.py": set(),
    "plan/cells.py": set(),
    "voiceapi/callrecord.py": set(),
    "plan/zones.py": set(),
    "settings": {"errors"},  # a package: each file
}


def _leaf_files() -> list[tuple[str, Path]]:
    """(leaf, file) for each leaf module, and for each file of a leaf package."""
    pairs = []
    for name in sorted(LEAVES):
        leaf = PACKAGE / name
        files = sorted(leaf.rglob("*.py")) if leaf.is_dir() else [leaf]
        assert files, f"{name}: no such module or package"
        pairs.extend((name, path) for path in files)
    return pairs


def _imports(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (lazy imports included), as dotted names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "batcher":  # from batcher import journal
                names.update(f"batcher.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}: relative import; batcher imports absolutely")
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_scan_sees_the_vendor_package():
    vendor = [p for p in _modules() if "voiceapi" in p.relative_to(PACKAGE).parts]
    assert any("aiohttp" in _imports(p) for p in vendor)  # else the scan below proves nothing


AIOHTTP_HOMES = {"voiceapi", "web"}  # the client to the vendor; the server of the page


def _aiohttp(path: Path) -> set[str]:
    return {n for n in _imports(path) if n == "aiohttp" or n.split(".")[0].startswith("aiohttp")}


def test_the_scan_sees_the_web_package():
    web = [p for p in _modules() if p.relative_to(PACKAGE).parts[0] == "web"]
    assert any(_aiohttp(p) for p in web)  # else the rule below proves nothing


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_vendor_and_web_import_aiohttp(path: Path):
    if path.relative_to(PACKAGE).parts[0] in AIOHTTP_HOMES:
        return
    offending = _aiohttp(path)
    assert not offending, f"{path.name} imports {offending}: go through batcher.voiceapi"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if p.relative_to(PACKAGE).parts[0] == "web"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_web_serves_and_never_talks_to_the_vendor_itself(path: Path):
    # the page's sends run in a child `batcher run`: the client stays in batcher.voiceapi
    ours = _imports(path)
    assert "aiohttp.ClientSession" not in ours and "batcher.send" not in ours
    assert not {
        n
        for n in ours
        if n.startswith("batcher.voiceapi")
        and n != "batcher.voiceapi"
        and not n.startswith("batcher.voiceapi.simulator")
    }, path.name


def test_only_the_serve_handler_imports_web():
    for path in _modules():
        if path.relative_to(PACKAGE).parts[0] == "web":
            continue
        if any(n == "batcher.web" or n.startswith("batcher.web.") for n in _imports(path)):
            assert path == PACKAGE / "cli" / "serve.py", f"{path.name} imports batcher.web"


def test_importing_the_cli_loads_no_web_server():
    loaded = "'batcher.web' in sys.modules or 'aiohttp' in sys.modules"
    code = f"import sys, batcher.cli; print({loaded})"
    assert _python(code) == "False"


@pytest.mark.parametrize(
    ("name", "path"),
    [pytest.param(name, path, id=str(path.relative_to(ROOT))) for name, path in _leaf_files()],
)
def test_leaf_modules_import_nothing_else_of_batcher(name: str, path: Path):
    own = name.removesuffix(".py")  # a leaf package's files may import one another
    ours = {
        n.removeprefix("batcher.")
        for n in _imports(path)
        if (n == "batcher" or n.startswith("batcher."))
        and not (n == f"batcher.{own}" or n.startswith(f"batcher.{own}."))
    }
    assert ours <= LEAVES[name], f"{path.relative_to(ROOT)} imports {ours - LEAVES[name]}"


def test_vendor_imports_no_command_or_pipeline_module():
    allowed = {"batcher.errors", "batcher.outcomes", "batcher.settings", "batcher.clock"}
    for path in (PACKAGE / "voiceapi").rglob("*.py"):
        ours = {n for n in _imports(path) if n.startswith("batcher.")}
        stray = {n for n in ours if not n.startswith("batcher.voiceapi") and n not in allowed}
        assert not stray, f"{path.relative_to(ROOT)} imports {stray}"


LOADED = "import sys; print('aiohttp' in sys.modules)"


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_pipeline_loads_no_aiohttp():
    assert _python(f"import batcher.pipeline; {LOADED}") == "False"


def test_a_dry_run_loads_no_aiohttp(tmp_path):
    plan = tmp_path / "plan.xlsx"  # never beside the bundled sample
    code = (
        "import sys\n"
        "from batcher.cli import main\n"
        "try:\n"
        "    main(['plan', 'samples/contacts.xlsx', '--config', 'samples/campaign.toml',"
        f" '-o', {str(plan)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"{LOADED}\n"
    )
    assert _python(code) == "False"


def test_version_and_help_load_no_stage():
    heavy = "any(m in sys.modules for m in ('pandas', 'batcher.pipeline', 'phonenumbers'))"
    code = (
        "import sys\n"
        "from batcher.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({heavy})\n"
    )
    assert _python(code).splitlines()[-1] == "False"


def test_the_check_itself_sees_aiohttp_when_it_is_loaded():
    assert _python(f"import batcher.voiceapi.http; {LOADED}") == "True"


def test_importing_the_pipeline_leaves_pandas_for_while_the_file_is_read():
    # pandas and the writer (0.3-0.5 s) are imported while the reader child reads the file
    assert _python("import batcher.pipeline; import sys; print('pandas' in sys.modules)") == (
        "False"
    )


# -- the stage packages, the private names, the circles ------------------------------------------

ABOVE = {  # package -> the batcher packages and modules it must not import (its docstring says so)
    "plan": {"send", "voiceapi", "workbook", "followup", "web", "cli", "pipeline"},
    "workbook": {"send", "voiceapi", "followup", "web", "cli", "pipeline"},
    "followup": {"cli", "web"},
    "send": {"workbook", "followup", "web", "cli", "pipeline"},
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top(name: str) -> str:
    """batcher.plan.rows -> plan; batcher.pipeline -> pipeline."""
    return name.split(".")[1] if name.count(".") else ""


PURE = {"batcher.voiceapi.callrecord"}  # how a call record reads: no HTTP, imports no batcher


@pytest.mark.parametrize("package", sorted(ABOVE), ids=lambda name: f"batcher/{name}")
def test_stage_packages_import_nothing_above_them(package: str):
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    for path in files:
        ours = {_top(n) for n in _runtime_imports(path) if n not in PURE}
        stray = ours & ABOVE[package]
        assert not stray, f"{path.relative_to(ROOT)} imports {stray}"


def test_only_the_cli_imports_the_cli():
    for path in _modules():
        if path.relative_to(PACKAGE).parts[0] in ("cli", "__main__.py"):
            continue
        assert "cli" not in {_top(n) for n in _runtime_imports(path)}, path.relative_to(ROOT)


PRIVATE_EXCEPTIONS: set[tuple[str, str, str]] = set()  # none: keep it so


def _private_imports(code: str, here: str) -> set[tuple[str, str, str]]:
    """(importer, module, name) for each `from batcher.x import _name` of another module."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if not (isinstance(node, ast.ImportFrom) and node.module):
            continue
        if node.module.split(".")[0] != "batcher" or node.module == here:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.add((here, node.module, alias.name))
    return found


def test_the_private_scan_sees_a_private_import():
    code = "from batcher.send.gates import _x\nfrom batcher import __version__\n"
    assert _private_imports(code, "batcher.cli") == {("batcher.cli", "batcher.send.gates", "_x")}


def test_no_module_imports_a_private_name_of_another():
    found = set().union(
        *(_private_imports(path.read_text(encoding="utf-8"), _module(path)) for path in _modules())
    )
    assert found - PRIVATE_EXCEPTIONS == set(), "a name two modules use is public: rename it"
    assert found >= PRIVATE_EXCEPTIONS, "an exception is gone: remove it from the list"


def _runtime_imports(path: Path) -> set[str]:
    """The batcher modules a file imports when it runs: at module level and inside functions
    (lazy imports too), but not under `if TYPE_CHECKING:`, which never runs."""
    modules = {_module(p) for p in _modules()}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return {name for name in found if name in modules} - {_module(path)}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_batcher_modules_import_one_another_without_a_circle():
    graph = {_module(path): _runtime_imports(path) for path in _modules()}
    assert _circles(graph) == []
