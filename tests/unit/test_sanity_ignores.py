# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validate-modules runner's ignore file: every line names a code and says why."""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.tests.sanity.validate_modules import read_ignores, targets


def test_an_entry_needs_a_code_and_a_reason(tmp_path):
    path = tmp_path / "ignore.txt"
    path.write_text("# a comment\n\n"
                    "plugins/filter/* validate-modules:invalid-documentation:DOCUMENTATION.positional # why\n"
                    "plugins/modules/a.py validate-modules:import-error\n"
                    "plugins/modules/b.py pep8:E501 # another test\n")
    ignores, problems = read_ignores(str(path))
    assert ignores == [(3, "plugins/filter/*", "invalid-documentation", "DOCUMENTATION.positional")]
    assert problems == [
        "%s:4: want '<path> validate-modules:<code>[:<message prefix>]  # why', got "
        "'plugins/modules/a.py validate-modules:import-error'" % path,
        "%s:5: want '<path> validate-modules:<code>[:<message prefix>]  # why', got "
        "'plugins/modules/b.py pep8:E501 # another test'" % path,
    ]


def test_a_missing_ignore_file_ignores_nothing(tmp_path):
    assert read_ignores(str(tmp_path / "none.txt")) == ([], [])


def test_every_module_filter_doc_and_callback_is_a_target(monkeypatch, tmp_path):
    for name in ("plugins/modules/m.py", "plugins/filter/multi.py", "plugins/filter/one.yml",
                 "plugins/filter/single.py", "plugins/filter/both.py", "plugins/filter/both.yml",
                 "plugins/callback/c.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "plugins/filter/single.py").write_text('"""f"""\n\nDOCUMENTATION = """name: single"""\n')
    (tmp_path / "plugins/filter/both.py").write_text('"""f"""\n\nDOCUMENTATION = """name: both"""\n')
    monkeypatch.chdir(tmp_path)
    assert targets() == {
        "module": ["plugins/modules/m.py"],
        "filter": ["plugins/filter/both.yml", "plugins/filter/one.yml", "plugins/filter/single.py"],
        "callback": ["plugins/callback/c.py"],
    }
