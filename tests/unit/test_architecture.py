"""The core stays framework-free: domain and services import nothing from the outside world."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
FORBIDDEN = {
    "flask",
    "werkzeug",
    "sqlalchemy",
    "alembic",
    "marshmallow",
    "flask_smorest",
    "flask_limiter",
    "limits",
    "authlib",
    "rq",
    "redis",
    "fpdf",
    "psycopg",
    "gunicorn",
    "requests",
    "click",
    "jinja2",
}
INWARD_ONLY = {
    "domain": {"passemarche.services", "passemarche.adapters", "passemarche.entrypoints"},
    "services": {"passemarche.adapters", "passemarche.entrypoints"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", ["domain", "services"])
def test_the_core_imports_no_framework_and_points_inwards(layer):
    offenders = []
    for path in sorted((SRC / layer).rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(SRC)} imports {module}")
            if any(module.startswith(outer) for outer in INWARD_ONLY[layer]):
                offenders.append(f"{path.relative_to(SRC)} imports {module} (outer layer)")
    assert offenders == []


def test_the_check_itself_catches_a_framework_import(tmp_path):
    sample = tmp_path / "leak.py"
    sample.write_text("from flask import request\nimport sqlalchemy.orm\n")
    assert {"flask", "sqlalchemy.orm"} <= imported_modules(sample)
