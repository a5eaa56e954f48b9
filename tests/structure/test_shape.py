"""Every service has the one shape of services/README.md, and SQL lives only in its repository."""

import ast
import re
from pathlib import Path

import pytest

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
SHARED = {"kit", "access"}
REQUIRED = ("main.py", "config.py", "models.py", "schemas.py", "repository.py", "routes.py", "events.py")
# A query builder called anywhere but the repository (and the migrations, which build tables).
SQL_CALL = re.compile(r"(?<![.\w])(select|update|insert|delete)\(")


def service_packages() -> list[Path]:
    return sorted(
        path for path in SERVICES_DIR.iterdir() if (path / "__init__.py").exists() and path.name not in SHARED
    )


def missing_modules(package: Path) -> list[str]:
    missing = [name for name in REQUIRED if not (package / name).is_file()]
    if not (package / "service.py").is_file() and not (package / "service" / "__init__.py").is_file():
        missing.append("service.py or service/")
    return missing


def python_sources(package: Path) -> list[Path]:
    return sorted(path for path in package.rglob("*.py") if "migrations" not in path.relative_to(package).parts)


def sql_outside_repository(package: Path) -> list[str]:
    found = []
    for path in python_sources(package):
        if path.name == "repository.py" or path.parent.name == "repository":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if SQL_CALL.search(line.split("#", 1)[0]):
                found.append(f"{path.relative_to(package.parent)}:{number}")
    return found


HTTP_CLIENTS = {"httpx", "aiohttp"}
# Modules that speak HTTP to the world outside the system, not to another of its services.
TO_THE_WORLD = {"notifications/dispatcher.py"}  # delivers webhooks to integrators' own URLs


def calls_out_of_clients(package: Path) -> list[str]:
    """Modules other than clients.py that import an HTTP client: calls to another service belong in clients.py.

    main.py may, to build the clients it hands out; asking about access goes through `services.access`.
    """
    found = []
    for path in python_sources(package):
        if path.name in {"clients.py", "main.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            module = str(path.relative_to(package.parent))
            if any(name.split(".")[0] in HTTP_CLIENTS for name in names) and module not in TO_THE_WORLD:
                found.append(module)
                break
    return found


def test_the_services_are_found() -> None:
    assert {path.name for path in service_packages()} >= {"assessment", "consent", "plan", "notifications"}


@pytest.mark.parametrize("package", service_packages(), ids=lambda path: path.name)
def test_every_service_has_the_one_shape(package: Path) -> None:
    assert missing_modules(package) == [], f"{package.name} lacks modules of the one shape (services/README.md)"


@pytest.mark.parametrize("package", service_packages(), ids=lambda path: path.name)
def test_sql_is_written_only_in_the_repository(package: Path) -> None:
    assert sql_outside_repository(package) == []


@pytest.mark.parametrize("package", service_packages(), ids=lambda path: path.name)
def test_calls_to_other_services_are_in_clients(package: Path) -> None:
    assert calls_out_of_clients(package) == []


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """A package that breaks each rule is caught by it: the checks above could fail."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("__init__.py", "main.py", "config.py", "models.py", "schemas.py", "routes.py", "events.py"):
        (broken / name).write_text("")
    (broken / "service.py").write_text("import httpx\nrows = select(Thing).where(x)  # a query\n")
    assert missing_modules(broken) == ["repository.py"]
    assert sql_outside_repository(broken) == ["broken/service.py:2"]
    assert calls_out_of_clients(broken) == ["broken/service.py"]
