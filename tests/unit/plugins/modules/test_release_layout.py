# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release module's shared paths and retention (keep/protect), on real directories."""

from __future__ import annotations

import os

import pytest
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.test_release import (
    Host,
    fail,
    release_members,
    run,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.release_fixtures import member

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def install(host, version, slot="blue", **extra):
    host.artifact(version)
    return run(host.args(version, slot=slot, **extra))


# ------------------------------------------------------------------- shared paths


def test_shared_paths_are_linked_before_the_slot_switches_and_survive_releases(host):
    first = install(host, "1.0.0", shared=["uploads", "var/cache"])
    assert first["changed"] and len(first["shared_linked"]) == 2
    shared = os.path.join(host.root, "shared", "uploads")
    assert os.readlink(os.path.join(host.release_dir("1.0.0"), "uploads")) == shared
    assert os.path.isdir(os.path.join(host.root, "shared", "var", "cache"))
    with open(os.path.join(host.link("blue"), "uploads", "kept.txt"), "w") as handle:
        handle.write("data")
    second = install(host, "2.0.0", slot="green", shared=["uploads", "var/cache"])
    assert os.path.exists(os.path.join(host.link("green"), "uploads", "kept.txt"))
    assert second["shared_linked"] == [os.path.join(host.release_dir("2.0.0"), p) for p in ("uploads", "var/cache")]
    again = run(host.args("2.0.0", slot="green", shared=["uploads", "var/cache"]))
    assert again["changed"] is False and again["shared_linked"] == []


def test_shared_path_added_to_an_installed_release_is_linked(host):
    install(host, "1.0.0")
    result = run(host.args("1.0.0", shared=["uploads"]))
    assert result["changed"] and result["unpacked"] is False
    assert os.path.islink(os.path.join(host.release_dir("1.0.0"), "uploads"))


def test_shared_links_in_check_mode_are_predicted_not_made(host):
    install(host, "1.0.0")
    before = host.tree()
    result = run(host.args("1.0.0", shared=["uploads"]), check_mode=True)
    assert result["changed"] and result["shared_linked"] == [os.path.join(host.release_dir("1.0.0"), "uploads")]
    assert host.tree() == before


def test_release_that_ships_a_shared_path_is_refused(host):
    members = release_members("1.0.0") + [member("uploads/readme.txt", data=b"x")]
    host.artifact("1.0.0", members)
    result = fail(host.args("1.0.0", shared=["uploads"]))
    assert "ships uploads itself" in result["msg"]
    assert not os.path.lexists(host.link("blue"))  # the slot was not switched


@pytest.mark.parametrize("shared, message", [
    (["/data"], "shared[0]: '/data' must be relative to the release, not absolute"),
    (["../data"], "shared[0]: '../data' must stay inside the release (no '..')"),
    (["data", "./data"], "shared[1]: './data' is listed twice"),
    (["var", "var/cache"], "shared[1]: 'var/cache' overlaps another shared path"),
    ([" "], "shared[0]: ' ' must be a non-empty relative path"),
])
def test_bad_shared_paths_are_refused_before_anything_changes(host, shared, message):
    host.artifact("1.0.0")
    before = host.tree()
    assert fail(host.args("1.0.0", shared=shared))["msg"] == message
    assert host.tree() == before


# ---------------------------------------------------------------------- retention


def test_keep_removes_old_unlinked_releases_and_never_a_protected_one(host):
    for version, slot in (("1.0.0", "blue"), ("2.0.0", "green"), ("3.0.0", "blue"), ("4.0.0", "green")):
        install(host, version, slot=slot)
    # Links: blue -> 3.0.0, green -> 4.0.0. 1.0.0 is the ledger's last good release.
    preview = run(host.args("4.0.0", slot="green", keep=1, protect=["1.0.0"]),
                  check_mode=True)
    assert preview["pruned"] == ["2.0.0"] and "not protected" in preview["pruned_reasons"]["2.0.0"]
    assert os.path.isdir(host.release_dir("2.0.0"))
    result = run(host.args("4.0.0", slot="green", keep=1, protect=["1.0.0"]))
    assert result["changed"] and result["pruned"] == ["2.0.0"]
    remaining = sorted(os.listdir(os.path.join(host.root, "releases")))
    assert remaining == ["1.0.0", "3.0.0", "4.0.0"]


def test_keep_counts_the_slot_with_its_new_target(host):
    install(host, "1.0.0", slot="blue")
    install(host, "2.0.0", slot="green")
    host.artifact("3.0.0")
    # green moves from 2.0.0 to 3.0.0: 2.0.0 loses its link in this very run.
    preview = run(host.args("3.0.0", slot="green", keep=1), check_mode=True)
    assert preview["pruned"] == ["2.0.0"]
    result = run(host.args("3.0.0", slot="green", keep=1))
    assert result["pruned"] == ["2.0.0"]
    assert sorted(os.listdir(os.path.join(host.root, "releases"))) == ["1.0.0", "3.0.0"]


@pytest.mark.parametrize("extra, message", [
    ({"keep": 0}, "keep: 0 must be a whole number of 1 or more (the release being installed counts)"),
    ({"keep": 2, "protect": ["latest"]}, "protect[0]"),
    ({"state": "absent", "slot": None, "keep": 2}, "shared, keep: only used with state=present"),
])
def test_bad_retention_is_refused_and_nothing_is_removed(host, extra, message):
    install(host, "1.0.0")
    install(host, "2.0.0", slot="green")
    before = host.tree()
    args = host.args("2.0.0", slot="green")
    args.update(extra)
    if args.get("slot") is None:
        args.pop("slot", None)
    assert message in fail(args)["msg"]
    assert host.tree() == before
