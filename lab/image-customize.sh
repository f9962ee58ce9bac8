#!/bin/sh
# mmdebstrap customize hook for the lab host image: $1 is the root directory
# of the new system. Runs on the build machine, uses chroot for tools that
# must see the image's own files.
set -eu
root=$1

# The roles enable these where they belong; a bare host runs neither.
chroot "$root" systemctl disable --quiet haproxy.service prometheus.service prometheus-alertmanager.service

# Units that cannot work in a container and would leave the host "degraded",
# which would make `systemctl is-system-running` useless as a health signal.
# (None found so far with the packages in image.recipe; list them here.)
MASK=""
for unit in $MASK; do
    chroot "$root" systemctl mask --quiet "$unit"
done

# Timers that would run apt or filesystem jobs at random times during tests.
chroot "$root" systemctl disable --quiet apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer 2>/dev/null || true

# sshd: root with keys only (the lab key is mounted as authorized_keys), and
# no reverse DNS lookups to slow down logins.
mkdir -p "$root/etc/ssh/sshd_config.d"
cat >"$root/etc/ssh/sshd_config.d/10-fleetops-lab.conf" <<'CONF'
# fleetops lab host
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
# Ansible opens many connections at once.
MaxStartups 100:30:200
MaxSessions 50
CONF

# Host keys are baked in (openssh-server's postinst made them): every lab host
# shares them, which is fine for throwaway test hosts and keeps boot fast.
chroot "$root" ssh-keygen -A >/dev/null
install -d -m 0700 "$root/root/.ssh"

chroot "$root" systemctl set-default --quiet multi-user.target

# A default locale for login sessions (pam_env warns without the file);
# C.UTF-8 is built into glibc, nothing to generate.
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
