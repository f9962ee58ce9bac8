# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preload callback's shared template compiles: a template is compiled once per run
and renders exactly as before; trust, errors and compile options keep their meaning;
the templates of a task are compiled before its first worker forks, so that a real
playbook's workers compile nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from ansible._internal._datatag._tags import Origin, TrustedAsTemplate
from ansible._internal._templating import _engine
from ansible._internal._templating._engine import TemplateEngine, TemplateOptions
from ansible.errors import AnsibleTemplateSyntaxError
from ansible.plugins import strategy
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils import template_compiles
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.template_compiles import (
    CompileMemo,
    Precompiler,
    named_strings,
    share_template_compiles,
    walk_strings,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.callback.test_preload_callback import (
    _collections_root,
)


def trusted(text, path="/play.yml", line=1):
    return Origin(path=path, line_num=line).tag(TrustedAsTemplate().tag(text))


@pytest.fixture
def counted(monkeypatch):
    """The real compiles, counted; the patches of share_template_compiles undone after."""
    calls = []
    real_template, real_expression = TemplateEngine._compile_template, TemplateEngine._compile_expression

    def compile_template(engine, source, options):
        calls.append(("template", str(source)))
        return real_template(engine, source, options)

    def compile_expression(engine, source, options):
        calls.append(("expression", str(source)))
        return real_expression(engine, source, options)

    monkeypatch.setattr(TemplateEngine, "_compile_template", compile_template)
    monkeypatch.setattr(TemplateEngine, "_compile_expression", compile_expression)
    monkeypatch.setattr(strategy.StrategyBase, "_queue_task", strategy.StrategyBase._queue_task)
    monkeypatch.setattr(template_compiles, "_installed", {})
    return calls


TEMPLATES = ["{{ a + 1 }}", "{{ name | upper }}-{{ a }}", "x{{ path }}y", "{{ '\\\\n' }}", "{{ items | join(',') }}"]
VARIABLES = {"a": 1, "name": "demo", "path": "C:\\new", "items": ["p", "q"]}


def render_all(engine):
    return [engine.template(trusted(text)) for text in TEMPLATES] + [
        engine.evaluate_conditional(trusted(text)) for text in ("a == 1", "name is match('de')", " a > 0 ")]


def test_each_template_is_compiled_once_and_renders_as_before(counted):
    unshared = render_all(TemplateEngine(variables=VARIABLES))
    compiles_unshared = len(counted)
    other_values = render_all(TemplateEngine(variables=dict(VARIABLES, a=5)))
    assert other_values[:2] == [6, "DEMO-5"] and other_values != unshared
    del counted[:]
    memo = share_template_compiles()
    assert memo is not None
    assert render_all(TemplateEngine(variables=VARIABLES)) == unshared
    assert len(counted) == compiles_unshared
    assert render_all(TemplateEngine(variables=dict(VARIABLES, a=5))) == other_values
    assert len(counted) == compiles_unshared, "a template was compiled again"
    assert memo.hits == compiles_unshared and len(memo) == compiles_unshared
    assert share_template_compiles() is memo  # a second playbook start changes nothing


def test_an_untrusted_copy_of_a_compiled_template_is_still_not_rendered(counted):
    share_template_compiles()
    engine = TemplateEngine(variables=VARIABLES)
    assert engine.template(trusted("{{ a + 1 }}")) == 2
    assert engine.template("{{ a + 1 }}") == "{{ a + 1 }}"


def test_a_template_that_does_not_compile_is_reported_with_its_own_origin_each_time(counted):
    memo = share_template_compiles()
    engine = TemplateEngine(variables=VARIABLES)
    for path in ("/one.yml", "/two.yml"):
        with pytest.raises(AnsibleTemplateSyntaxError) as info:
            engine.template(trusted("{{ a + }}", path=path, line=7))
        assert Origin.get_tag(info.value.obj).path == path
    assert len(memo) == 0 and counted == [("template", "{{ a + }}")] * 2


def test_compile_options_are_part_of_what_is_remembered(counted):
    memo = share_template_compiles()
    engine = TemplateEngine(variables=VARIABLES)
    source = trusted("{{ '\\\\' }}")
    escaped = engine.template(source)
    kept = engine.template(source, options=TemplateOptions(escape_backslashes=False))
    assert (escaped, kept) == (TemplateEngine(variables=VARIABLES).template(source),
                               TemplateEngine(variables=VARIABLES).template(
                                   source, options=TemplateOptions(escape_backslashes=False)))
    assert len(memo) == 2 and len(counted) == 2


def test_the_memo_is_bounded_in_entries_and_in_source_length():
    calls = []

    def compile_function(engine, source, options):
        calls.append(source)
        return int(len(source))

    class Engine(object):
        environment = None

    memo = CompileMemo(int, float, limit=2, max_source=5)
    compile_once = memo.wrap("template", compile_function)
    options = TemplateOptions.DEFAULT
    for source in ("a", "b", "c", "a", "b", "c", "longer", "longer"):
        compile_once(Engine(), source, options)
    assert calls == ["a", "b", "c", "c", "longer", "longer"]
    assert len(memo) == 2 and memo.hits == 2


def test_walk_strings_skips_rendering_containers_and_stops_at_its_budget():
    class Rendering(dict):
        def values(self):
            raise AssertionError("read through the rendering view")

    value = {"a": "{{ x }}", "b": ["{{ y }}", ("z", 3)], "c": Rendering(d="{{ never }}"), "e": None}
    assert sorted(walk_strings(value, skip_types=(Rendering,))) == ["a", "b", "c", "e", "z", "{{ x }}", "{{ y }}"]
    assert len(walk_strings([str(n) for n in range(100)], budget=10)) == 9


class FakeTask(object):
    def __init__(self, action, args, when=None, loop=None, uuid="t1"):
        self.action, self.args, self.when, self.loop, self._uuid = action, args, when, loop, uuid
        self.changed_when = self.failed_when = self.until = None


def test_a_task_is_compiled_before_its_workers_so_they_compile_nothing(counted):
    memo = share_template_compiles()
    internals = template_compiles._Internals()
    task = FakeTask("ansible.builtin.assert", {"that": ["a == 1", trusted("conf is string")], "quiet": True},
                    when=["nested.list | length > 0"], loop=trusted("{{ items }}"))
    task_vars = {"conf": trusted("{{ path }}/{{ name }}.ini"), "nested": {"list": [trusted("{{ a * 2 }}")]},
                 "unused": trusted("{{ never_rendered }}"), "key_dir": trusted("{{ path }}/keys"),
                 "ansible_ssh_private_key_file": trusted("{{ key_dir }}/id_ed25519")}
    Precompiler(internals, loader=None).task(task, task_vars)
    compiled_first = len(counted)
    # The loop, its label {{item}}, conf's and nested's templates and the connection's
    # (not unused's), and 3 conditions.
    assert sorted(counted) == sorted([
        ("template", "{{ items }}"), ("template", "{{item}}"), ("template", "{{ path }}/{{ name }}.ini"),
        ("template", "{{ a * 2 }}"), ("template", "{{ key_dir }}/id_ed25519"), ("template", "{{ path }}/keys"),
        ("expression", "a == 1"), ("expression", "conf is string"), ("expression", "nested.list | length > 0")])
    Precompiler(internals, loader=None).task(task, task_vars)
    engine = TemplateEngine(variables=dict(VARIABLES, **task_vars))
    assert engine.template(trusted("{{ items }}")) == ["p", "q"]
    assert engine.template(trusted("{{ conf }}")) == "C:\\new/demo.ini"
    assert engine.template(trusted("{{ nested.list[0] }}")) == 2
    assert all(engine.evaluate_conditional(trusted(text))
               for text in ("a == 1", "conf is string", "nested.list | length > 0"))
    # Only the templates that name the variables were new to the memo.
    assert counted[compiled_first:] == [("template", "{{ conf }}"), ("template", "{{ nested.list[0] }}")]
    assert memo.misses == compiled_first + 2


def test_named_strings_follow_the_names_a_text_uses():
    variables = {"a": "{{ b }}-{{ c | default('x') }}", "b": ["{{ d }}", {"k": "plain"}], "c": "{{ a }}",
                 "d": 4, "e": "{{ never }}", "default": "not a variable here, but named"}
    found = named_strings(["x == a"], variables)
    assert sorted(found) == sorted(["x == a", "{{ b }}-{{ c | default('x') }}", "{{ d }}", "k", "plain", "{{ a }}",
                                    "not a variable here, but named"])
    assert named_strings(["{{ e }}"], None) == ["{{ e }}"]
    assert len(named_strings(["a"], {"a": [str(n) for n in range(1000)]}, budget=100)) <= 100

    class Rendering(dict):
        pass

    assert named_strings(["a"], {"a": Rendering(b="{{ x }}")}, skip_types=(Rendering,)) == ["a"]
    assert named_strings(["a"], Rendering(a="{{ x }}"), skip_types=(Rendering,)) == ["a"]


def test_with_other_internals_nothing_is_changed(monkeypatch, counted):
    monkeypatch.delattr(_engine.TemplateEngine, "_strip_conditional_handle_empty")
    before = (TemplateEngine._compile_template, strategy.StrategyBase._queue_task)
    assert share_template_compiles() is None
    assert (TemplateEngine._compile_template, strategy.StrategyBase._queue_task) == before


# A role whose defaults, inventory variables, loop, conditions and assert each hold
# templates; each process writes what it compiled.
PLAYBOOK_FILES = {
    "inventory.yml": """\
        all:
          hosts: {h1: {}, h2: {}, h3: {}}
          vars:
            ansible_connection: local
            ansible_python_interpreter: PYTHON
            host_key: "{{ inventory_hostname | upper }}-key"
        """,
    "roles/r/defaults/main.yml": """\
        r_name: demo
        r_root: "/srv/{{ r_name }}"
        r_conf: "{{ r_root }}/etc/{{ r_name }}.ini"
        r_map: {a: "{{ r_root }}/a"}
        """,
    "roles/r/tasks/main.yml": """\
        - name: Note a fact per item
          ansible.builtin.set_fact:
            "f_{{ item }}": "{{ r_conf }} {{ host_key }} {{ r_map.a }} {{ item }}"
          loop: "{{ range(3) | list }}"
          when: r_name == 'demo' and item | int >= 0
        - name: Check it
          ansible.builtin.assert:
            that: [f_2 == r_root ~ '/etc/demo.ini ' ~ inventory_hostname | upper ~ '-key /srv/demo/a 2']
            quiet: true
        - name: Show it
          ansible.builtin.debug:
            msg: "{{ f_1 }}"
        """,
    "play.yml": """\
        - hosts: all
          gather_facts: false
          roles: [r]
        """,
}

COUNTING_RUN = r"""
import json, os, sys
from ansible._internal._templating import _engine
real = {"template": _engine.TemplateEngine._compile_template, "expression": _engine.TemplateEngine._compile_expression}
main_pid, log_dir = os.getpid(), sys.argv[1]
def counting(kind):
    def compile_counted(engine, source, options):
        with open(os.path.join(log_dir, "compiles-%d" % os.getpid()), "a") as log:
            log.write(json.dumps(["parent" if os.getpid() == main_pid else "worker", kind, str(source)]) + "\n")
        return real[kind](engine, source, options)
    return compile_counted
_engine.TemplateEngine._compile_template = counting("template")
_engine.TemplateEngine._compile_expression = counting("expression")
from ansible.cli.playbook import main
sys.argv = ["ansible-playbook", "-i", "inventory.yml", "play.yml", "-v"]
main()
"""


def run_playbook(directory, callbacks):
    for name, text in PLAYBOOK_FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("PYTHON", sys.executable))
    log_dir = directory / ("log-" + (callbacks or "none"))
    log_dir.mkdir()
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith("ANSIBLE_"))
    env.update(ANSIBLE_COLLECTIONS_PATH=_collections_root(), ANSIBLE_FORKS="5",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    if callbacks:
        env["ANSIBLE_CALLBACKS_ENABLED"] = callbacks
    proc = subprocess.run([sys.executable, "-c", COUNTING_RUN, str(log_dir)], cwd=directory, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    compiles = [json.loads(line) for log in log_dir.iterdir() for line in log.read_text().splitlines()]
    # Sorted: the hosts finish in any order.
    shown = sorted(line.strip() for line in proc.stdout.splitlines() if '"msg": "/srv' in line)
    return compiles, shown


def test_a_playbooks_workers_compile_nothing_and_show_the_same(tmp_path):
    without, shown_without = run_playbook(tmp_path, None)
    compiles, shown = run_playbook(tmp_path, "fleetops.lifecycle.preload")
    assert shown == shown_without and len(shown) == 3, shown
    assert "/srv/demo/etc/demo.ini H2-key /srv/demo/a 1" in " ".join(shown)
    workers_without = [entry for entry in without if entry[0] == "worker"]
    assert len(workers_without) > 50, without  # the control: workers compile without it
    assert [entry for entry in compiles if entry[0] == "worker"] == []
    distinct = set((kind, source) for _, kind, source in workers_without)
    assert len([entry for entry in compiles if entry[0] == "parent"]) <= len(distinct) + 10


OPTION_PROBE = r"""
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.plugins.loader import callback_loader
from ansible._internal._templating._engine import TemplateEngine
callback = callback_loader.get("fleetops.lifecycle.preload")
callback.set_options()
callback.v2_playbook_on_start(None)
print(json.dumps(hasattr(TemplateEngine._compile_template, "__wrapped__")))
"""


@pytest.mark.parametrize("setting, shared", [(None, True), ("true", True), ("0", False), ("false", False)])
def test_the_callback_option_turns_the_sharing_off(setting, shared):
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "FLEETOPS_")))
    if setting is not None:
        env["FLEETOPS_PRELOAD_TEMPLATE_COMPILES"] = setting
    proc = subprocess.run([sys.executable, "-c", OPTION_PROBE, _collections_root()], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) is shared
