"""The scoring package is pure: standard library only, and no web or database framework."""

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
SCORING_DIR = REPO_ROOT / "backend" / "scoring"
FORBIDDEN = ("flask", "sqlalchemy", "flask_sqlalchemy", "yaml", "numpy", "scipy")

# backend/__init__.py (the Flask app factory) may import Flask; register a bare `backend`
# package first so only backend.scoring's own imports are measured.
PROBE = f"""
import sys, types
backend = types.ModuleType("backend")
backend.__path__ = [{str(REPO_ROOT / "backend")!r}]
sys.modules["backend"] = backend
import backend.scoring
print(any(m.split('.')[0] in {FORBIDDEN!r} for m in sys.modules))
"""


def test_importing_scoring_loads_no_framework_in_a_fresh_interpreter():
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


def test_scoring_modules_import_only_the_standard_library():
    for module in SCORING_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root == "__future__", (module, root)
