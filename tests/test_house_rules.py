"""Rules the whole code base keeps: no floats near money, no create_all, no CDN assets."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sources(folder: str, pattern: str = "*.py") -> list[Path]:
    return sorted((ROOT / folder).rglob(pattern))


def test_no_float_in_portal() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources("portal")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bFloat\b|float\(", line) and "noqa: float-ok" not in line
    ]
    assert offenders == []


def test_no_create_all_outside_tests() -> None:
    assert [p for p in _sources("portal") if "create_all(" in p.read_text()] == []


def test_no_network_assets() -> None:
    pattern = re.compile(r"(https?:)?//(cdn\.|unpkg\.com|cdn\.jsdelivr|fonts\.googleapis)")
    offenders = [p for p in _sources("templates", "*.html") if pattern.search(p.read_text())]
    offenders += [p for p in _sources("static/css", "*.css") if pattern.search(p.read_text())]
    assert offenders == []


def test_no_way_to_cut_utilities() -> None:
    """Civil Code art. 944: no action anywhere may cut water, power, heating or gas."""
    words = re.compile(r"cut_(water|power|electricity|gas|heating)|停水催缴|断电催缴")
    offenders = [
        p
        for p in _sources("portal") + _sources("templates", "*.html")
        if words.search(p.read_text())
    ]
    assert offenders == []


# ---------------------------------------------------------------- dependencies between domains

# Top-level modules every domain may use: they know no domain (or, for api and demo, are the
# shared blueprint and seed context that domains plug into).
SHARED = {
    "api",
    "config",
    "db",
    "demo",
    "domains",
    "errors",
    "exports",
    "faults",  # test-only fault injection (CLEARFEE_CRASH_AT)
    "extensions",
    "forms",
    "jinja",
    "joblock",
    "money",
    "pagecache",
    "pagination",
    "pdf",
    "replica",
    "requestmemo",
    "security",
    "timeutil",
}
# The factory's discovery: the only code that may look domains up by name.
DISCOVERY = {"__init__.py", "models.py", "api/__init__.py", "demo/service.py", "domains.py"}


def _portal_imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every portal import in a module, nested ones included."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base == "portal":
                found += [(node.lineno, f"portal.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.split(".")[0] == "portal"]


def upward_imports(source: str, module: str) -> list[str]:
    """Imports in portal.<domain>.… of a domain listed later in DOMAINS, or of an unknown
    top-level portal module; empty when the module keeps the dependency order."""
    from portal.domains import DOMAINS

    domain = module.split(".")[1]
    allowed = set(DOMAINS[: DOMAINS.index(domain) + 1]) | SHARED
    return [
        f"{module}:{line} imports {name}"
        for line, name in _portal_imports(ast.parse(source), module)
        if len(name.split(".")) > 1 and name.split(".")[1] not in allowed
    ]


def _domain_modules() -> list[tuple[Path, str]]:
    from portal.domains import DOMAINS

    out = []
    for path in _sources("portal"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if len(parts) > 2 and parts[1] in DOMAINS:
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out.append((path, name))
    return out


def test_domains_import_only_domains_listed_before_them() -> None:
    """A domain imports the domains before it in DOMAINS (lazy imports included)."""
    assert len(_domain_modules()) > 90
    offenders = [
        o for path, module in _domain_modules() for o in upward_imports(path.read_text(), module)
    ]
    assert offenders == []


def test_every_domain_package_is_listed() -> None:
    from portal.domains import DOMAINS

    packages = {p.name for p in (ROOT / "portal").iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert packages - set(DOMAINS) - SHARED == set()
    assert DOMAINS.index("notify") == DOMAINS.index("uploads") + 1
    for later in ("billing", "notices", "payments", "tickets", "disputes", "feedback"):
        assert DOMAINS.index("notify") < DOMAINS.index(later)
    assert DOMAINS.index("feedback") < DOMAINS.index("collections")


def test_the_rule_catches_upward_and_lazy_imports() -> None:
    source = (
        "from portal.billing import service\n"
        "from portal import money, disputes\n"
        "def f():\n"
        "    from portal.collections.service import run\n"
        "    import portal.reports.api\n"
        "from .. import tickets\n"
    )
    found = upward_imports(source, "portal.payments.service")
    assert sorted(o.split(" imports ")[1] for o in found) == [
        "portal.collections.service",
        "portal.disputes",
        "portal.reports.api",
        "portal.tickets",
    ]
    assert upward_imports("from portal.billing import holds\n", "portal.disputes.views") == []


def test_discovery_by_name_stays_in_the_factory() -> None:
    """optional_module / modules() find domains by name, which hides the dependency graph:
    only the factory's discovery (blueprints, CLI groups, models, API modules, demo seeds)."""
    offenders = []
    for path in _sources("portal"):
        rel = path.relative_to(ROOT / "portal").as_posix()
        if rel in DISCOVERY:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            hit = (
                (isinstance(node, ast.Name) and node.id == "optional_module")
                or (isinstance(node, ast.Attribute) and node.attr == "optional_module")
                or (
                    isinstance(node, ast.Attribute)
                    and node.attr == "modules"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "domains"
                )
                or (
                    isinstance(node, ast.ImportFrom)
                    and node.module == "portal.domains"
                    and {a.name for a in node.names} & {"optional_module", "modules"}
                )
                or (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, (ast.Name, ast.Attribute))
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
                )
            )
            if hit:
                offenders.append(f"portal/{rel}:{node.lineno}")
    assert offenders == []
