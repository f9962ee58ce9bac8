#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) to run the fleetops lab:
# podman + runc + mmdebstrap, and the containers.conf settings this kind of
# machine needs (see shared LAB.md). Idempotent: safe to run any number of times.
set -euo pipefail

CONF=/etc/containers/containers.conf
PACKAGES=(podman runc conmon netavark aardvark-dns iptables uidmap mmdebstrap restic
          debian-archive-keyring openssh-client ca-certificates
          chromium fonts-dejavu-core  # chromium: headless screenshots of the SLO report in tests
          nodejs  # the unit tests run examples/ledgerly on the controller
          python3 python3-venv)  # the controller's virtualenv (Makefile PYTHON)

log() { printf '[setup-host] %s\n' "$*"; }
die() { printf '[setup-host] ERROR: %s\n' "$*" >&2; exit 1; }

require_root() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo bash $0)"
}

# Install only when something is missing, so a warm run needs no network.
install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "packages present"
        return
    fi
    command -v apt-get >/dev/null || die "apt-get not found: this script targets Debian 12"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
}

# Set key=value inside [table] of a TOML file: replaces the key's first
# definition in that table in place (multi-line arrays included), drops any
# later ones, or appends the key at the end of the table (creating the table
# when absent). Everything else is kept, so re-running changes nothing.
toml_set() {
    local file=$1 table=$2 key=$3 value=$4 tmp
    tmp=$(mktemp "${file}.XXXXXX")
    awk -v table="[$table]" -v key="$key" -v line="$key = $value" '
        function is_header(s) { return s ~ /^[ \t]*\[[^\]]+\][ \t]*(#.*)?$/ }
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        BEGIN { cur = ""; done = 0; skipping = 0 }
        {
            if (skipping) { if ($0 ~ /\]/) skipping = 0; next }
            if (is_header($0)) {
                if (cur == table && !done) { print line; done = 1 }
                cur = trim($0); sub(/[ \t]*#.*$/, "", cur)
                print
                next
            }
            if (cur == table) {
                s = $0; sub(/^[ \t]+/, "", s)
                if (index(s, key) == 1 && substr(s, length(key) + 1) ~ /^[ \t]*=/) {
                    v = s; sub(/^[^=]*=[ \t]*/, "", v)
                    # a multi-line array: skip until its closing bracket
                    if (v ~ /^\[/ && v !~ /\]/) skipping = 1
                    if (!done) { print line; done = 1 }
                    next
                }
            }
            print
        }
        END {
            if (!done && cur == table) { print line; done = 1 }
            if (!done) { print ""; print table; print line }
        }
    ' "$file" >"$tmp"
    cat "$tmp" >"$file"   # keep the original file's owner and mode
    rm -f "$tmp"
}

configure_containers_conf() {
    mkdir -p "$(dirname "$CONF")"
    [[ -e $CONF ]] || printf '# Written by fleetops lab/setup-host.sh\n' >"$CONF"
    local before after
    before=$(sha256sum "$CONF")
    # The machine's hard nofile limit is below podman's default and the
    # capability to raise it is missing, so ask for limits that fit.
    toml_set "$CONF" containers default_ulimits '["nofile=20000:20000", "nproc=32768:32768"]'
    # crun refuses cgroup v1/hybrid hosts; runc works. No systemd-managed
    # cgroups or journald for podman on this kind of machine.
    toml_set "$CONF" engine runtime '"runc"'
    toml_set "$CONF" engine cgroup_manager '"cgroupfs"'
    toml_set "$CONF" engine events_logger '"file"'
    after=$(sha256sum "$CONF")
    if [[ $before == "$after" ]]; then
        log "$CONF already configured"
    else
        log "$CONF updated"
    fi
}

check_podman() {
    local out
    if ! out=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.NetworkBackend}}' 2>&1); then
        printf '%s\n' "$out" >&2
        die "podman cannot run here ('podman info' failed, output above)"
    fi
    log "podman $(podman version --format '{{.Client.Version}}') ok: runtime/cgroups/network = $out"
    # Hosts find each other by name only through netavark's aardvark-dns.
    [[ $out == *netavark* ]] || printf '[setup-host] WARNING: podman uses the %s network backend, not netavark: lab hosts will not resolve each other by name\n' "${out##* }" >&2
}

# Every lab host runs its own systemd, which takes inotify instances of the
# machine's root user: at the default 128, a lab of 50 app hosts (or several labs
# at once) leaves hosts whose systemd exits at boot ("Too many open files").
INOTIFY_INSTANCES=4096
INOTIFY_WATCHES=1048576
configure_inotify() {
    local conf=/etc/sysctl.d/60-fleetops-lab.conf
    printf 'fs.inotify.max_user_instances = %d\nfs.inotify.max_user_watches = %d\n' \
        "$INOTIFY_INSTANCES" "$INOTIFY_WATCHES" >"$conf.tmp" && mv -f "$conf.tmp" "$conf"
    if (( $(cat /proc/sys/fs/inotify/max_user_instances) < INOTIFY_INSTANCES )); then
        sysctl -q -w "fs.inotify.max_user_instances=$INOTIFY_INSTANCES" \
            || die "cannot raise fs.inotify.max_user_instances to $INOTIFY_INSTANCES (needed for many lab hosts)"
    fi
    if (( $(cat /proc/sys/fs/inotify/max_user_watches) < INOTIFY_WATCHES )); then
        sysctl -q -w "fs.inotify.max_user_watches=$INOTIFY_WATCHES" \
            || die "cannot raise fs.inotify.max_user_watches to $INOTIFY_WATCHES"
    fi
    log "inotify: $(cat /proc/sys/fs/inotify/max_user_instances) instances, $(cat /proc/sys/fs/inotify/max_user_watches) watches per user"
}

main() {
    require_root
    install_packages
    configure_containers_conf
    configure_inotify
    check_podman
}

main "$@"
