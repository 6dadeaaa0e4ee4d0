#!/bin/sh
# rootfs-setup.sh DIR KREL MODULES PUBKEY AGENT: make a freshly debootstrapped
# tree at DIR a banger guest (scripts/build-guest.sh runs it, as root,
# before mkfs.ext4 -d).  MODULES is the kernel package's
# lib/modules/KREL, copied in so that udev and modprobe find them; PUBKEY
# is the one key root may log in with over SSH; AGENT the directory of
# banger's guest agent (guest/ at the top of the tree).
#
# The guest: systemd, a serial getty on ttyS0 whose banner (/etc/issue)
# shows the running kernel's release, systemd-networkd configured from
# the kernel command line (ip=ADDR::GW:MASK:HOST:IFACE:off, read by
# systemd-network-generator) or else by DHCP, sshd with root login by
# key only and a host key made at first boot (each VM its own), an empty
# machine-id (each VM its own), no root password.
set -eu

DIR=$1 KREL=$2 MODULES=$3 PUBKEY=$4 AGENT=$5

[ -x "$DIR/sbin/init" ] || { echo "rootfs-setup: $DIR: no /sbin/init" >&2; exit 1; }

in_root() {
	chroot "$DIR" "$@"
}

echo banger >"$DIR/etc/hostname"
cat >"$DIR/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	banger
::1		localhost ip6-localhost ip6-loopback
EOF
# the build host's resolver is not the guest's
: >"$DIR/etc/resolv.conf"
cat >"$DIR/etc/fstab" <<'EOF'
# the root disk: the VM's first drive (Firecracker's root=/dev/vda)
/dev/vda	/	ext4	defaults,noatime,errors=remount-ro	0 1
EOF

# each VM makes its own machine-id at first boot
: >"$DIR/etc/machine-id"
rm -f "$DIR/var/lib/dbus/machine-id"

# root: no password; SSH by key only
in_root usermod -p '*' root
install -d -m 0700 "$DIR/root/.ssh"
install -m 0600 "$PUBKEY" "$DIR/root/.ssh/authorized_keys"
cat >"$DIR/etc/ssh/sshd_config.d/banger.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
# host keys are made at boot, so no two VMs share them; ed25519 only,
# as an RSA key takes seconds under TCG
rm -f "$DIR"/etc/ssh/ssh_host_*
cat >"$DIR/etc/systemd/system/banger-ssh-hostkey.service" <<'EOF'
[Unit]
Description=SSH host key for this VM
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
RequiredBy=ssh.service
EOF
in_root systemctl -q enable banger-ssh-hostkey.service

# the network: ip= on the kernel command line (systemd-network-generator
# writes /run/systemd/network/90-IFACE.network, which comes first), else
# DHCP on any NIC
cat >"$DIR/etc/systemd/network/99-banger-dhcp.network" <<'EOF'
[Match]
Type=ether

[Network]
DHCP=yes
EOF
in_root systemctl -q enable systemd-networkd.service \
    systemd-network-generator.service

# banger's guest agent: the identity drive taken on after a restore
# (a clone's new name, address, MAC and host key)
install -m 0755 "$AGENT/banger-identity" "$DIR/usr/local/sbin/banger-identity"
install -m 0644 "$AGENT/banger-identity.service" \
    "$DIR/etc/systemd/system/banger-identity.service"
in_root systemctl -q enable banger-identity.service

# the console: a serial getty, and the kernel release above its prompt
in_root systemctl -q enable serial-getty@ttyS0.service
printf 'banger guest: Debian GNU/Linux 12, kernel \\r, \\l\n\n' \
    >"$DIR/etc/issue"

# the kernel's modules, indexed for modprobe and udev
rm -rf "$DIR/lib/modules/$KREL"
mkdir -p "$DIR/lib/modules"
cp -a "$MODULES" "$DIR/lib/modules/$KREL"
in_root depmod -a "$KREL"

# what the image need not carry
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/* \
    "$DIR"/var/log/*.log "$DIR"/tmp/* "$DIR"/var/tmp/*
