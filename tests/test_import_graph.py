"""The package's import graph, read from the modules' own import statements (``TYPE_CHECKING``
blocks excluded): no cycles, counting the imports inside functions, and no module over the size
limit.

An edge ``a -> b`` means that ``a`` imports ``b``: at module level (``if``/``try`` blocks included)
or inside a function or method, where it runs on the first call. Importing ``x.y.z`` first runs the
packages ``x`` and ``x.y``; at module level that is an edge to each of them, as the interpreter runs
their ``__init__`` in the middle of the importer's own. A package's ``__init__`` that has run
imports nothing more on its own, so when it is reached only that way (not named: ``from x import
name`` names ``x``) the edge goes to its initialisation, which carries its module-level imports
but not those its functions make later (a package's lazy ``__getattr__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hirisearch"
#: Lines per module at most (STYLE: small, flat modules).
MAX_LINES = 500
#: The node of a package's initialisation (its ``__init__``'s module-level imports only).
INIT = "{}#init"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, me: str, modules: set[str]) -> list[tuple[str, bool]]:
    """``(module, inside a function)`` for every package module an import statement of ``path``
    names: ``import a.b`` names ``a.b``; ``from a import b`` names ``a.b`` if it is a module, else
    ``a``. ``TYPE_CHECKING`` blocks are skipped."""
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, bool]] = []

    def deepest(name: str) -> str | None:
        parts = name.split(".")
        found = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return next((m for m in reversed(found) if m in modules), None)

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, lazy)
            return
        named: list[str | None] = []
        if isinstance(node, ast.Import):
            named = [deepest(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = me.split(".") if is_pkg else me.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            named = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else deepest(base)
                for a in node.names
            ]
        out.extend((m, lazy) for m in named if m is not None)
        lazy = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, lazy)

    visit(ast.parse(path.read_text()), False)
    return out


def edges(found: list[tuple[str, bool]], me: str, packages: set[str]) -> set[str]:
    """Each named module, and, for a module-level import, the initialisation of every package
    above it (a function runs after its module and its packages are initialised)."""
    out: set[str] = set()
    for module, lazy in found:
        parts = module.split(".")
        for i in range(1, len(parts) if not lazy else 0):
            above = ".".join(parts[:i])
            if above != me:
                out.add(INIT.format(above) if above in packages else above)
        if module != me:
            out.add(module)
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module (and package initialisation) -> the nodes it imports."""
    files = sorted(package.rglob("*.py"))
    modules = {module_name(f, package) for f in files}
    packages = {module_name(f, package) for f in files if f.name == "__init__.py"}
    graph: dict[str, set[str]] = {}
    for f in files:
        me = module_name(f, package)
        found = imported_modules(f, me, modules)
        graph[me] = edges(found, me, packages)
        if me in packages:
            graph[INIT.format(me)] = edges([(m, z) for m, z in found if not z], me, packages)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_graph_sees_real_imports() -> None:
    graph = import_graph()
    assert "hirisearch.cost.types" in graph["hirisearch.cost.primitives"]
    assert "hirisearch.models.base" in graph["hirisearch.models"]
    # an import inside a function is an edge too
    assert "hirisearch.ops.profile" in graph["hirisearch.api"]
    # a package reached only by importing one of its modules: its initialisation
    assert "hirisearch#init" in graph["hirisearch.api"]
    assert "hirisearch.api" in graph["hirisearch"]  # the lazy __getattr__
    assert "hirisearch.api" not in graph["hirisearch#init"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    """The loop the target kinds had: a package's registry imports a kind inside a function, and
    the kind imports the package's ``Target`` back inside another."""
    pkg = tmp_path / "hirisearch"
    (pkg / "kinds").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kinds" / "__init__.py").write_text("from hirisearch.kinds.core import Target\n")
    (pkg / "kinds" / "core.py").write_text(
        "class Target: ...\n\n\ndef resolve():\n    from hirisearch.kinds.code import make\n"
    )
    (pkg / "kinds" / "code.py").write_text("def make():\n    from hirisearch.kinds import Target\n")
    graph = import_graph(pkg)
    assert cycles(graph) == [["hirisearch.kinds", "hirisearch.kinds.code", "hirisearch.kinds.core"]]
    # the registry names its kinds by string; a kind imports the core at module level, which
    # initialises the package (not its lazy attributes, which may import the kind)
    (pkg / "kinds" / "__init__.py").write_text(
        "from hirisearch.kinds.core import Target\n\n\ndef __getattr__(name):\n"
        "    from hirisearch.kinds import code\n"
    )
    (pkg / "kinds" / "core.py").write_text("class Target: ...\n")
    (pkg / "kinds" / "code.py").write_text("from hirisearch.kinds.core import Target\n")
    graph = import_graph(pkg)
    assert "hirisearch.kinds#init" in graph["hirisearch.kinds.code"]
    assert "hirisearch.kinds.code" in graph["hirisearch.kinds"]
    assert cycles(graph) == []


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
