#!/usr/bin/env bash
# fleetops lab: real Debian bookworm test hosts on this machine, as podman
# containers with systemd as PID 1 and sshd, on a network of their own
# (docs/architecture.md is the contract for names and addresses).
#
#   lab.sh [--lab NAME] image [--force]   build (or reuse) the host image
#   lab.sh [--lab NAME] up [--hosts "..."] [--app-hosts N]
#                          start hosts (default: lb1 app1..appN, N=3), wait for ssh + systemd
#   lab.sh [--lab NAME] down [--hosts "..."]
#                          remove hosts (the lab's containers, network and state without --hosts)
#   lab.sh [--lab NAME] inventory   write the lab's inventory (no hosts started); print its path
#   lab.sh [--lab NAME] status      list the lab's containers, addresses, state
#   lab.sh [--lab NAME] ssh HOST [CMD...]  ssh into a host as root with the lab key
#   lab.sh labs                     list the labs that have containers or a network
#
# Without --lab (or FLEETOPS_LAB) this is the default lab: network fleetops-lab,
# 10.89.77.0/24, inventories/lab/. A named lab gets its own network, a free
# 10.90.X.0/24, its own key and a generated inventory under lab/.state/labs/NAME/,
# so several labs run side by side. Run as root. Prepare a fresh machine once
# with: bash lab/setup-host.sh
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)
IMAGE_REPO=localhost/fleetops-lab
# Machine-wide locks: one image build, one subnet choice at a time, whichever
# checkout or lab asks (labs of other checkouts share podman).
IMAGE_LOCK=/tmp/fleetops-lab-image.lock
NET_LOCK=/tmp/fleetops-lab-net.lock
NAMED_PREFIX=10.90          # named labs take a free 10.90.X.0/24
DEFAULT_APP_HOSTS=3
MAX_APP_HOSTS=200
SPARE_HOSTS=3               # spares listed in a named lab's spares.yml
# Seconds for all hosts to answer over ssh: 60, and 3 more per host beyond 20
# (hosts boot at once and share the machine's cores).
UP_TIMEOUT=${LAB_UP_TIMEOUT:-}

# Sets the names of lab $1: its network, container prefix, state and inventory.
select_lab() {
    LAB=$1
    if [[ $LAB == default ]]; then
        NETWORK=fleetops-lab
        PREFIX=fleetops-
        STATE_DIR=$LAB_DIR/.state
        INVENTORY_DIR=$REPO_DIR/inventories/lab
    else
        [[ $LAB =~ ^[a-z][a-z0-9]{0,11}$ ]] \
            || die "--lab '$LAB': a lab name is 1-12 lower-case letters and digits, starting with a letter"
        NETWORK=fleetops-lab-$LAB
        PREFIX=fleetops-$LAB-
        STATE_DIR=$LAB_DIR/.state/labs/$LAB
        INVENTORY_DIR=$STATE_DIR
    fi
    KEY=$STATE_DIR/id_ed25519
    AUTH_KEYS=$STATE_DIR/authorized_keys
    SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
              -o BatchMode=yes -o ConnectTimeout=2 -o LogLevel=ERROR)
}


# SUITE, MIRROR, SECURITY_MIRROR, PACKAGES, DPKG_EXCLUDES, DPKG_INCLUDES
# shellcheck source=SCRIPTDIR/image.recipe
source "$LAB_DIR/image.recipe"

log()  { printf '[lab] %s\n' "$*"; }
warn() { printf '[lab] WARNING: %s\n' "$*" >&2; }
die()  { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }
# podman run leaves conmon (and aardvark-dns) running: they must not inherit
# the lock descriptor, or the lock would outlive this script.
podman() { command podman "$@" 7>&- 8>&- 9>&-; }
# For podman calls whose stdout is not needed: stderr is passed on without
# aardvark-dns's harmless "failed to connect to syslog" (no syslog here).
podman_q() {
    local err rc=0
    err=$(podman "$@" 2>&1 >/dev/null) || rc=$?
    [[ -z $err ]] || grep -v '^failed to connect to syslog' <<<"$err" >&2 || true
    return "$rc"
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

preflight() {
    [[ $(id -u) -eq 0 ]] || die "must run as root (the lab uses rootful podman)"
    type -P podman >/dev/null || die "podman is not installed: run 'bash lab/setup-host.sh' as root first"
    command -v ssh >/dev/null || die "ssh is not installed: run 'bash lab/setup-host.sh' as root first"
    mkdir -p "$STATE_DIR"
    chmod 0700 "$STATE_DIR"
    # One operation on this lab at a time (a second `up` waits for the first).
    exec 9>"$STATE_DIR/lab.lock"
    flock -w 900 9 || die "another lab.sh is still running on lab $LAB (lock $STATE_DIR/lab.lock)"
}

# ---------------------------------------------------------------- hosts

# The last octet of a host's address, the same in every lab: lb1 .10,
# app1-9 .11-.19, spare1-9 .21-.29, app10-200 .50-.240.
host_octet() {
    local n
    case $1 in
        lb1) echo 10 ;;
        spare[1-9]) echo $((20 + ${1#spare})) ;;
        app[1-9]|app[1-9][0-9]|app[1-9][0-9][0-9])
            n=${1#app}
            ((n <= MAX_APP_HOSTS)) || return 1
            if ((n <= 9)); then echo $((10 + n)); else echo $((40 + n)); fi ;;
        *) return 1 ;;
    esac
}

# Needs SUBNET (set by lab_subnet or ensure_network).
host_addr() {
    local octet
    octet=$(host_octet "$1") || return 1
    echo "${SUBNET%.*}.$octet"
}

app_hosts() { local i; for ((i = 1; i <= $1; i++)); do printf 'app%d ' "$i"; done; }

# "--hosts 'a b'" or "--hosts a,b" -> HOSTS array, validated; "--app-hosts N"
# -> APP_COUNT (the default host list is lb1 and N app hosts).
parse_hosts() {
    local spec='' h
    HOSTS_GIVEN=0
    APP_COUNT=''
    while (($#)); do
        case $1 in
            --hosts) [[ $# -ge 2 ]] || die "--hosts needs a value"; spec=$2; HOSTS_GIVEN=1; shift 2 ;;
            --hosts=*) spec=${1#--hosts=}; HOSTS_GIVEN=1; shift ;;
            --app-hosts) [[ $# -ge 2 ]] || die "--app-hosts needs a value"; APP_COUNT=$2; shift 2 ;;
            --app-hosts=*) APP_COUNT=${1#--app-hosts=}; shift ;;
            *) die "unknown argument '$1'" ;;
        esac
    done
    if [[ -n $APP_COUNT ]]; then
        [[ $APP_COUNT =~ ^[1-9][0-9]*$ ]] && ((APP_COUNT <= MAX_APP_HOSTS)) \
            || die "--app-hosts '$APP_COUNT': a number of app hosts from 1 to $MAX_APP_HOSTS"
        [[ $LAB != default || $APP_COUNT == "$DEFAULT_APP_HOSTS" ]] \
            || die "--app-hosts $APP_COUNT: the default lab keeps $DEFAULT_APP_HOSTS app hosts (inventories/lab/hosts.yml); use a named lab: lab.sh --lab NAME up --app-hosts $APP_COUNT"
    fi
    ((HOSTS_GIVEN)) || spec="lb1 $(app_hosts "${APP_COUNT:-$(recorded_app_count)}")"
    read -r -a HOSTS <<<"${spec//,/ }"
    ((${#HOSTS[@]})) || die "--hosts is empty"
    for h in "${HOSTS[@]}"; do
        host_octet "$h" >/dev/null || die "unknown host '$h' (known: lb1 app1..app$MAX_APP_HOSTS spare1..spare9)"
    done
}

# How many app hosts this lab's inventory lists (as its last `up` made it).
recorded_app_count() {
    local n
    n=$(cat "$STATE_DIR/app_hosts" 2>/dev/null) || n=''
    [[ $n =~ ^[1-9][0-9]*$ ]] && echo "$n" || echo "$DEFAULT_APP_HOSTS"
}

# ---------------------------------------------------------------- image

# Writes the root filesystem tarball. Its text is part of the image hash.
build_rootfs() {
    local out=$1 opts=() p
    for p in "${DPKG_EXCLUDES[@]}"; do opts+=(--dpkgopt="path-exclude=$p"); done
    for p in "${DPKG_INCLUDES[@]}"; do opts+=(--dpkgopt="path-include=$p"); done
    # merged-usr hook: lay out /usr the debootstrap way and install
    # usr-is-merged, instead of the usrmerge package and ~50 MB of perl.
    mmdebstrap --variant=minbase --mode=root --format=tar \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --include="$(IFS=,; echo "${PACKAGES[*]}")" \
        "${opts[@]}" \
        --customize-hook="sh '$LAB_DIR/image-customize.sh' \"\$1\"" \
        "$SUITE" "$out" \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main"
}

recipe_hash() {
    { cat "$LAB_DIR/image.recipe" "$LAB_DIR/image-customize.sh"; declare -f build_rootfs; } \
        | sha256sum | cut -c1-12
}

image_tag() { echo "$IMAGE_REPO:$SUITE-$(recipe_hash)"; }

# Only an image whose import finished carries the label (it is set by the
# import itself), so a half-built image is never reused.
image_complete() {
    [[ $(podman image inspect --format '{{index .Labels "fleetops.complete"}}' "$1" 2>/dev/null) == 1 ]]
}

# Drop older lab images no container uses any more (podman refuses the
# others; they go on a later call). Untagged ones are found by their label.
prune_old_images() {
    local keep_id id
    keep_id=$(podman image inspect --format '{{.Id}}' "$1" 2>/dev/null) || return 0
    while read -r id; do
        [[ $keep_id == "$id"* ]] && continue
        podman rmi "$id" >/dev/null 2>&1 || true
    done < <(podman images --filter label=fleetops.complete=1 --format '{{.ID}}' | sort -u)
}

# Sets IMAGE (tag) and IMAGE_ID; builds when no complete image exists.
# Labs started together wait here for one build instead of each building.
ensure_image() {
    exec 8>"$IMAGE_LOCK"
    flock -w 900 8 || die "another lab.sh has been building the image for 15 minutes (lock $IMAGE_LOCK)"
    build_image "$@"
    exec 8>&-
}

build_image() {
    local force=${1:-0} start build_dir
    IMAGE=$(image_tag)
    if ((!force)) && image_complete "$IMAGE"; then
        IMAGE_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE")
        [[ $(podman image inspect --format '{{.Id}}' "$IMAGE_REPO:latest" 2>/dev/null) == "$IMAGE_ID" ]] \
            || podman tag "$IMAGE" "$IMAGE_REPO:latest"
        return
    fi
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed: run 'bash lab/setup-host.sh' as root first"
    log "building $IMAGE (mmdebstrap $SUITE, ${#PACKAGES[@]} packages + deps; takes 1-3 min)"
    start=$EPOCHREALTIME
    podman rmi "$IMAGE" >/dev/null 2>&1 || true   # an unlabelled leftover of the same tag
    rm -rf /var/tmp/fleetops-lab-build.*   # left by a killed build (we hold the lock)
    build_dir=$(mktemp -d /var/tmp/fleetops-lab-build.XXXXXX)
    # shellcheck disable=SC2064  # expand now: build_dir is local
    trap "rm -rf '$build_dir'" EXIT
    build_rootfs "$build_dir/rootfs.tar" >"$build_dir/mmdebstrap.log" 2>&1 || {
        tail -n 30 "$build_dir/mmdebstrap.log" >&2
        die "mmdebstrap failed (last lines above)"
    }
    podman import --quiet \
        --change 'CMD ["/sbin/init"]' \
        --change 'STOPSIGNAL SIGRTMIN+3' \
        --change "LABEL fleetops.recipe=$(recipe_hash)" \
        --change 'LABEL fleetops.complete=1' \
        --message "fleetops lab host image ($SUITE)" \
        "$build_dir/rootfs.tar" "$IMAGE" >/dev/null
    rm -rf "$build_dir"
    trap - EXIT
    podman tag "$IMAGE" "$IMAGE_REPO:latest"
    IMAGE_ID=$(podman image inspect --format '{{.Id}}' "$IMAGE")
    prune_old_images "$IMAGE"
    log "built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')) in $(since "$start") s"
}

cmd_image() {
    local force=0
    case ${1:-} in
        "") ;;
        --force) force=1 ;;
        *) die "usage: lab.sh image [--force]" ;;
    esac
    preflight
    ensure_image "$force"
    log "image $IMAGE ready (also $IMAGE_REPO:latest)"
}

# ---------------------------------------------------------------- network, key

# The subnet of this lab's network as it exists now, or nothing.
network_subnet() {
    local subnets
    subnets=$(podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' "$NETWORK" 2>/dev/null) || return 0
    echo "${subnets%% *}"
}

# A named lab keeps the subnet its network has; a new one takes the first
# 10.90.X.0/24 that no podman network uses (under a machine-wide lock, so two
# labs started at once do not pick the same).
choose_subnet() {
    local used x
    if [[ $LAB == default ]]; then SUBNET=10.89.77.0/24; return; fi
    SUBNET=$(network_subnet)
    [[ -n $SUBNET ]] && return
    used=$(podman network ls --format '{{.Name}}' | xargs -r podman network inspect \
               --format '{{range .Subnets}}{{.Subnet}} {{end}}' 2>/dev/null | tr ' ' '\n')
    for ((x = 1; x <= 254; x++)); do
        grep -qxF "$NAMED_PREFIX.$x.0/24" <<<"$used" || { SUBNET=$NAMED_PREFIX.$x.0/24; return; }
    done
    die "no free subnet left in $NAMED_PREFIX.0.0/16 for lab $LAB (podman network ls)"
}

# The network must have exactly the lab's subnet and gateway (and DNS, so
# hosts resolve each other by name); anything else left from earlier runs goes.
ensure_network() {
    local want have
    exec 7>"$NET_LOCK"
    flock -w 120 7 || die "another lab.sh holds $NET_LOCK"
    choose_subnet
    GATEWAY=${SUBNET%.*}.1
    want="$SUBNET $GATEWAY true"
    if have=$(podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{.Gateway}} {{end}}{{.DNSEnabled}}' \
              "$NETWORK" 2>/dev/null); then
        if [[ $have == "$want" ]]; then exec 7>&-; return; fi
        log "network $NETWORK is '$have', want '$want': recreating"
        podman_q network rm -f "$NETWORK"
    fi
    podman_q network create --subnet "$SUBNET" --gateway "$GATEWAY" --label fleetops.lab=1 \
        --label "fleetops.labname=$LAB" "$NETWORK" \
        || die "cannot create network $NETWORK ($SUBNET); is the subnet used by another podman network? (podman network ls)"
    exec 7>&-
    log "network $NETWORK $SUBNET created"
}

ensure_key() {
    if [[ ! -s $KEY || ! -s $KEY.pub ]]; then
        rm -f "$KEY" "$KEY.pub"
        ssh-keygen -q -t ed25519 -N '' -C fleetops-lab -f "$KEY"
        log "ssh key $KEY created"
    fi
    # Rewrite in place: running hosts bind-mount this very inode.
    cmp -s "$KEY.pub" "$AUTH_KEYS" 2>/dev/null || cat "$KEY.pub" >"$AUTH_KEYS"
    chmod 0644 "$AUTH_KEYS"
}

# ---------------------------------------------------------------- containers

# What a host container must look like; a running container with the same
# spec label is kept, anything else is replaced.
host_spec() {
    local host=$1
    printf '%s\n' "$IMAGE_ID" "$host" "$(host_addr "$host")" "$AUTH_KEYS" "$(cat "$KEY.pub")" \
        "$NETWORK" "run-options-v3" | sha256sum | cut -c1-16
}

# A fixed MAC per address (02:fe + the IPv4 octets): a host replaced at the
# same address keeps its MAC, so the controller's neighbour cache stays right
# (with a new random MAC ssh hung for 10-45 s until the stale entry expired).
host_mac() {
    local IFS=.
    # shellcheck disable=SC2086  # split the address on dots
    printf '02:fe:%02x:%02x:%02x:%02x' $1
}

# Podman still calls a container "running" when its processes were ended
# behind its back (as at the end of a session: its storage survives, its
# processes do not), so check that the container's systemd really exists.
host_alive() {
    local stat=
    [[ $1 =~ ^[1-9][0-9]*$ ]] || return 1
    read -r stat 2>/dev/null </proc/"$1"/stat || return 1
    # "PID (systemd) S ..." and not a zombie (Z) or dead (X)
    [[ $stat == "$1 (systemd) "* && ${stat#*) } != [ZX]* ]]
}

start_host() {
    local host=$1 spec=$2 addr
    addr=$(host_addr "$host")
    # A leftover of that name (stale ones make podman complain: it does not matter).
    podman rm -f -t 0 --ignore "$PREFIX$host" >/dev/null 2>&1 || true
    podman_q run -d \
        --name "$PREFIX$host" --hostname "$host" \
        --network "$NETWORK" --ip "$addr" --mac-address "$(host_mac "$addr")" \
        --network-alias "$host" \
        --systemd=always --cap-add SYS_ADMIN --cap-add NET_RAW \
        --label fleetops.lab=1 --label "fleetops.labname=$LAB" \
        --label "fleetops.host=$host" --label "fleetops.spec=$spec" \
        -v "$AUTH_KEYS:/root/.ssh/authorized_keys:ro" \
        "$IMAGE" /sbin/init \
        || die "podman run failed for $host (if it is a ulimit/cgroup error: run 'bash lab/setup-host.sh')"
}

# Waits until HOST answers over ssh and systemd finished booting. Prints one
# status line; exit 0 running, 1 timeout/error, 2 degraded.
probe_host() {
    local host=$1 addr=$2 deadline=$3 out='' left
    while :; do
        left=$(awk -v d="$deadline" -v n="$EPOCHREALTIME" 'BEGIN { l = d - n; printf "%d", (l > 0 ? l + 1 : 0) }')
        if ((left <= 0)); then
            echo "not ready after ${UP_TIMEOUT}s (last: ${out:-no answer}); see: podman logs $PREFIX$host"
            return 1
        fi
        # shellcheck disable=SC2029  # $left is meant to expand here
        out=$(ssh "${SSH_OPTS[@]}" "root@$addr" "timeout $left systemctl is-system-running --wait" 2>&1) || true
        out=${out//$'\n'/ }
        case $out in
            running) echo running; return 0 ;;
            degraded)
                echo "degraded; failed units: $(ssh "${SSH_OPTS[@]}" "root@$addr" \
                    'systemctl --failed --no-legend --plain | cut -d" " -f1 | xargs')"
                return 2 ;;
        esac
        # no ssh yet (rc 255) or systemd not settled: the host is still booting
        sleep 0.3
    done
}

# Probes all hosts in parallel; fails naming every host that is not ready.
wait_ready() {
    local deadline host failed=0 rc
    local -A pids=()
    local tmp
    ((${#HOSTS[@]} <= 20)) || : "${UP_TIMEOUT:=$((60 + 3 * (${#HOSTS[@]} - 20)))}"
    : "${UP_TIMEOUT:=60}"
    deadline=$(awk -v n="$EPOCHREALTIME" -v t="$UP_TIMEOUT" 'BEGIN { printf "%.3f", n + t }')
    tmp=$(mktemp -d)
    for host in "${HOSTS[@]}"; do
        probe_host "$host" "$(host_addr "$host")" "$deadline" >"$tmp/$host" &
        pids[$host]=$!
    done
    for host in "${HOSTS[@]}"; do
        rc=0
        wait "${pids[$host]}" || rc=$?
        case $rc in
            0) ;;
            2) if [[ " ${FRESH[*]} " == *" $host "* ]]; then
                   printf '[lab] ERROR: %s (%s) booted %s\n' "$host" "$(host_addr "$host")" "$(cat "$tmp/$host")" >&2
                   failed=1
               else
                   warn "$host is $(cat "$tmp/$host")"
               fi ;;
            *) printf '[lab] ERROR: %s (%s) %s\n' "$host" "$(host_addr "$host")" "$(cat "$tmp/$host")" >&2
               failed=1 ;;
        esac
    done
    rm -rf "$tmp"
    ((!failed)) || die "lab is not ready"
}

# This lab's containers, one line each: name, pid, spec label. Containers of
# the default lab made before labs had names carry no labname label.
lab_containers() {
    local name pid spec labname
    podman ps -a --filter label=fleetops.lab=1 \
        --format '{{.Names}} {{.Pid}} {{index .Labels "fleetops.spec"}} {{index .Labels "fleetops.labname"}}' \
        | while read -r name pid spec labname; do
            [[ -z $labname || $labname == "<no value>" ]] && labname=default
            [[ $labname == "$LAB" ]] && echo "$name $pid ${spec:-none}"
        done
}

# A named lab's inventory: its hosts at this lab's addresses, the key and the
# repository's artifacts by absolute path, and the lab's group_vars (shared
# with inventories/lab/, so every lab is converged the same way).
write_inventory() {
    local count=$1 host tmp
    [[ $LAB == default ]] && return
    echo "$count" >"$STATE_DIR/app_hosts"
    ln -sfn "$REPO_DIR/inventories/lab/group_vars" "$STATE_DIR/group_vars"
    tmp=$(mktemp "$STATE_DIR/.hosts.XXXXXX")
    {
        echo "---"
        echo "# Lab '$LAB', written by lab/lab.sh: rewritten by every 'up' and 'inventory'."
        inventory_vars
        echo "  children:"
        echo "    loadbalancers:"
        echo "      hosts:"
        echo "        lb1:"
        echo "          ansible_host: $(host_addr lb1)"
        echo "    monitoring:"
        echo "      hosts:"
        echo "        lb1:"
        echo "    app:"
        echo "      hosts:"
        for host in $(app_hosts "$count"); do
            echo "        $host:"
            echo "          ansible_host: $(host_addr "$host")"
        done
        echo "    spare:"
        echo "      hosts: {}"
    } >"$tmp"
    mv -f "$tmp" "$STATE_DIR/hosts.yml"
    tmp=$(mktemp "$STATE_DIR/.spares.XXXXXX")
    {
        echo "---"
        echo "# Spare hosts of lab '$LAB' (start one with: lab.sh --lab $LAB up --hosts spare1)."
        inventory_vars
        echo "  children:"
        echo "    spare:"
        echo "      hosts:"
        for ((host = 1; host <= SPARE_HOSTS; host++)); do
            echo "        spare$host:"
            echo "          ansible_host: $(host_addr "spare$host")"
        done
    } >"$tmp"
    mv -f "$tmp" "$STATE_DIR/spares.yml"
}

inventory_vars() {
    echo "all:"
    echo "  vars:"
    echo "    lab_name: $LAB"
    echo "    lab_key_file: $KEY"
    echo "    lab_repo_dir: $REPO_DIR"
}

cmd_inventory() {
    (($# == 0)) || die "usage: lab.sh [--lab NAME] inventory"
    preflight
    if [[ $LAB != default ]]; then
        ensure_network
        ensure_key
        write_inventory "$(recorded_app_count)"
    fi
    echo "$INVENTORY_DIR/hosts.yml"
}

cmd_up() {
    local start host spec kept=() name pid
    local -A have=()
    preflight
    parse_hosts "$@"
    start=$EPOCHREALTIME
    ensure_image
    ensure_network
    ensure_key
    write_inventory "${APP_COUNT:-$(recorded_app_count)}"
    # this lab's containers: is their systemd alive, which spec were they made with
    while read -r name pid spec; do
        if host_alive "$pid"; then have[$name]=$spec; else have[$name]=stale; fi
    done < <(lab_containers)
    FRESH=()
    for host in "${HOSTS[@]}"; do
        spec=$(host_spec "$host")
        case ${have[$PREFIX$host]:-} in
            "$spec") kept+=("$host"); continue ;;
            "") ;;
            stale) log "replacing $PREFIX$host (stopped, or its processes are gone)" ;;
            *) log "replacing $PREFIX$host (made from another image or options)" ;;
        esac
        start_host "$host" "$spec"
        FRESH+=("$host")
    done
    if ((${#FRESH[@]})); then
        log "started: ${FRESH[*]}"
        prune_old_images "$IMAGE"   # images of replaced hosts are free now
    fi
    ((${#kept[@]} == 0)) || log "already up: ${kept[*]}"
    wait_ready
    log "up: lab $LAB, ${#HOSTS[@]} hosts ready over ssh in $(since "$start") s (image $IMAGE, inventory $INVENTORY_DIR/hosts.yml)"
}

cmd_down() {
    local start ids=() host
    preflight
    parse_hosts "$@"
    start=$EPOCHREALTIME
    if ((HOSTS_GIVEN)); then
        for host in "${HOSTS[@]}"; do ids+=("$PREFIX$host"); done
        podman_q rm -f -t 5 --ignore "${ids[@]}"
        log "down: ${HOSTS[*]} of lab $LAB removed in $(since "$start") s"
        return
    fi
    mapfile -t ids < <(lab_containers | cut -d' ' -f1)
    ((${#ids[@]} == 0)) || podman_q rm -f -t 5 "${ids[@]}"
    # -f also removes any other container still attached to the network.
    if podman network exists "$NETWORK"; then
        podman_q network rm -f "$NETWORK"
    fi
    # A named lab's inventory names a subnet that another lab may take now.
    [[ $LAB == default ]] || rm -f "$STATE_DIR/hosts.yml" "$STATE_DIR/spares.yml" "$STATE_DIR/app_hosts"
    prune_old_images "$(image_tag)"
    log "down: lab $LAB, ${#ids[@]} container(s) removed, no network $NETWORK left ($(since "$start") s)"
}

cmd_status() {
    local names
    preflight
    IMAGE=$(image_tag)
    if image_complete "$IMAGE"; then log "image:   $IMAGE (complete)"; else log "image:   $IMAGE (not built)"; fi
    if podman network exists "$NETWORK"; then log "network: $NETWORK $(network_subnet)"; else log "network: $NETWORK (absent)"; fi
    mapfile -t names < <(lab_containers | cut -d' ' -f1 | sort -V)
    if ((${#names[@]} == 0)); then
        log "no containers in lab $LAB"
        return
    fi
    printf '%-24s %-8s %-13s %-9s %s\n' CONTAINER HOST ADDRESS STATE IMAGE
    podman container inspect --format \
        "{{.Name}} {{.Config.Hostname}} {{with index .NetworkSettings.Networks \"$NETWORK\"}}{{.IPAddress}}{{else}}-{{end}} {{.State.Status}} {{.State.Pid}} {{.ImageName}}" \
        "${names[@]}" | while read -r name host addr state pid image; do
            [[ $state != running ]] || host_alive "$pid" || state=gone   # see host_alive
            printf '%-24s %-8s %-13s %-9s %s\n' "$name" "$host" "${addr:--}" "$state" "$image"
        done
}

cmd_labs() {
    (($# == 0)) || die "usage: lab.sh labs"
    {
        podman ps -a --filter label=fleetops.lab=1 --format '{{index .Labels "fleetops.labname"}}'
        podman network ls --filter label=fleetops.lab=1 --format '{{.Name}}' \
            | sed -e 's/^fleetops-lab$/default/' -e 's/^fleetops-lab-//'
    } | sed -e 's/^$/default/' -e 's/^<no value>$/default/' | sort -u
}

cmd_ssh() {
    local host=${1:-} addr
    [[ -n $host ]] || die "usage: lab.sh [--lab NAME] ssh HOST [CMD...]"
    shift
    host_octet "$host" >/dev/null || die "unknown host '$host'"
    SUBNET=$(network_subnet)
    [[ -n $SUBNET ]] || die "lab $LAB has no network: run 'lab.sh --lab $LAB up' first"
    addr=$(host_addr "$host")
    [[ -r $KEY ]] || die "no lab key at $KEY: run 'lab.sh up' first"
    exec ssh "${SSH_OPTS[@]}" "root@$addr" "$@"
}

# The header comment of this file.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

main() {
    local lab=${FLEETOPS_LAB:-default} cmd
    case ${1:-} in
        --lab) [[ $# -ge 2 ]] || die "--lab needs a name"; lab=$2; shift 2 ;;
        --lab=*) lab=${1#--lab=}; shift ;;
    esac
    select_lab "$lab"
    cmd=${1:-help}
    (($#)) && shift
    case $cmd in
        image)  cmd_image "$@" ;;
        up)     cmd_up "$@" ;;
        down)   cmd_down "$@" ;;
        inventory) cmd_inventory "$@" ;;
        status) cmd_status "$@" ;;
        labs)   cmd_labs "$@" ;;
        ssh)    cmd_ssh "$@" ;;
        help|-h|--help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
