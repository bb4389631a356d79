"""The layers import downwards only, and flows import no web, database or Twilio library."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Each layer: its modules (a module belongs to the layer naming its longest prefix) and the
# layers it may import besides its own. Nothing imports `app`, the composition root.
LAYERS = {
    # Plain values every layer shares: messages and replies, refusals, money, codes, show views.
    "vocabulary": ({"bot.messages", "bot.errors", "bot.show_views", "bot.money", "bot.locales", "bot.codes"}, set()),
    "models": ({"models"}, set()),
    # Conversation tables: they get their services passed in and never import them.
    "flows": ({"flows"}, {"vocabulary"}),
    # What a vendor code may be reads the flows' command words: the tenant loader and the dispatcher ask it
    # (and the staff service: a staff name is no command word either).
    "commands": ({"bot.vendor_codes"}, {"vocabulary", "flows"}),
    # Helpers below the services: the catalog, phones, PINs, points rules, database, outbox, limits and
    # each thread's line to Redis, quiet hours, JSON input, the vendors' rows kept between messages.
    "support": (
        {"bot.catalog", "bot.phones", "bot.countries", "bot.pins", "bot.points_rules", "bot.wheel", "bot.qr",
         "bot.config", "bot.db", "bot.outbound", "bot.limits", "bot.redis_line", "bot.pacing", "bot.quiet_hours", "bot.migrate",
         "bot.json_input", "bot.vendor_cache"},
        {"vocabulary", "models"},
    ),
    "services": ({"bot.services"}, {"vocabulary", "models", "commands", "support"}),
    # The process's resources and the senders the delivery engine drives.
    "runtime": ({"bot.runtime", "bot.senders"}, {"vocabulary", "models", "support", "services"}),
    # Runs the flows with the services, one message at a time.
    "conversation": (
        {"bot.engine", "bot.dispatcher", "bot.platform", "bot.routing", "bot.voting"},
        {"vocabulary", "models", "flows", "commands", "support", "services"},
    ),
    # HTTP and jobs at the edges: they never import each other.
    "webhooks": ({"webhooks"}, {"vocabulary", "models", "support", "services"}),
    "api": ({"api"}, {"vocabulary", "models", "support", "services"}),
    "dashboard": ({"dashboard"}, {"vocabulary", "models", "support", "services"}),
    "workers": ({"workers"}, {"vocabulary", "models", "support", "services", "runtime"}),
    # The app factory, the command line and the dev pages put it all together.
    "app": ({"bot", "bot.app", "bot.cli", "bot.web", "bot.studio", "bot.devphone", "bot.devclient", "wsgi"}, set()),
}
LAYERS["app"] = (LAYERS["app"][0], set(LAYERS) - {"app"})
PACKAGES = ("bot", "flows", "models", "webhooks", "api", "dashboard", "workers")


def layer_of(module: str) -> str:
    """The layer of `module`, by the longest prefix a layer names."""
    best, length = None, -1
    for layer, (prefixes, _) in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def project_imports(path: Path) -> set[str]:
    """The project's modules that `path` imports, anywhere in it (`from bot import runtime` is bot.runtime)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update(
                f"{node.module}.{alias.name}" if is_module(f"{node.module}.{alias.name}") else node.module
                for alias in node.names
            )
    return {name for name in found if name.split(".")[0] in PACKAGES}


def project_modules() -> list[Path]:
    return [ROOT / "wsgi.py", *(path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")))]


def upward(source: str, targets: set[str]) -> list[str]:
    """The imports of `source` that its layer may not make."""
    mine = layer_of(source)
    return [
        f"{source} ({mine}) imports {target} ({layer_of(target)})"
        for target in sorted(targets)
        if layer_of(target) != mine and layer_of(target) not in LAYERS[mine][1]
    ]


def test_every_import_between_the_project_packages_goes_down_the_layers():
    wrong = [line for path in project_modules() for line in upward(module_name(path), project_imports(path))]
    assert wrong == []


def test_the_layer_table_has_no_circle():
    """Allowed imports form a ladder: no layer may reach itself through others."""
    def reachable(layer: str, seen: set[str]) -> set[str]:
        for below in LAYERS[layer][1] - seen:
            seen.add(below)
            reachable(below, seen)
        return seen

    assert [layer for layer in LAYERS if layer in reachable(layer, set())] == []


def test_the_layering_check_sees_an_upward_import(tmp_path):
    """The check is not vacuous: a service importing a flow, or the API the dashboard, is caught."""
    module = tmp_path / "upward.py"
    module.write_text("from flows.base import State\nfrom bot import runtime\n\ndef f():\n    from dashboard import auth\n")
    assert project_imports(module) == {"flows.base", "bot.runtime", "dashboard.auth"}
    assert upward("bot.services.rewards", project_imports(module)) == [
        "bot.services.rewards (services) imports bot.runtime (runtime)",
        "bot.services.rewards (services) imports dashboard.auth (dashboard)",
        "bot.services.rewards (services) imports flows.base (flows)",
    ]
    assert upward("api.rewards", {"dashboard.auth"}) == ["api.rewards (api) imports dashboard.auth (dashboard)"]


def test_flows_and_the_shared_vocabulary_import_no_flask_sqlalchemy_or_twilio():
    code = (
        "import sys, flows, bot.catalog, bot.engine, bot.vendor_codes, bot.messages, bot.errors, bot.show_views\n"
        "loaded = sorted(m for m in ('flask', 'sqlalchemy', 'twilio') if m in sys.modules)\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
