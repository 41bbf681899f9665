"""Reloading the project's Python files for ``tandem run --watch``.

A changed file is re-executed in its module object (``importlib.reload``),
and so is every project module that imports it, directly or through other
project modules, each after the modules it imports, so that a
``from model import predict`` picks up the new ``predict``. Modules that
neither changed nor import a changed one are left alone: what they loaded
(a trained model, a connection pool) stays in memory.

The project is the modules whose file lies under the app's folder and not
in an installed package (a virtualenv inside the folder, ``site-packages``).
"""

import ast
import importlib
import os
import sys


def reload_files(paths, root):
    """Reloads the loaded project modules of ``paths`` and their importers.

    Returns the names of the modules reloaded, in the order they were
    re-executed. A module that fails to execute raises; the modules before
    it are reloaded already, the ones after it are not.
    """
    changed = {os.path.realpath(p) for p in paths}
    project = _project_modules(os.path.realpath(root))
    imports = {name: _imported_names(module) & project.keys() - {name} for name, module in project.items()}
    stale = {name for name, module in project.items() if _file_of(module) in changed}
    while True:
        importers = {name for name, used in imports.items() if used & stale} - stale
        if not importers:
            break
        stale |= importers
    order = _dependencies_first(stale, imports)
    for file in changed:
        _forget_bytecode(file)
    for name in order:
        _reexecute(project[name])
    return order


def _file_of(module):
    file = getattr(module, "__file__", None)
    return os.path.realpath(file) if isinstance(file, str) else None


def _project_modules(root):
    """The loaded modules whose source file is the project's own."""
    prefix = root.rstrip(os.sep) + os.sep
    modules = {}
    for name, module in list(sys.modules.items()):
        file = _file_of(module)
        if file is None or not file.endswith(".py") or not file.startswith(prefix):
            continue
        inside = file[len(prefix):].split(os.sep)
        if "site-packages" in inside or any(part.startswith(".") for part in inside[:-1]):
            continue
        modules[name] = module
    return modules


def _imported_names(module):
    """Every module name the module's source imports, with its parents."""
    try:
        with open(module.__file__, "rb") as source:
            tree = ast.parse(source.read(), module.__file__)
    except (OSError, SyntaxError, ValueError):
        # A file that no longer parses is reloaded (and fails) only if it
        # changed itself; what it used to import is unknown.
        return set()
    package = getattr(module, "__package__", None) or ""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(_with_parents(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            names.add(_with_parents(base))
            names.update(_with_parents(f"{base}.{alias.name}" if base else alias.name) for alias in node.names)
    return {part for group in names for part in group}


def _with_parents(dotted):
    parts = dotted.split(".")
    return frozenset(".".join(parts[: i + 1]) for i in range(len(parts)) if parts[i])


def _absolute(module, level, package):
    """The absolute name of ``from <level dots><module> import ...``."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base)


def _dependencies_first(names, imports):
    """``names`` ordered so that each comes after the ones it imports
    (a cycle is broken where it is found)."""
    order, done, visiting = [], set(), set()

    def visit(name):
        if name in done or name in visiting:
            return
        visiting.add(name)
        for used in sorted(imports.get(name, ()) & names):
            visit(used)
        visiting.discard(name)
        done.add(name)
        order.append(name)

    for name in sorted(names):
        visit(name)
    return order


def _forget_bytecode(file):
    """Removes the cached bytecode of a changed file: the cache is checked
    against the file's mtime in whole seconds and its size, so an edit in
    the same second that keeps the size would reload the old code."""
    import importlib.util

    try:
        os.remove(importlib.util.cache_from_source(file))
    except (OSError, NotImplementedError, ValueError):
        pass


def _reexecute(module):
    if module.__name__.startswith("_tandem_file_"):
        # A file loaded under a name of its own (tandem._import_file_as)
        # cannot be found again by that name: run its loader again.
        module.__spec__.loader.exec_module(module)
    else:
        importlib.reload(module)
