# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config_files module on a real temporary directory: files and directories made to
match, idempotence, check mode, diff, links and other planted things refused, a failed
validate leaving the file as it was, and each bad option named with its value."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.module_utils import config_files
from ansible_collections.fleetops.lifecycle.plugins.modules import config_files as module
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(args, expect_failure=False, **kwargs):
    if not expect_failure:
        return run_module(module.main, args, **kwargs)
    with pytest.raises(AnsibleFailJson) as info:
        run_module(module.main, args, **kwargs)
    return info.value.result


def test_the_documented_options_are_the_argument_spec():
    assert_options_match_spec(yaml.safe_load(module.DOCUMENTATION)["options"], module.ARGUMENT_SPEC)


def a_file(path, content, mode="0644", **extra):
    return dict(path=str(path), content=content, owner=USER, group=GROUP, mode=mode, **extra)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(directory):
    return [name for name in os.listdir(directory) if ".fleetops-" in name]


def test_writes_files_and_directories_then_changes_nothing(tmp_path):
    drop_ins = tmp_path / "shop@.service.d"
    args = dict(directories=[dict(path=str(drop_ins), owner=USER, group=GROUP, mode="0750")],
                files=[a_file(tmp_path / "shop.ini", "[server]\nport = 8081\n", mode="0640"),
                       a_file(drop_ins / "50-limits.conf", "[Service]\nCPUQuota=50%\n")])
    first = run(args)
    assert first["changed"] is True
    assert first["changed_paths"] == [str(drop_ins), str(tmp_path / "shop.ini"), str(drop_ins / "50-limits.conf")]
    assert (tmp_path / "shop.ini").read_text() == "[server]\nport = 8081\n"
    assert mode_of(tmp_path / "shop.ini") == 0o640
    assert mode_of(drop_ins) == 0o750
    assert (drop_ins / "50-limits.conf").read_text() == "[Service]\nCPUQuota=50%\n"
    again = run(args)
    assert again["changed"] is False and again["changed_paths"] == []
    assert leftovers(tmp_path) == [] and leftovers(drop_ins) == []


def test_an_unquoted_yaml_mode_is_the_mode_itself(tmp_path):
    # `mode: 0640` unquoted reaches the module as the integer 416, which is 0o640.
    target = tmp_path / "shop.ini"
    run(dict(files=[a_file(target, "x\n", mode=0o640)], directories=[
        dict(path=str(tmp_path / "d"), mode=0o750, owner=USER, group=GROUP)]))
    assert mode_of(target) == 0o640 and mode_of(tmp_path / "d") == 0o750


def test_a_changed_file_is_replaced_whole_and_shown_in_the_diff(tmp_path):
    target = tmp_path / "shop.ini"
    target.write_text("port = 1\n")
    inode = os.stat(target).st_ino
    result = run(dict(files=[a_file(target, "port = 2\n")]), diff=True)
    assert result["changed_paths"] == [str(target)]
    assert result["diff"] == [dict(before_header=str(target), after_header=str(target), before="port = 1\n",
                                   after="port = 2\n")]
    assert target.read_text() == "port = 2\n"
    assert os.stat(target).st_ino != inode  # renamed over, never rewritten in place


def test_a_longer_or_shorter_old_file_is_not_taken_for_the_same(tmp_path):
    target = tmp_path / "a.env"
    target.write_text("PORT=80810\n")
    assert run(dict(files=[a_file(target, "PORT=8081\n")]))["changed"] is True
    target.write_text("PORT=808\n")
    assert run(dict(files=[a_file(target, "PORT=8081\n")]))["changed"] is True
    assert target.read_text() == "PORT=8081\n"


def test_a_secret_file_is_written_after_the_files_and_never_shown(tmp_path):
    config, secret = tmp_path / "shop.ini", tmp_path / "shop.env"
    secret.write_text("TOKEN=old-secret\n")
    args = dict(files=[a_file(config, "port = 2\n")],
                secret_files=[dict(path=str(secret), content="TOKEN=new-secret\n", owner=USER, group=GROUP,
                                   mode="0600")])
    for check_mode in (True, False):
        result = run(args, diff=True, check_mode=check_mode)
        assert result["changed_paths"] == [str(config), str(secret)]
        assert "TOKEN" not in repr(result)
        assert result["diff"][1] == dict(before_header=str(secret), after_header=str(secret),
                                         before="(secret content, not shown)\n",
                                         after="(new secret content, not shown)\n")
    assert secret.read_text() == "TOKEN=new-secret\n" and mode_of(secret) == 0o600
    assert run(args, diff=True) == dict(changed=False, changed_paths=[], diff=[])
    # A new secret file in a directory check mode would make first is not shown either.
    fresh = tmp_path / "new.d" / "shop.env"
    result = run(dict(directories=[dict(path=str(fresh.parent), mode="0755", owner=USER, group=GROUP)],
                      secret_files=[dict(path=str(fresh), content="TOKEN=s3\n", mode="0600")]),
                 check_mode=True, diff=True)
    assert result["diff"][0]["after"] == "(new secret content, not shown)\n" and "s3" not in repr(result)


def test_the_secret_content_is_a_no_log_option():
    assert module.ARGUMENT_SPEC["secret_files"]["options"]["content"]["no_log"] is True


def test_only_the_mode_is_fixed_when_the_content_matches(tmp_path):
    target = tmp_path / "a.env"
    target.write_text("PORT=8081\n")
    os.chmod(target, 0o600)
    inode = os.stat(target).st_ino
    result = run(dict(files=[a_file(target, "PORT=8081\n")]), diff=True)
    assert result["changed"] is True and result["diff"] == []
    assert mode_of(target) == 0o644 and os.stat(target).st_ino == inode


def test_check_mode_reports_the_change_and_the_diff_and_writes_nothing(tmp_path):
    target = tmp_path / "shop.ini"
    target.write_text("old\n")
    drop_ins = tmp_path / "new.d"
    result = run(dict(directories=[dict(path=str(drop_ins), mode="0755", owner=USER, group=GROUP)],
                      files=[a_file(target, "new\n"), a_file(drop_ins / "x.conf", "x\n")],
                      absent=[str(tmp_path / "gone.conf")]),
                 check_mode=True, diff=True)
    assert result["changed_paths"] == [str(drop_ins), str(target), str(drop_ins / "x.conf")]
    assert [d["after"] for d in result["diff"]] == ["new\n", "x\n"]
    assert target.read_text() == "old\n" and not drop_ins.exists()


def test_check_mode_takes_an_owner_not_made_yet_as_a_change(tmp_path):
    # On a new host the service user is only predicted by an earlier task in check mode.
    target = tmp_path / "shop.ini"
    target.write_text("same\n")
    entry = dict(a_file(target, "same\n"), owner="no-such-user-fleetops", group="no-such-group-fleetops")
    directory = dict(path=str(tmp_path / "d"), mode="0755", owner="no-such-user-fleetops")
    result = run(dict(files=[entry], directories=[directory]), check_mode=True)
    assert result["changed_paths"] == [str(tmp_path / "d"), str(target)]
    failed = run(dict(files=[entry]), expect_failure=True)
    assert failed["msg"] == "files[0].owner: no user 'no-such-user-fleetops' on this host"


def test_check_mode_predicts_nested_directories_an_earlier_entry_would_make(tmp_path):
    # A new host: the service root does not exist yet, so neither does releases/ under it.
    root = tmp_path / "opt" / "shop"
    dirs = [dict(path=str(root.parent), mode="0755", owner=USER), dict(path=str(root), mode="0755", owner=USER),
            dict(path=str(root / "releases"), mode="0755", owner=USER)]
    result = run(dict(directories=dirs), check_mode=True)
    assert result["changed_paths"] == [str(root.parent), str(root), str(root / "releases")]
    assert not root.parent.exists()
    made = run(dict(directories=dirs))
    assert made["changed_paths"] == result["changed_paths"] and (root / "releases").is_dir()
    missing = tmp_path / "missing" / "d"
    failed = run(dict(directories=[dict(path=str(missing), mode="0755")]), expect_failure=True)
    assert failed["msg"] == "directories[0].path: the directory holding %s does not exist" % missing


def test_absent_removes_a_file_and_a_missing_one_is_no_change(tmp_path):
    target = tmp_path / "50-limits.conf"
    target.write_text("[Service]\n")
    assert run(dict(absent=[str(target)]))["changed_paths"] == [str(target)]
    assert not target.exists()
    assert run(dict(absent=[str(target), str(tmp_path / "missing" / "x")]))["changed"] is False


def test_a_link_where_the_file_is_expected_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "shop.ini").symlink_to(victim)
    result = run(dict(files=[a_file(tmp_path / "shop.ini", "evil\n")]), expect_failure=True)
    assert result["msg"] == ("files[0].path: %s is a symbolic link; it is never written through"
                             % (tmp_path / "shop.ini"))
    assert victim.read_text() == "keep\n" and os.path.islink(tmp_path / "shop.ini")


def test_a_fifo_or_directory_where_the_file_is_expected_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name in ("fifo", "dir"):
        result = run(dict(files=[a_file(tmp_path / name, "x\n")]), expect_failure=True)
        assert result["msg"] == "files[0].path: %s exists and is not a regular file" % (tmp_path / name)


def test_a_link_where_a_directory_is_expected_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    os.chmod(tmp_path / "real", 0o755)
    (tmp_path / "drop.d").symlink_to(tmp_path / "real")
    result = run(dict(directories=[dict(path=str(tmp_path / "drop.d"), mode="0700", owner=USER, group=GROUP)]),
                 expect_failure=True)
    assert result["msg"] == ("directories[0].path: %s exists and is not a directory (a link is never followed)"
                             % (tmp_path / "drop.d"))
    assert mode_of(tmp_path / "real") == 0o755  # the link's target keeps its own mode
    assert os.path.islink(tmp_path / "drop.d")


def test_a_failed_validate_leaves_the_file_as_it_was_and_no_temp_file(tmp_path):
    target = tmp_path / "shop.ini"
    target.write_text("good\n")
    checker = tmp_path / "check.sh"
    checker.write_text("#!/bin/sh\ngrep -q good \"$1\" || { echo \"bad config in $1\"; exit 3; }\n")
    checker.chmod(0o755)
    result = run(dict(files=[a_file(target, "bad\n", validate="%s %%s" % checker)]), expect_failure=True)
    assert result["msg"].startswith("files[0].validate: '%s %%s' failed (rc=3) on the new content: bad config in "
                                    % checker)
    assert result["rc"] == 3
    assert target.read_text() == "good\n" and leftovers(tmp_path) == []
    # The same command passes good content through.
    assert run(dict(files=[a_file(target, "good too\n", validate="%s %%s" % checker)]))["changed"] is True
    assert target.read_text() == "good too\n"


def test_a_failure_stops_at_its_entry_leaving_the_later_ones_untouched(tmp_path):
    (tmp_path / "b").symlink_to(tmp_path / "elsewhere")
    files = [a_file(tmp_path / name, name + "\n") for name in ("a", "b", "c")]
    result = run(dict(files=files), expect_failure=True)
    assert result["msg"].startswith("files[1].path:")
    assert (tmp_path / "a").read_text() == "a\n"
    assert not (tmp_path / "c").exists() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("entry, message", [
    (dict(path="relative/shop.ini"), "files[0].path: 'relative/shop.ini' is not an absolute path without '..'"),
    (dict(path="/etc/../tmp/x"), "files[0].path: '/etc/../tmp/x' is not an absolute path without '..'"),
    (dict(mode="644x"), "files[0].mode: '644x' is not an octal file mode such as '0644'"),
    (dict(mode="17777"), "files[0].mode: '17777' is not an octal file mode such as '0644'"),
    (dict(path="/tmp/a\x00b"), "files[0].path: '/tmp/a\\x00b' is not an absolute path without '..'"),
    (dict(validate="/bin/true"), "files[0].validate: '/bin/true' has no %s (where the new content's path goes)"),
    (dict(mode="u=rw"), "files[0].mode: 'u=rw' is not an octal file mode such as '0644'"),
    (dict(mode=-1), "files[0].mode: -1 is not an octal file mode such as '0644'"),
    (dict(mode=True), "files[0].mode: True is not an octal file mode such as '0644'"),
    (dict(owner="no-such-user-fleetops"), "files[0].owner: no user 'no-such-user-fleetops' on this host"),
    (dict(group="no-such-group-fleetops"), "files[0].group: no group 'no-such-group-fleetops' on this host"),
])
def test_a_bad_option_is_named_with_its_value_and_nothing_is_written(tmp_path, entry, message):
    args = a_file(tmp_path / "shop.ini", "x\n")
    args.update(entry)
    result = run(dict(files=[args]), expect_failure=True)
    assert result["msg"] == message
    assert os.listdir(tmp_path) == []


def test_a_missing_directory_is_named(tmp_path):
    result = run(dict(files=[a_file(tmp_path / "missing" / "x.conf", "x\n")]), expect_failure=True)
    assert result["msg"] == "files[0].path: the directory holding %s does not exist" % (tmp_path / "missing" / "x.conf")


def test_a_directory_in_absent_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    result = run(dict(absent=[str(tmp_path / "d")]), expect_failure=True)
    assert result["msg"] == "absent[0]: %s is a directory; only files are removed" % (tmp_path / "d")


def test_a_large_old_file_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(config_files, "DIFF_LIMIT", 16)
    target = tmp_path / "big.conf"
    target.write_text("x" * 1000)
    result = run(dict(files=[a_file(target, "small\n")]), diff=True)
    assert result["diff"][0]["before"] == "(%s: more than 16 bytes, not shown)\n" % target
    assert target.read_text() == "small\n"
