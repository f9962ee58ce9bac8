# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the release module on real temporary directories and real tarballs."""

from __future__ import annotations

import os
import tarfile

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import sha256_file
from ansible_collections.fleetops.lifecycle.plugins.module_utils.release import MARKER
from ansible_collections.fleetops.lifecycle.plugins.modules import release
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.release_fixtures import make_tarball, member, tree

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


def release_members(version):
    return [
        member("app.py", data=b"print('demo %s')\n" % version.encode(), mode=0o755),
        member("release.json", data=b'{"name": "demo-service", "version": "%s"}\n' % version.encode()),
    ]


class Host(object):
    """A service root and an artifacts directory under a temporary directory."""

    def __init__(self, base):
        self.base = str(base)
        self.root = os.path.join(self.base, "opt", "demo")
        self.artifacts = os.path.join(self.base, "artifacts")
        os.makedirs(self.root)
        os.makedirs(self.artifacts)
        self.checksums = {}

    def artifact(self, version, members=None):
        path = os.path.join(self.artifacts, "demo-service-%s.tar.gz" % version)
        self.checksums[version] = make_tarball(path, members or release_members(version))
        return path

    def args(self, version="1.0.0", slot="blue", **extra):
        args = dict(root=self.root, version=version)
        if version in self.checksums:
            args.update(artifact=os.path.join(self.artifacts, "demo-service-%s.tar.gz" % version),
                        checksum=self.checksums[version])
        if slot:
            args["slot"] = slot
        args.update(extra)
        return args

    def release_dir(self, version):
        return os.path.join(self.root, "releases", version)

    def link(self, slot="blue"):
        return os.path.join(self.root, "current-" + slot)

    def tree(self):
        return tree(self.base)


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def run(args, **kwargs):
    return run_module(release.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run(args, **kwargs)
    return info.value.result


# ------------------------------------------------------------------- present


def test_fresh_install_unpacks_and_links_the_slot(host):
    host.artifact("1.0.0")
    result = run(host.args())
    release_dir = host.release_dir("1.0.0")
    assert result == dict(
        changed=True, release_dir=release_dir, unpacked=True, replaced_incomplete=False,
        removed=False, leftovers_removed=[], slot="blue", link_before=None,
        link_after=release_dir, checksum=host.checksums["1.0.0"],
        artifact_missing_in_check_mode=False, shared_linked=[], pruned=[], pruned_reasons={},
    )
    assert os.readlink(host.link()) == release_dir
    assert os.path.isabs(os.readlink(host.link()))
    assert sorted(os.listdir(release_dir)) == [MARKER, "app.py", "release.json"]
    with open(os.path.join(release_dir, MARKER)) as handle:
        assert handle.read().strip() == host.checksums["1.0.0"]
    assert sorted(os.listdir(host.root)) == ["current-blue", "releases"]
    assert os.listdir(os.path.join(host.root, "releases")) == ["1.0.0"]


def test_second_run_changes_nothing(host):
    host.artifact("1.0.0")
    run(host.args())
    before = host.tree()
    result = run(host.args())
    assert result["changed"] is False
    assert result["unpacked"] is False
    assert result["link_before"] == result["link_after"] == host.release_dir("1.0.0")
    assert result["checksum"] == host.checksums["1.0.0"]
    assert host.tree() == before


def test_a_complete_release_needs_no_artifact(host):
    host.artifact("1.0.0")
    run(host.args(slot=None))
    os.unlink(os.path.join(host.artifacts, "demo-service-1.0.0.tar.gz"))
    result = run(dict(root=host.root, version="1.0.0", slot="green"))
    assert result["changed"] is True and result["unpacked"] is False
    assert os.readlink(host.link("green")) == host.release_dir("1.0.0")
    assert result["checksum"] == host.checksums["1.0.0"]


def test_without_slot_no_link_is_made(host):
    host.artifact("1.0.0")
    result = run(host.args(slot=None))
    assert result["changed"] is True
    assert result["slot"] is None and result["link_before"] is None and result["link_after"] is None
    assert sorted(os.listdir(host.root)) == ["releases"]


def test_atomic_link_replacement_between_releases(host):
    host.artifact("1.0.0")
    host.artifact("2.0.0")
    run(host.args("1.0.0"))
    result = run(host.args("2.0.0"))
    assert result["changed"] is True and result["unpacked"] is True
    assert result["link_before"] == host.release_dir("1.0.0")
    assert result["link_after"] == host.release_dir("2.0.0")
    assert os.readlink(host.link()) == host.release_dir("2.0.0")
    # the link was replaced by rename: no temporary names are left in root
    assert sorted(os.listdir(host.root)) == ["current-blue", "releases"]
    # and back (rollback to a kept release) without the artifact
    result = run(dict(root=host.root, version="1.0.0", slot="blue"))
    assert (result["changed"], result["unpacked"]) == (True, False)
    assert os.readlink(host.link()) == host.release_dir("1.0.0")


def test_a_relative_link_is_rewritten_absolute(host):
    host.artifact("1.0.0")
    run(host.args(slot=None))
    os.symlink("releases/1.0.0", host.link())
    result = run(host.args())
    assert result["changed"] is True
    assert result["link_before"] == "releases/1.0.0"
    assert os.readlink(host.link()) == host.release_dir("1.0.0")


def test_interrupted_unpack_is_redone(host):
    host.artifact("1.0.0")
    partial = host.release_dir("1.0.0")
    os.makedirs(partial)
    with open(os.path.join(partial, "app.py"), "w") as handle:
        handle.write("print('half")
    leftover = os.path.join(host.root, "releases", ".tmp-1.0.0-0badc0de")
    os.makedirs(os.path.join(leftover, "lib"))
    result = run(host.args())
    assert result["changed"] is True
    assert result["unpacked"] is True and result["replaced_incomplete"] is True
    assert result["leftovers_removed"] == [leftover]
    with open(os.path.join(partial, "app.py"), "rb") as handle:
        assert handle.read() == b"print('demo 1.0.0')\n"
    assert os.path.isfile(os.path.join(partial, MARKER))
    assert os.listdir(os.path.join(host.root, "releases")) == ["1.0.0"]
    assert run(host.args())["changed"] is False


def test_a_linked_interrupted_release_keeps_its_link(host):
    host.artifact("1.0.0")
    os.makedirs(host.release_dir("1.0.0"))
    os.symlink(host.release_dir("1.0.0"), host.link())
    result = run(host.args())
    assert result["changed"] is True and result["replaced_incomplete"] is True
    assert result["link_before"] == result["link_after"]
    assert os.path.isfile(os.path.join(host.link(), "app.py"))


# ---------------------------------------------------------------- check mode


def test_check_mode_predicts_and_touches_nothing(host):
    host.artifact("1.0.0")
    before = host.tree()
    predicted = run(host.args(), check_mode=True)
    assert host.tree() == before
    assert predicted["changed"] is True and predicted["unpacked"] is True
    assert predicted["link_before"] is None
    assert predicted["link_after"] == host.release_dir("1.0.0")
    assert predicted["artifact_missing_in_check_mode"] is False
    assert run(host.args()) == predicted


def test_check_mode_predicts_a_slot_switch_exactly(host):
    host.artifact("1.0.0")
    host.artifact("2.0.0")
    run(host.args("1.0.0"))
    run(host.args("2.0.0", slot="green"))
    before = host.tree()
    predicted = run(host.args("2.0.0"), check_mode=True, diff=True)
    assert host.tree() == before
    assert predicted["changed"] is True and predicted["unpacked"] is False
    assert predicted["link_before"] == host.release_dir("1.0.0")
    assert predicted["link_after"] == host.release_dir("2.0.0")
    assert run(host.args("2.0.0"), diff=True) == predicted
    converged = run(host.args("2.0.0"), check_mode=True)
    assert converged["changed"] is False


def test_check_mode_with_the_artifact_not_copied_yet(host):
    args = dict(root=host.root, version="1.0.0", slot="blue",
                artifact=os.path.join(host.artifacts, "demo-service-1.0.0.tar.gz"),
                checksum="ab" * 32)
    before = host.tree()
    result = run(args, check_mode=True)
    assert host.tree() == before
    assert result["changed"] is True and result["unpacked"] is True
    assert result["artifact_missing_in_check_mode"] is True
    assert result["checksum"] == "ab" * 32
    assert "warnings" not in result


def test_check_mode_still_verifies_an_existing_artifact(host):
    host.artifact("1.0.0")
    before = host.tree()
    result = fail(host.args(checksum="00" * 32), check_mode=True)
    assert result["msg"].startswith("checksum: ")
    assert host.tree() == before


def test_check_mode_on_an_interrupted_unpack_touches_nothing(host):
    host.artifact("1.0.0")
    os.makedirs(host.release_dir("1.0.0"))
    os.makedirs(os.path.join(host.root, "releases", ".tmp-1.0.0-0badc0de"))
    before = host.tree()
    result = run(host.args(), check_mode=True)
    assert host.tree() == before
    assert result["replaced_incomplete"] is True
    assert result["leftovers_removed"] == [os.path.join(host.root, "releases", ".tmp-1.0.0-0badc0de")]


# ----------------------------------------------------------------- diff mode


def test_diff_shows_release_and_link_before_and_after(host):
    host.artifact("1.0.0")
    host.artifact("2.0.0")
    run(host.args("1.0.0"))
    result = run(host.args("2.0.0"), diff=True)
    assert result["diff"] == dict(
        before=dict(release_dir=host.release_dir("2.0.0"), release="absent",
                    link=host.link(), link_target=host.release_dir("1.0.0")),
        after=dict(release_dir=host.release_dir("2.0.0"), release="complete",
                   link=host.link(), link_target=host.release_dir("2.0.0")),
    )
    again = run(host.args("2.0.0"), diff=True)
    assert again["diff"]["before"] == again["diff"]["after"] == result["diff"]["after"]


def test_diff_without_slot_shows_the_release_only(host):
    host.artifact("1.0.0")
    result = run(host.args(slot=None), diff=True)
    assert result["diff"] == dict(
        before=dict(release_dir=host.release_dir("1.0.0"), release="absent"),
        after=dict(release_dir=host.release_dir("1.0.0"), release="complete"),
    )


# --------------------------------------------------------- verification first


def test_checksum_mismatch_names_both_values_and_writes_nothing(host):
    host.artifact("1.0.0")
    before = host.tree()
    wrong = "0" * 64
    result = fail(host.args(checksum=wrong))
    computed = host.checksums["1.0.0"]
    assert result["msg"].startswith("checksum: ")
    assert wrong in result["msg"] and computed in result["msg"]
    assert result["expected_checksum"] == wrong
    assert result["computed_checksum"] == computed
    assert host.tree() == before


BAD_ARCHIVES = {
    "dotdot": (member("../evil", data=b"x"), "../evil (path contains '..')"),
    "absolute": (member("/etc/x", data=b"x"), "/etc/x (absolute path)"),
    "symlink-to-etc": (member("etc", tarfile.SYMTYPE, linkname="/etc"),
                       "etc (symbolic link to the absolute path /etc)"),
    "device": (member("console", tarfile.CHRTYPE), "console (device node)"),
    "hardlink-outside": (member("shadow", tarfile.LNKTYPE, linkname="/etc/shadow"),
                         "shadow (hard link to /etc/shadow outside the release directory (absolute path))"),
    "hardlink-dotdot": (member("up", tarfile.LNKTYPE, linkname="../../../etc/passwd"),
                        "up (hard link to ../../../etc/passwd outside the release directory (path contains '..'))"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_unsafe_members_are_refused_by_name_and_nothing_is_written(host, case):
    bad, text = BAD_ARCHIVES[case]
    host.artifact("1.0.0", release_members("1.0.0") + [bad])
    before = host.tree()
    result = fail(host.args())
    assert result["msg"].startswith("artifact: %s has unsafe members, nothing was unpacked: "
                                    % host.args()["artifact"])
    assert text in result["msg"]
    assert result["unsafe_members"] == [dict(name=bad[0].name, reason=text[len(bad[0].name) + 2:-1])]
    assert host.tree() == before
    assert not os.path.exists(os.path.join(host.base, "evil"))


def test_a_corrupt_artifact_is_reported_not_raised(host):
    path = os.path.join(host.artifacts, "demo-service-1.0.0.tar.gz")
    with open(path, "wb") as handle:
        handle.write(b"not a tarball at all")
    result = fail(dict(root=host.root, version="1.0.0", artifact=path, checksum=sha256_file(path)))
    assert result["msg"].startswith("artifact: %s is not a readable tar archive" % path)
    assert not os.path.exists(host.release_dir("1.0.0"))


def test_same_version_with_other_content_is_refused(host):
    host.artifact("1.0.0")
    run(host.args())
    host.artifact("1.0.0", release_members("1.0.0") + [member("extra", data=b"y")])
    before = host.tree()
    result = fail(host.args())
    assert result["msg"].startswith("checksum: %s differs from the sha256 " % host.checksums["1.0.0"])
    assert host.tree() == before


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("args, message", [
    (dict(version="1.0"), "version: '1.0' is not a release version"),
    (dict(version="../1.0.0"), "version: '../1.0.0' is not a release version"),
    (dict(slot="../x"), "slot: '../x' is not a slot name"),
    (dict(checksum="abc", artifact="/x.tar.gz"), "checksum: 'abc' is not a sha256 checksum"),
    (dict(root="opt/demo"), "root: 'opt/demo' must be an absolute path"),
    (dict(state="absent", slot="blue"), "slot: 'blue' is only used with state=present"),
    (dict(artifact="/x.tar.gz"), "parameters are required together: artifact, checksum"),
    (dict(state="gone"), "value of state must be one of: present, absent, got: gone"),
])
def test_bad_options_are_named(host, args, message):
    base = dict(root=host.root, version="1.0.0")
    result = fail(dict(base, **args))
    assert result["msg"].startswith(message)


def test_unpacked_release_needed_without_artifact(host):
    result = fail(dict(root=host.root, version="1.0.0", slot="blue"))
    assert result["msg"] == (
        "artifact: required because release 1.0.0 is not unpacked in %s/releases" % host.root)


def test_missing_artifact_outside_check_mode(host):
    path = os.path.join(host.artifacts, "nope.tar.gz")
    result = fail(dict(root=host.root, version="1.0.0", artifact=path, checksum="ab" * 32))
    assert result["msg"] == "artifact: %s does not exist on the host" % path


def test_a_directory_in_the_slot_link_place_is_refused(host):
    host.artifact("1.0.0")
    os.makedirs(host.link())
    before = host.tree()
    result = fail(host.args(), check_mode=True)
    assert result["msg"].startswith("slot: the link of slot blue, %s, exists and is not a symbolic link"
                                    % host.link())
    assert host.tree() == before


# --------------------------------------------------------------------- absent


def test_absent_refuses_a_linked_release_naming_the_slot(host):
    host.artifact("1.0.0")
    run(host.args())
    before = host.tree()
    for check_mode in (True, False):
        result = fail(dict(root=host.root, version="1.0.0", state="absent"), check_mode=check_mode)
        assert "in use by slot blue (%s)" % host.link() in result["msg"]
        assert result["msg"].startswith("version: release 1.0.0 (%s)" % host.release_dir("1.0.0"))
        assert result["slots"] == ["blue"]
    assert host.tree() == before


def test_absent_sees_a_relative_link_too(host):
    host.artifact("1.0.0")
    run(host.args(slot=None))
    os.symlink("releases/1.0.0", host.link("green"))
    result = fail(dict(root=host.root, version="1.0.0", state="absent"))
    assert result["slots"] == ["green"]


def test_absent_removes_an_unlinked_release(host):
    host.artifact("1.0.0")
    host.artifact("2.0.0")
    run(host.args("1.0.0"))
    run(host.args("2.0.0"))
    args = dict(root=host.root, version="1.0.0", state="absent")
    before = host.tree()
    predicted = run(args, check_mode=True, diff=True)
    assert host.tree() == before
    assert predicted["changed"] is True and predicted["removed"] is True
    assert predicted["diff"] == dict(
        before=dict(release_dir=host.release_dir("1.0.0"), release="complete"),
        after=dict(release_dir=host.release_dir("1.0.0"), release="absent"),
    )
    assert run(args, diff=True) == predicted
    assert os.listdir(os.path.join(host.root, "releases")) == ["2.0.0"]
    again = run(args)
    assert again["changed"] is False and again["removed"] is False
