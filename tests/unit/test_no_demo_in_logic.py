"""`grep -rn demo roles/ playbooks/ plugins/` finds the example service's name only where
it names the example: the service contract's defaults (docs/service_contract.md), docs
(READMEs, comments, argument-spec descriptions, plugin DOCUMENTATION/EXAMPLES/RETURN and
docstrings) — never in a task, template, handler, a role's defaults or vars, a playbook,
or plugin logic. A few plugin option defaults name the example on purpose; each is
listed below with the reason, so a new one is a decision, not an accident."""

import ast
import io
import re
import tokenize
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile("demo")
CONTRACT = ROOT / "roles" / "service_contract"
# Module option defaults that document the example service, and error-message examples.
# Each entry: (file, the code line, stripped) -> why it may name the demo.
ALLOWED_PLUGIN_LINES = {
    ("plugins/module_utils/gate_plan.py", '"requests": "demo_http_requests_total",'):
        "slo_gate's documented default metric; roles pass the contract's service_metric_requests",
    ("plugins/module_utils/gate_plan.py", '"latency": "demo_http_request_duration_seconds",'):
        "slo_gate's documented default metric; roles pass the contract's service_metric_latency",
    ("plugins/modules/capacity_report.py", 'selector=dict(type="str", default=\'{job="demo"}\'),'):
        "capacity_report's documented default; capacity_report.yml passes the contract's values",
    ("plugins/modules/capacity_report.py", 'requests_metric=dict(type="str", default="demo_http_requests_total"),'):
        "capacity_report's documented default; capacity_report.yml passes the contract's values",
    ("plugins/modules/capacity_report.py",
     'latency_histogram=dict(type="str", default="demo_http_request_duration_seconds"),'):
        "capacity_report's documented default; capacity_report.yml passes the contract's values",
    ("plugins/modules/triage_bundle.py", 'haproxy_backend=dict(type="str", default="demo"),'):
        "triage_bundle's documented default; the triage role passes triage_haproxy_backend",
    ("plugins/module_utils/gate_plan.py",
     '"%s must be a Prometheus label selector like {job=\\"demo\\",slot=\\"green\\"} for provider=prometheus, "'):
        "an example in an error message",
    ("plugins/module_utils/gate_plan.py", '"{backend: demo, servers: \'-green$\'}) for provider=haproxy, got %r" % '
                                          '(option, value)'):
        "an example in an error message",
    ("plugins/module_utils/gate_plan.py", '"prometheus": "a label selector of the canary, e.g. '
                                          '{job=\\"demo\\",slot=\\"green\\"}",'):
        "an example in an error message",
    ("plugins/module_utils/slo_defs.py",
     '_COUNTER = "a metric selector such as demo_http_requests_total{job=\\"demo\\"}"'):
        "an example in an error message",
    ("plugins/module_utils/slo_defs.py", '"a histogram\'s base name such as demo_http_request_duration_seconds")'):
        "an example in an error message",
    ("plugins/module_utils/slo_defs.py", '"label matchers in braces such as {job=\\"demo\\"}, or empty")'):
        "an example in an error message",
}


def _rel(path):
    return path.relative_to(ROOT).as_posix()


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _spec_defaults(path):
    """Every option default of every entry point, nested suboptions included."""
    def walk(options):
        for option in (options or {}).values():
            yield from _strings(option.get("default"))
            yield from walk(option.get("options"))
    for entry in (yaml.safe_load(path.read_text()) or {}).get("argument_specs", {}).values():
        yield from walk(entry.get("options"))


def _yaml_hits(path):
    """Lines naming the demo outside comments."""
    hits = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        code = line.split("#", 1)[0] if not path.name.endswith(".j2") else line
        if WORD.search(code):
            hits.append("%s:%d: %s" % (_rel(path), number, line.strip()))
    return hits


def _doc_string_lines(source):
    """Line numbers of docstrings and of DOCUMENTATION/EXAMPLES/RETURN strings."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if targets and set(targets) & {"DOCUMENTATION", "EXAMPLES", "RETURN"}:
            lines.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _python_hits(path):
    source = path.read_text()
    docs = _doc_string_lines(source)
    lines = source.splitlines()
    hits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT or not WORD.search(token.string):
            continue
        if token.start[0] in docs:
            continue
        line = lines[token.start[0] - 1].strip()
        if (_rel(path), line) in ALLOWED_PLUGIN_LINES:
            continue
        hits.append("%s:%d: %s" % (_rel(path), token.start[0], line))
    return hits


def test_roles_and_playbooks_name_the_demo_only_in_the_contract_and_docs():
    hits = []
    for path in sorted((ROOT / "roles").rglob("*")) + sorted((ROOT / "playbooks").rglob("*")):
        if not path.is_file() or path.name == "README.md" or CONTRACT in path.parents:
            continue
        if path.name == "argument_specs.yml":
            hits += ["%s: default %r" % (_rel(path), s) for s in _spec_defaults(path) if WORD.search(s)]
            continue
        hits += _yaml_hits(path)
    assert hits == []


def test_plugins_name_the_demo_only_in_docs_and_listed_defaults():
    hits = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        hits += _python_hits(path)
    assert hits == []


def test_every_listed_plugin_line_still_exists():
    """A listed line that went away must leave the list too (no stale permissions)."""
    missing = [entry for entry in ALLOWED_PLUGIN_LINES
               if entry[1] not in [line.strip() for line in (ROOT / entry[0]).read_text().splitlines()]]
    assert missing == []


def test_the_contract_defaults_are_where_the_demo_is_named():
    defaults = (CONTRACT / "defaults" / "main.yml").read_text()
    assert "service_name: demo\n" in defaults
