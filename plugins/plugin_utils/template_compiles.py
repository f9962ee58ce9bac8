# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja compiles done once in ansible-playbook's own process and shared with the
forked workers (the ``fleetops.lifecycle.preload`` callback calls
:func:`share_template_compiles` when the playbook starts).

ansible-core 2.19 compiles a template string each time it renders one and keeps
nothing, and every task of every host runs in a worker forked for it: the same role
default (``{{ service_name }}``) or ``when`` is compiled again in each worker that
reads it. Profiled over a 4-host deploy on the lab, the workers compiled 1531 times
235 distinct strings, about a fifth of their time under cProfile.

Here a compile is remembered by what decides its result - the text, the two compile
options (backslash escaping, the ``#jinja2:`` overrides) and the directory templates
are loaded from - and just before a task is handed to its first worker, this process
compiles the templates of that task's arguments, loop, label and conditions, of the
connection's ``ansible_*`` settings, and of the variables these name, and those these
name. A worker then finds them compiled in the memory it starts from.
A compiled template holds no state of a render; what a render depends on (variables,
trust, the origin in an error) is given to it at render time, as before.

The ansible-core internals this leans on are checked when it starts; with an
ansible-core where they differ, nothing is changed.
"""

from __future__ import annotations

import importlib
import re

# Bounds: templates remembered per run, the longest text remembered (a file of the
# ``template`` module is compiled as usual), and values walked per task.
MAX_TEMPLATES = 8192
MAX_SOURCE = 16 * 1024
MAX_WALK = 20000

_CONDITION_FIELDS = ("when", "changed_when", "failed_when", "until")
# Actions whose arguments hold conditions: assert's ``that`` is evaluated as ``when`` is.
_CONDITION_ARGS = {"assert": "that", "ansible.builtin.assert": "that", "ansible.legacy.assert": "that"}


class CompileMemo(object):
    """Compiled templates and expressions by their text and compile options."""

    def __init__(self, compiled_type, expression_type, limit=MAX_TEMPLATES, max_source=MAX_SOURCE):
        self._compiled_types = (compiled_type, expression_type)
        self._limit = limit
        self._max_source = max_source
        self._memo = {}
        self.hits = 0
        self.misses = 0

    def __len__(self):
        return len(self._memo)

    def wrap(self, kind, compile_function):
        """``compile_function(engine, source, options)`` remembered under ``kind``."""
        memo = self._memo

        def compile_once(engine, source, options):
            if not isinstance(source, str) or len(source) > self._max_source:
                return compile_function(engine, source, options)
            # str.__str__ gives a plain copy of a tagged string: its tags are not kept.
            key = (kind, str.__str__(source), options.escape_backslashes, options.overrides,
                   template_directories(engine))
            compiled = memo.get(key)
            if compiled is not None:
                self.hits += 1
                return compiled
            self.misses += 1
            compiled = compile_function(engine, source, options)
            # A failed compile returns a function that reports the error of this source
            # (with its origin): never shared.
            if isinstance(compiled, self._compiled_types) and len(memo) < self._limit:
                memo[key] = compiled
            return compiled

        compile_once.__wrapped__ = compile_function
        return compile_once


def template_directories(engine):
    """Where the engine's Jinja environment loads ``{% include %}`` from (fixed when the
    environment was made; the loader's base directory may have moved on since)."""
    loader = getattr(engine.environment, "loader", None)
    return tuple(getattr(loader, "searchpath", None) or ())


def walk_strings(value, skip_types=(), budget=MAX_WALK):
    """The strings in ``value``, through plain dicts, lists and tuples, at most ``budget``
    values visited. Instances of ``skip_types`` (containers that render what is read
    from them) are not entered."""
    stack = [value]
    found = []
    while stack and budget > 0:
        item = stack.pop()
        budget -= 1
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, skip_types):
            continue
        elif isinstance(item, dict):
            # dict's own views: no overridden __getitem__. Keys may be templates (set_fact).
            stack.extend(dict.keys(item))
            stack.extend(dict.values(item))
        elif isinstance(item, (list, tuple)):
            stack.extend(list.__iter__(item) if isinstance(item, list) else item)
    return found


# What may name a variable in a template or expression. Filter names and words in
# strings match too; they name no variable, or one never rendered (compiled for nothing).
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def named_strings(texts, variables, skip_types=(), budget=MAX_WALK):
    """``texts``, then the strings of each variable of ``variables`` a text names, then
    of those these name, and so on: what rendering ``texts`` may template. At most
    ``budget`` values are visited."""
    if not isinstance(variables, dict) or isinstance(variables, skip_types):
        return list(texts)
    found = []
    pending = list(texts)
    named = set()
    while pending and budget > 0:
        text = pending.pop()
        found.append(text)
        for name in set(_NAME_RE.findall(text)) - named:
            named.add(name)
            if name in variables:
                strings = walk_strings(dict.get(variables, name), skip_types, budget)
                budget -= len(strings) + 1
                pending.extend(strings)
    return found


class _Internals(object):
    """The ansible-core names this module uses, or ImportError/AttributeError."""

    def __init__(self):
        engine = importlib.import_module("ansible._internal._templating._engine")
        bits = importlib.import_module("ansible._internal._templating._jinja_bits")
        lazy = importlib.import_module("ansible._internal._templating._lazy_containers")
        self.TemplateEngine = engine.TemplateEngine
        self.TemplateOptions = engine.TemplateOptions
        self.compile_template = engine.TemplateEngine._compile_template
        self.compile_expression = engine.TemplateEngine._compile_expression
        self.strip_conditional = engine.TemplateEngine._strip_conditional_handle_empty
        self.AnsibleTemplate = bits.AnsibleTemplate
        self.AnsibleTemplateExpression = bits.AnsibleTemplateExpression
        self.is_possibly_template = bits.is_possibly_template
        self.is_possibly_all_template = bits.is_possibly_all_template
        self.debuggable = bits.AnsibleEnvironment._debuggable_template_source
        self.lazy_types = (lazy._AnsibleLazyTemplateMixin,)
        # The options a conditional's expression is compiled with (evaluate_expression's).
        self.condition_options = self.TemplateOptions(escape_backslashes=False, preserve_trailing_newlines=False)


class Precompiler(object):
    """Compiles, in this process, the templates a task's workers will compile."""

    def __init__(self, internals, loader):
        self._internals = internals
        self._engine = internals.TemplateEngine(loader=loader)  # templates from loader's base directory now
        self._done = set()

    def task(self, task, task_vars):
        """Compile the templates of ``task`` (arguments, loop, conditions) and of the
        variables they name, and those these name; once per task."""
        marker = getattr(task, "_uuid", None) or id(task)
        if marker in self._done:
            return
        self._done.add(marker)
        internals = self._internals
        roots = [getattr(task, "args", None), getattr(task, "loop", None)]
        loop_control = getattr(task, "loop_control", None)
        if getattr(task, "loop", None) is not None or getattr(task, "loop_with", None):
            # Each item's label is rendered from a template naming the loop variable.
            label = getattr(loop_control, "label", None)
            roots.append(label or "{{%s}}" % (getattr(loop_control, "loop_var", None) or "item"))
        conditions = [getattr(task, field, None) for field in _CONDITION_FIELDS]
        argument = _CONDITION_ARGS.get(getattr(task, "action", None))
        if argument and isinstance(task.args, dict):
            conditions.append(task.args.get(argument))
        conditions = [text for condition in conditions for text in _as_list(condition) if isinstance(text, str)]
        # The connection's settings (ansible_host, ansible_ssh_private_key_file, ...) are
        # templated by each worker too, whatever the task names.
        if isinstance(task_vars, dict) and not isinstance(task_vars, internals.lazy_types):
            roots.extend(value for name, value in dict.items(task_vars)
                         if isinstance(name, str) and name.startswith("ansible_") and isinstance(value, str))
        texts = walk_strings(roots, internals.lazy_types) + conditions
        for text in named_strings(texts, task_vars, internals.lazy_types):
            if internals.is_possibly_template(text):
                self._engine._compile_template(text, internals.TemplateOptions.DEFAULT)
        for condition in conditions:
            self.condition(condition)

    def condition(self, condition):
        internals = self._internals
        if not isinstance(condition, str) or internals.is_possibly_all_template(condition):
            return  # rendered as a template first: found among the templates
        try:
            expression = internals.strip_conditional(self._engine, condition)
        except Exception:  # pylint: disable=broad-except  # the worker reports it
            return
        if isinstance(expression, str) and expression:
            self._engine._compile_expression(expression, internals.condition_options)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_installed = {}


def share_template_compiles():
    """Remember compiles in this process and compile each task's templates before its
    first worker forks. Returns the memo, or None when this ansible-core's internals
    differ from those it was written for (then nothing is changed)."""
    if "memo" in _installed:
        return _installed["memo"]
    try:
        internals = _Internals()
        strategy = importlib.import_module("ansible.plugins.strategy")
        queue_task = strategy.StrategyBase._queue_task
    except (ImportError, AttributeError):
        return None
    if internals.debuggable:
        return None  # template debugging writes a source file per compile
    memo = CompileMemo(internals.AnsibleTemplate, internals.AnsibleTemplateExpression)
    engine = internals.TemplateEngine
    engine._compile_template = memo.wrap("template", internals.compile_template)
    engine._compile_expression = memo.wrap("expression", internals.compile_expression)
    precompilers = {}

    def queue_task_compiled(self, host, task, task_vars, play_context):
        # One per base directory: a play of another directory gets its own environment.
        where = (id(self._loader), self._loader.get_basedir())
        precompiler = precompilers.get(where)
        if precompiler is None:
            precompiler = precompilers[where] = Precompiler(internals, self._loader)
        try:
            precompiler.task(task, task_vars)
        except Exception:  # pylint: disable=broad-except  # the worker compiles as before
            pass
        return queue_task(self, host, task, task_vars, play_context)

    strategy.StrategyBase._queue_task = queue_task_compiled
    _installed["memo"] = memo
    return memo
