#!/usr/bin/env bash
# The collection builds, installs with ansible-galaxy, and ansible-doc renders every
# plugin from the installed copy (not from the work tree).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV_BIN:-$PWD/.venv/bin}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin/ansible-galaxy" collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/fleetops-lifecycle-*.tar.gz)
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
# Nothing from the lab, tests or virtualenv may leak into the tarball.
if tar -tzf "$tarball" | grep -E '^(\./)?(\.venv|\.build|\.ansible|lab|tests|bench|molecule|dist)/' ; then
  echo "build_check: the tarball holds files that build_ignore should keep out" >&2
  exit 1
fi

# The execution environment's build context (ansible-builder create: no image, no network).
"$bin/ansible-builder" create -f "$PWD/execution-environment.yml" -c "$out/ee" >/dev/null
grep -q 'COPY _build/collections/ /tmp/fleetops-collections/' "$out/ee/Containerfile"
grep -q 'fleetops-lifecycle' "$out/ee/_build/requirements.yml"
echo "ansible-builder create: build context in $out/ee"

# Run from the scratch dir so the repository's ansible.cfg (and its collection link)
# cannot be what makes the plugins visible.
unset ANSIBLE_CONFIG
export ANSIBLE_NOCOLOR=1  # plain page headers, matched below
export ANSIBLE_COLLECTIONS_PATH="$out/installed"
cd "$out"
"$bin/ansible-galaxy" collection install --offline --no-deps -p "$out/installed" "$tarball" >/dev/null
rendered=0
for kind in module filter callback; do
  names=$("$bin/ansible-doc" -t "$kind" -l fleetops.lifecycle 2>/dev/null | awk '{print $1}' | grep '^fleetops\.lifecycle\.' || true)
  [[ -n $names ]] || continue
  # One ansible-doc for all the plugins of a kind (each start costs seconds of CPU); a
  # plugin whose page is missing from the output fails the check by name.
  # shellcheck disable=SC2086  # the names are words
  pages=$("$bin/ansible-doc" -t "$kind" $names)
  for name in $names; do
    grep -qE "^> [A-Z ]*${name//./\\.} " <<<"$pages" \
      || { echo "build_check: ansible-doc -t $kind rendered no page for $name" >&2; exit 1; }
    rendered=$((rendered + 1))
  done
done
"$bin/ansible-doc" -t role -l fleetops.lifecycle >/dev/null
echo "installed into $out/installed; ansible-doc rendered $rendered plugins and the role specs"
