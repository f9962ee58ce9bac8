# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.release: versions, archive safety, planning, retention, I/O.

Real temporary directories and real tarballs made here; no mocks except to make an
unpack fail halfway.
"""

from __future__ import annotations

import os
import posixpath
import random
import stat
import tarfile
import threading

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import release
from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import unsafe_members as _unsafe
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import sha256_file
from ansible_collections.fleetops.lifecycle.plugins.module_utils.release import (
    MARKER,
    ReleaseError,
    atomic_symlink,
    find_leftovers,
    install_release,
    list_releases,
    observe,
    parse_request,
    plan_release,
    prunable_releases,
    release_status,
    sort_versions,
    validate_checksum,
    validate_slot,
    validate_version,
    version_key,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.release_fixtures import make_tarball, member, tree
from hypothesis import assume, given, settings
from hypothesis import strategies as st

# ----------------------------------------------------------------------- helpers


GOOD = [
    member("app.py", data=b"print('hello')\n", mode=0o755),
    member("release.json", data=b'{"version": "1.0.0"}\n'),
    member("lib", tarfile.DIRTYPE, mode=0o755),
    member("lib/util.py", data=b"X = 1\n", mode=0o4777),
    member("lib/current", tarfile.SYMTYPE, linkname="util.py"),
    member("lib/again.py", tarfile.LNKTYPE, linkname="lib/util.py"),
]


def request(root, **overrides):
    params = dict(root=str(root), version="1.0.0", artifact=None, checksum=None, slot=None,
                  state="present")
    params.update(overrides)
    return parse_request(params)


# --------------------------------------------------------------------- versions

VALID = ["0.0.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-beta", "1.0.0+build.7",
         "1.0.0-0.3.7", "01.2.3"]
INVALID = ["", "1", "1.2", "v1.2.3", "1.2.3-", "1.2.3+", "1.2.3\n", "1.2.3-rc+b",
           "../1.2.3", "1.2.3/..", "1.2.3 ", " 1.2.3", "1.2.3-rc_1", None, 123, ["1.0.0"]]


@pytest.mark.parametrize("version", VALID)
def test_valid_versions(version):
    assert validate_version(version) == version


@pytest.mark.parametrize("version", INVALID)
def test_invalid_versions_name_option_and_value(version):
    with pytest.raises(ReleaseError) as info:
        validate_version(version)
    assert str(info.value).startswith("version: %r is not a release version" % (version,))


def test_semver_precedence_example_chain():
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.9.0", "1.10.0", "2.0.0"]
    shuffled = list(chain)
    random.Random(7).shuffle(shuffled)
    assert sort_versions(shuffled) == chain


def test_build_metadata_only_breaks_ties():
    assert version_key("1.0.0+b") > version_key("1.0.0")
    assert version_key("1.0.0+zzz") < version_key("1.0.1")
    assert version_key("1.0.0-rc.1") < version_key("1.0.0+a")


triples = st.tuples(*(st.integers(min_value=0, max_value=10 ** 6),) * 3)
prereleases = st.lists(
    st.one_of(st.integers(min_value=0, max_value=999).map(str),
              st.text("abcxyzABC-", min_size=1, max_size=5)),
    min_size=1, max_size=4,
).map(".".join)


def as_version(triple, pre=None):
    text = "%d.%d.%d" % triple
    return text + "-" + pre if pre else text


@given(triples, triples)
def test_numeric_order_is_tuple_order(a, b):
    assert (version_key(as_version(a)) < version_key(as_version(b))) == (a < b)


@given(triples, prereleases)
def test_a_prerelease_sorts_before_its_release(triple, pre):
    assert version_key(as_version(triple, pre)) < version_key(as_version(triple))


@given(st.lists(st.tuples(triples, st.one_of(st.none(), prereleases)), max_size=12), st.randoms())
def test_sorting_is_total_and_independent_of_input_order(items, rnd):
    versions = [as_version(t, p) for t, p in items]
    shuffled = list(versions)
    rnd.shuffle(shuffled)
    assert sort_versions(shuffled) == sort_versions(versions)


# ---------------------------------------------------------------- other options


def test_checksum_is_normalised():
    digest = "AB" * 32
    assert validate_checksum(digest) == "ab" * 32
    assert validate_checksum(" sha256:" + digest + "\n") == "ab" * 32


@pytest.mark.parametrize("value", ["", "ab" * 31, "zz" * 32, "md5:" + "ab" * 32, None, 5])
def test_bad_checksum_names_option_and_value(value):
    with pytest.raises(ReleaseError, match=r"^checksum: .* is not a sha256 checksum"):
        validate_checksum(value)


@pytest.mark.parametrize("slot", ["", "../x", "a/b", ".hidden", "-x", "blue green", None])
def test_bad_slot_names_option_and_value(slot):
    with pytest.raises(ReleaseError, match=r"^slot: .* is not a slot name"):
        validate_slot(slot)


def test_request_normalises_root_and_rejects_relative(tmp_path):
    assert request(str(tmp_path) + "//")["root"] == str(tmp_path)
    with pytest.raises(ReleaseError, match=r"^root: 'opt/demo' must be an absolute path"):
        request("opt/demo")


def test_slot_is_refused_with_state_absent(tmp_path):
    with pytest.raises(ReleaseError, match=r"^slot: 'blue' is only used with state=present"):
        request(tmp_path, slot="blue", state="absent")


# -------------------------------------------------------------- archive safety


def unsafe_members(members):
    """The release rules of the shared checker (``release.release_checker``) over ``members``."""
    checker = release.release_checker()
    return _unsafe(members, checker.roots, reserved=checker.reserved, label=checker.label, repeat_dirs=True,
                   implied_parents=True)


def names_and_reasons(members):
    return unsafe_members([info for info, _data in members])


def test_a_plain_archive_is_safe():
    assert names_and_reasons(GOOD) == []
    assert names_and_reasons([member("./", tarfile.DIRTYPE), member("./app.py")]) == []


@pytest.mark.parametrize("bad, reason", [
    (member("../evil"), "path contains '..'"),
    (member("a/../../evil"), "path contains '..'"),
    (member("/etc/x"), "absolute path"),
    (member("etc", tarfile.SYMTYPE, linkname="/etc"), "symbolic link to the absolute path /etc"),
    (member("up", tarfile.SYMTYPE, linkname="lib/../../x"),
     "symbolic link to lib/../../x escapes the release directory"),
    (member("empty", tarfile.SYMTYPE, linkname=""), "symbolic link with an empty target"),
    (member("tty", tarfile.CHRTYPE), "device node"),
    (member("sda", tarfile.BLKTYPE), "device node"),
    (member("pipe", tarfile.FIFOTYPE), "FIFO"),
    (member("passwd", tarfile.LNKTYPE, linkname="/etc/passwd"),
     "hard link to /etc/passwd outside the release directory (absolute path)"),
    (member("passwd", tarfile.LNKTYPE, linkname="../../etc/passwd"),
     "hard link to ../../etc/passwd outside the release directory (path contains '..')"),
    (member("ghost", tarfile.LNKTYPE, linkname="nope.py"),
     "hard link to nope.py, which is not a regular file earlier in the archive"),
    (member("tolink", tarfile.LNKTYPE, linkname="lib/current"),
     "hard link to lib/current, which is not a regular file earlier in the archive"),
    (member("lib/current/x.py"), "parent lib/current is a symlink, not a directory"),
    (member("app.py/x"), "parent app.py is a file, not a directory"),
    (member("app.py"), "duplicate member (the path is already in the archive)"),
    (member(MARKER), "%s is reserved for the release marker" % MARKER),
    (member("./" + MARKER), "%s is reserved for the release marker" % MARKER),
    (member("odd", b"V"), "unsupported member type b'V'"),
])
def test_unsafe_members_are_named_with_a_reason(bad, reason):
    info, _data = bad
    assert names_and_reasons(GOOD + [bad]) == [(info.name, reason)]


def test_duplicate_directories_are_fine():
    members = [member("lib", tarfile.DIRTYPE), member("lib/", tarfile.DIRTYPE)]
    assert names_and_reasons(members) == []


def test_a_hard_link_must_point_at_an_earlier_file():
    later = [member("copy", tarfile.LNKTYPE, linkname="file"), member("file")]
    assert names_and_reasons(later) == [
        ("copy", "hard link to file, which is not a regular file earlier in the archive")]


def test_unsafe_members_reads_a_tarfile(tmp_path):
    path = str(tmp_path / "bad.tar.gz")
    make_tarball(path, GOOD + [member("../evil"), member("dev", tarfile.CHRTYPE)])
    with tarfile.open(path) as tar:
        assert unsafe_members(tar.getmembers()) == [("../evil", "path contains '..'"), ("dev", "device node")]


components = st.sampled_from(["a", "b", "..", ".", "", "c.d"])


@given(st.booleans(), st.lists(components, min_size=1, max_size=6))
def test_a_single_file_is_refused_exactly_when_absolute_or_dotdot(absolute, parts):
    name = ("/" if absolute else "") + "/".join(parts)
    assume(name.strip("/.") and posixpath.normpath(name.lstrip("/")) not in (".", MARKER))
    problems = names_and_reasons([member(name)])
    expected = name.startswith("/") or ".." in parts
    assert bool(problems) == expected


@given(st.lists(st.sampled_from(["a", "b"]), max_size=4), st.lists(components, min_size=1, max_size=6))
def test_symlinks_are_refused_exactly_when_they_escape(parent, target_parts):
    target = "/".join(target_parts)
    assume(target)
    name = "/".join(parent + ["link"])
    base = "/x/y/z/R"
    resolved = posixpath.normpath(posixpath.join(base, *parent + [target]))
    escapes = resolved != base and not resolved.startswith(base + "/")
    problems = names_and_reasons([member(name, tarfile.SYMTYPE, linkname=target)])
    assert bool(problems) == escapes


# ------------------------------------------------------------- reading the host


def complete_release(root, version, checksum="ab" * 32, files=None):
    path = os.path.join(str(root), "releases", version)
    os.makedirs(path)
    for name, data in (files or {"app.py": "x"}).items():
        with open(os.path.join(path, name), "w") as handle:
            handle.write(data)
    with open(os.path.join(path, MARKER), "w") as handle:
        handle.write(checksum + "\n")
    return path


def test_release_status(tmp_path):
    root = tmp_path
    assert release_status(str(root / "releases" / "1.0.0")) == ("absent", None)
    path = complete_release(root, "1.0.0")
    assert release_status(path) == ("complete", "ab" * 32)
    os.unlink(os.path.join(path, MARKER))
    assert release_status(path) == ("incomplete", None)
    with open(os.path.join(path, MARKER), "w") as handle:
        handle.write("garbage")
    assert release_status(path) == ("incomplete", None)
    os.symlink(path, str(root / "releases" / "2.0.0"))
    assert release_status(str(root / "releases" / "2.0.0")) == ("other", None)


def test_list_releases_in_version_order_with_slots(tmp_path):
    root = str(tmp_path)
    for version in ("1.10.0", "1.9.0", "1.0.0-rc.1", "1.0.0"):
        complete_release(root, version)
    os.makedirs(os.path.join(root, "releases", "2.0.0"))          # no marker
    os.makedirs(os.path.join(root, "releases", ".tmp-3.0.0-0123abcd"))
    os.makedirs(os.path.join(root, "releases", "not-a-version"))
    os.symlink(os.path.join(root, "releases", "1.9.0"), os.path.join(root, "current-blue"))
    os.symlink("releases/1.9.0", os.path.join(root, "current-green"))
    os.symlink("releases/1.10.0", os.path.join(root, "current"))  # not a slot link
    releases = list_releases(root)
    assert [(r["version"], r["complete"], r["slots"]) for r in releases] == [
        ("1.0.0-rc.1", True, []),
        ("1.0.0", True, []),
        ("1.9.0", True, ["blue", "green"]),
        ("1.10.0", True, []),
        ("2.0.0", False, []),
    ]
    assert releases[0]["path"] == os.path.join(root, "releases", "1.0.0-rc.1")
    assert list_releases(str(tmp_path / "nowhere")) == []


def test_leftovers_match_only_their_version(tmp_path):
    releases = tmp_path / "releases"
    for name in (".tmp-1.0.0-0123abcd", ".old-1.0.0-ffffffff", ".tmp-1.0.0-rc1-0123abcd",
                 ".tmp-1.0.0-xyz", "1.0.0", ".tmp-1.0.01-0123abcd"):
        (releases / name).mkdir(parents=True)
    assert find_leftovers(str(releases), "1.0.0") == [
        str(releases / ".old-1.0.0-ffffffff"), str(releases / ".tmp-1.0.0-0123abcd")]


# -------------------------------------------------------------------- planning


def base_state(**overrides):
    state = dict(
        root="/opt/demo", version="1.0.0", artifact="/a.tar.gz", checksum="ab" * 32,
        slot="blue", state="present", releases_dir="/opt/demo/releases",
        release_dir="/opt/demo/releases/1.0.0", release="absent", marker_checksum=None,
        artifact_exists=True, linked_slots=[], leftovers=[], check_mode=False,
        link_path="/opt/demo/current-blue", link="absent", link_target=None,
    )
    state.update(overrides)
    return state


def test_plan_fresh_install():
    assert plan_release(base_state()) == [
        dict(action="unpack", artifact="/a.tar.gz", checksum="ab" * 32,
             release_dir="/opt/demo/releases/1.0.0", replace=False),
        dict(action="link", path="/opt/demo/current-blue", target="/opt/demo/releases/1.0.0",
             before=None),
    ]


def test_plan_converged_is_empty():
    state = base_state(release="complete", marker_checksum="ab" * 32, link="symlink",
                       link_target="/opt/demo/releases/1.0.0", artifact=None, checksum=None)
    assert plan_release(state) == []


def test_plan_relative_link_is_rewritten_absolute():
    state = base_state(release="complete", marker_checksum="ab" * 32, link="symlink",
                       link_target="releases/1.0.0")
    assert [a["action"] for a in plan_release(state)] == ["link"]


def test_plan_incomplete_release_is_replaced_and_leftovers_removed():
    state = base_state(release="incomplete", leftovers=["/opt/demo/releases/.tmp-1.0.0-00000000"])
    actions = plan_release(state)
    assert [a["action"] for a in actions] == ["remove_leftover", "unpack", "link"]
    assert actions[1]["replace"] is True


@pytest.mark.parametrize("overrides, message", [
    (dict(artifact=None, checksum=None),
     "artifact: required because release 1.0.0 is not unpacked in /opt/demo/releases"),
    (dict(artifact=None, release="incomplete"),
     "artifact: required because release 1.0.0 in /opt/demo/releases/1.0.0 has no "
     ".fleetops-release marker (an interrupted unpack) and must be unpacked again"),
    (dict(checksum=None), "checksum: required with artifact=/a.tar.gz"),
    (dict(artifact_exists=False), "artifact: /a.tar.gz does not exist on the host"),
    (dict(release="other"), "version: the path of release 1.0.0, /opt/demo/releases/1.0.0, "
                            "exists but is not a directory; refusing to replace it"),
    (dict(link="other"), "slot: the link of slot blue, /opt/demo/current-blue, exists and is "
                         "not a symbolic link; refusing to replace it"),
    (dict(release="complete", marker_checksum="cd" * 32),
     "checksum: %s differs from the sha256 %s that release /opt/demo/releases/1.0.0 was "
     "unpacked from" % ("ab" * 32, "cd" * 32)),
])
def test_plan_refusals_name_the_option(overrides, message):
    with pytest.raises(ReleaseError) as info:
        plan_release(base_state(**overrides))
    assert str(info.value).startswith(message)


def test_plan_missing_artifact_is_predicted_in_check_mode():
    actions = plan_release(base_state(artifact_exists=False, check_mode=True))
    assert [a["action"] for a in actions] == ["unpack", "link"]


def test_plan_absent_refuses_a_linked_release_naming_the_slot():
    state = base_state(state="absent", slot=None, release="complete", linked_slots=["green"])
    with pytest.raises(ReleaseError) as info:
        plan_release(state)
    assert "in use by slot green (/opt/demo/current-green)" in info.value.msg
    assert info.value.result == {"slots": ["green"]}


plan_states = st.builds(
    base_state,
    state=st.sampled_from(["present", "absent"]),
    release=st.sampled_from(["absent", "complete", "incomplete"]),
    marker_checksum=st.sampled_from([None, "ab" * 32, "cd" * 32]),
    checksum=st.sampled_from([None, "ab" * 32]),
    artifact=st.sampled_from([None, "/a.tar.gz"]),
    artifact_exists=st.booleans(),
    check_mode=st.booleans(),
    slot=st.sampled_from([None, "blue"]),
    link=st.sampled_from(["absent", "symlink"]),
    link_target=st.sampled_from([None, "/opt/demo/releases/1.0.0", "/opt/demo/releases/0.9.0"]),
    linked_slots=st.sampled_from([[], ["blue"], ["blue", "green"]]),
    leftovers=st.sampled_from([[], ["/opt/demo/releases/.old-1.0.0-00000000"]]),
)


@settings(max_examples=400)
@given(plan_states)
def test_plan_invariants(state):
    try:
        actions = plan_release(state)
    except ReleaseError:
        return
    kinds = [a["action"] for a in actions]
    if state["state"] == "absent":
        assert "unpack" not in kinds and "link" not in kinds
        assert ("remove" in kinds) == (state["release"] != "absent")
        if "remove" in kinds:
            assert not state["linked_slots"]
        return
    assert "remove" not in kinds
    assert ("unpack" in kinds) == (state["release"] != "complete")
    if "unpack" in kinds:
        assert state["artifact"] and state["checksum"]
        assert state["artifact_exists"] or state["check_mode"]
        assert kinds.index("unpack") < kinds.index("link") if "link" in kinds else True
    else:
        assert "remove_leftover" not in kinds
    wants_link = bool(state["slot"]) and state["link_target"] != state["release_dir"]
    assert ("link" in kinds) == wants_link


# ------------------------------------------------------------------- retention


def test_prunable_keeps_the_newest_by_version_order():
    releases = ["1.9.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "2.0.0"]
    assert prunable_releases(releases, 2) == ["1.2.0", "1.9.0", "1.10.0"]
    assert prunable_releases(releases, 0) == sort_versions(releases)
    assert prunable_releases(releases, 10) == []


def test_prunable_never_takes_linked_or_protected():
    releases = [dict(version="1.0.0", slots=["blue"]), dict(version="1.1.0", slots=[]),
                dict(version="1.2.0", slots=[]), dict(version="1.3.0", slots=["green"])]
    assert prunable_releases(releases, 1, protected=["1.1.0"]) == ["1.2.0"]
    assert prunable_releases(releases, 1, protected=[None, ""]) == ["1.1.0", "1.2.0"]


@pytest.mark.parametrize("keep", [-1, True, "2", 1.5, None])
def test_prunable_rejects_bad_keep(keep):
    with pytest.raises(ReleaseError, match=r"^keep: .* must be an integer of 0 or more"):
        prunable_releases(["1.0.0"], keep)


def test_prunable_rejects_bad_versions():
    with pytest.raises(ReleaseError, match=r"^releases: '../x' is not a release version"):
        prunable_releases(["1.0.0", "../x"], 1)


release_records = st.lists(
    st.builds(
        lambda t, pre, linked: dict(version=as_version(t, pre), slots=["blue"] if linked else []),
        st.tuples(*(st.integers(min_value=0, max_value=30),) * 3),
        st.one_of(st.none(), st.sampled_from(["rc.1", "rc.2", "beta"])),
        st.booleans(),
    ),
    max_size=15,
    unique_by=lambda r: r["version"],
)


@settings(max_examples=400)
@given(release_records, st.integers(min_value=0, max_value=20), st.data())
def test_prunable_properties(releases, keep, data):
    versions = [r["version"] for r in releases]
    protected = data.draw(st.lists(st.sampled_from(versions), max_size=3) if versions else st.just([]))
    pruned = prunable_releases(releases, keep, protected)
    linked = set(r["version"] for r in releases if r["slots"])
    assert set(pruned) <= set(versions)
    assert not set(pruned) & set(protected)
    assert not set(pruned) & linked
    assert len(versions) - len(pruned) >= min(keep, len(versions))
    newest = sorted(versions, key=version_key, reverse=True)[:keep]
    assert not set(pruned) & set(newest)
    assert pruned == sort_versions(pruned)
    # everything not kept for a reason is pruned
    assert set(versions) - set(pruned) == set(newest) | set(protected) | linked


# --------------------------------------------------------------- atomic symlink


def test_atomic_symlink_creates_and_replaces(tmp_path):
    link = str(tmp_path / "current-blue")
    assert atomic_symlink("/opt/demo/releases/1.0.0", link) is None
    assert os.readlink(link) == "/opt/demo/releases/1.0.0"
    assert atomic_symlink("/opt/demo/releases/2.0.0", link) == "/opt/demo/releases/1.0.0"
    assert os.readlink(link) == "/opt/demo/releases/2.0.0"
    assert sorted(os.listdir(str(tmp_path))) == ["current-blue"]


def test_atomic_symlink_replaces_a_link_to_a_directory_not_its_contents(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    link = str(tmp_path / "current-blue")
    os.symlink(str(old), link)
    atomic_symlink(str(tmp_path / "new"), link)
    assert os.readlink(link) == str(tmp_path / "new")
    assert os.listdir(str(old)) == []


def test_atomic_symlink_refuses_a_real_directory(tmp_path):
    (tmp_path / "current-blue").mkdir()
    with pytest.raises(OSError):
        atomic_symlink("/x", str(tmp_path / "current-blue"))
    assert sorted(os.listdir(str(tmp_path))) == ["current-blue"]


def test_atomic_symlink_never_leaves_the_link_missing(tmp_path):
    link = str(tmp_path / "current-blue")
    atomic_symlink("a", link)
    missing = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                os.readlink(link)
            except FileNotFoundError:
                missing.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for index in range(300):
            atomic_symlink("b" if index % 2 else "a", link)
    finally:
        done.set()
        thread.join()
    assert missing == []
    assert sorted(os.listdir(str(tmp_path))) == ["current-blue"]


# ------------------------------------------------------------- install_release


def test_install_release_unpacks_with_marker_and_safe_modes(tmp_path):
    artifact = str(tmp_path / "a.tar.gz")
    digest = make_tarball(artifact, GOOD)
    release_dir = str(tmp_path / "root" / "releases" / "1.0.0")
    assert install_release(artifact, digest, release_dir) == digest
    assert sorted(os.listdir(release_dir)) == [MARKER, "app.py", "lib", "release.json"]
    with open(os.path.join(release_dir, MARKER)) as handle:
        assert handle.read() == digest + "\n"
    assert stat.S_IMODE(os.stat(release_dir).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(os.path.join(release_dir, "app.py")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(os.path.join(release_dir, "release.json")).st_mode) == 0o644
    # set-uid and group/other write bits are dropped
    assert stat.S_IMODE(os.lstat(os.path.join(release_dir, "lib", "util.py")).st_mode) == 0o755
    assert os.readlink(os.path.join(release_dir, "lib", "current")) == "util.py"
    util = os.stat(os.path.join(release_dir, "lib", "util.py"))
    again = os.stat(os.path.join(release_dir, "lib", "again.py"))
    assert (util.st_ino, util.st_nlink) == (again.st_ino, 2)
    assert os.stat(os.path.join(release_dir, "app.py")).st_mtime == 1700000000
    assert sorted(os.listdir(os.path.dirname(release_dir))) == ["1.0.0"]


def test_install_release_check_mode_verifies_and_writes_nothing(tmp_path):
    artifact = str(tmp_path / "a.tar.gz")
    digest = make_tarball(artifact, GOOD)
    before = tree(str(tmp_path))
    assert install_release(artifact, digest, str(tmp_path / "releases" / "1.0.0"), check_mode=True) == digest
    with pytest.raises(ReleaseError, match="^checksum: "):
        install_release(artifact, "00" * 32, str(tmp_path / "releases" / "1.0.0"), check_mode=True)
    assert tree(str(tmp_path)) == before


def test_install_release_checksum_mismatch_writes_nothing(tmp_path):
    artifact = str(tmp_path / "a.tar.gz")
    digest = make_tarball(artifact, GOOD)
    before = tree(str(tmp_path))
    with pytest.raises(ReleaseError) as info:
        install_release(artifact, "00" * 32, str(tmp_path / "releases" / "1.0.0"))
    assert info.value.msg == (
        "checksum: %s has sha256 %s, expected %s (checksum=%s); nothing was unpacked"
        % (artifact, digest, "00" * 32, "00" * 32))
    assert info.value.result == {"expected_checksum": "00" * 32, "computed_checksum": digest}
    assert tree(str(tmp_path)) == before


def test_install_release_refuses_a_corrupt_archive_cleanly(tmp_path):
    artifact = tmp_path / "a.tar.gz"
    artifact.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    with pytest.raises(ReleaseError, match="is not a readable tar archive"):
        install_release(str(artifact), sha256_file(str(artifact)), str(tmp_path / "releases" / "1.0.0"))
    assert not (tmp_path / "releases").exists()


def test_install_release_failure_halfway_keeps_the_old_state(tmp_path, monkeypatch):
    artifact = str(tmp_path / "a.tar.gz")
    digest = make_tarball(artifact, GOOD)
    release_dir = tmp_path / "releases" / "1.0.0"
    release_dir.mkdir(parents=True)
    (release_dir / "partial").write_text("half")

    def boom(path, data, mode):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(release, "_write_new_file", boom)
    with pytest.raises(OSError):
        install_release(artifact, digest, str(release_dir), replace=True)
    assert sorted(os.listdir(str(tmp_path / "releases"))) == ["1.0.0"]
    assert sorted(os.listdir(str(release_dir))) == ["partial"]


def test_install_release_replaces_an_incomplete_directory(tmp_path):
    artifact = str(tmp_path / "a.tar.gz")
    digest = make_tarball(artifact, GOOD)
    release_dir = tmp_path / "releases" / "1.0.0"
    release_dir.mkdir(parents=True)
    (release_dir / "partial").write_text("half")
    install_release(artifact, digest, str(release_dir), replace=True)
    assert "partial" not in os.listdir(str(release_dir))
    assert release_status(str(release_dir)) == ("complete", digest)
    assert sorted(os.listdir(str(tmp_path / "releases"))) == ["1.0.0"]


def test_observe_reads_the_host(tmp_path):
    root = str(tmp_path)
    complete_release(root, "1.0.0")
    os.symlink(os.path.join(root, "releases", "1.0.0"), os.path.join(root, "current-blue"))
    state = observe(request(root, slot="blue"))
    assert state["release"] == "complete"
    assert state["linked_slots"] == ["blue"]
    assert state["link"] == "symlink"
    assert state["link_target"] == os.path.join(root, "releases", "1.0.0")
    assert plan_release(state) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReleaseError, match="^root: .* exists and is not a directory"):
        observe(request(str(tmp_path / "file")))
