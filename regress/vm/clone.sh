# vm create --from-snapshot (clones) and every VM's identity drive, end
# to end through bangerd with the idle Firecracker stand-in: what the
# owner sees, what each clone is given (its own disk, snapshot copy,
# tap, address, name, host key), what Firecracker is sent, what others
# may not do, and what a crash or a refusal leaves.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "clone" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
vm_daemon_start clone

bad() { fails_saying clone "$@"; }	# name want-regex command...
recorded() { awk '$1 == "snap" {print $2, $3}' "$STATE/priv/$1" | sort; }
jailroot() { echo "$STATE/jail/firecracker/$1/root"; }
body() {	# id method path: the bodies Firecracker was sent
	jq -c "select(.method == \"$2\" and .path == \"$3\") | .body" \
	    "$(jailroot "$1")/run/fc-standin.requests"
}

ctl vm create web --memory 128M --disk 128M --start >/dev/null
wid=$(vm_id web)

# Every VM has an identity drive: its name, MAC and address, read-only.
idf=$(jailroot "$wid")/identity
expect_eq "clone: a VM's identity drive is 4 KiB of its own, 0400" \
    "$(stat -c '%s %a %u' "$idf")" \
    "4096 400 $(ctl vm show --json web | jq .uid)"
js=$(ctl vm show --json web)
expect_eq "clone: ...saying who the guest is" \
    "$(tr -d '\0' <"$idf" | grep -v '^seed ')" \
    "banger-identity 1
name web
domain vm.internal
mac $(echo "$js" | jq -r .mac)
address $(echo "$js" | jq -r .address)/24
gateway 172.16.0.1
dns 172.16.0.1"
expect_match "clone: ...and 32 random bytes for its RNG" \
    "$(tr -d '\0' <"$idf" | grep '^seed ')" '^seed [0-9a-f]{64}$'
expect_eq "clone: the drive is given to Firecracker, read-only" \
    "$(body "$wid" PUT /drives/identity)" \
    '{"drive_id":"identity","is_root_device":false,"path_on_host":"/identity","is_read_only":true}'

ctl vm snapshot web s1 >/dev/null

# A clone.
out=$(ctl vm create c1 --from-snapshot web/s1)
expect_match "clone: create --from-snapshot makes it" "$out" \
    "^vm c1 created \(id [0-9a-f]{8}\)$"
cid=$(vm_id c1)
js=$(ctl vm show --json c1)
expect_eq "clone: it has the origin's image, cpus, memory and disk" \
    "$(echo "$js" | jq -r '"\(.image) \(.cpus) \(.memory_mib) \(.state)"')" \
    "default $(ctl vm show --json web | jq -r .cpus) 128 created"
# each of uid, MAC, address and tap: the clone's, then whether the
# origin's is the same
expect_eq "clone: its own uid, MAC, address and tap" \
    "$(jq -rn --argjson w "$(ctl vm show --json web)" --argjson c "$js" \
    '["uid", "mac", "address", "tap"][] |
    "\(.) \($w[.] == $c[.])"' | tr '\n' ' ')" \
    "uid false mac false address false tap false "
expect_match "clone: ...each of them one bangerd gives" \
    "$(echo "$js" | jq -r '"\(.uid) \(.mac) \(.address) \(.tap)"')" \
    "^3[0-9]{5} 02:fc:([0-9a-f]{2}:){3}[0-9a-f]{2} 172\.16\.0\.[0-9]+ fc-tap-$cid$"
expect_eq "clone: its disk is the snapshot's" \
    "$(cmp "$STATE/snapshots/$wid/s1/disk" "$STATE/disks/$cid.ext4" && echo same)" \
    "same"
d=$STATE/snapshots/$cid/s1
expect_eq "clone: its own copy of the snapshot, group its own gid" \
    "$(cd "$d" && stat -c '%n %U %g %a' * | sort | tr '\n' ' ')" \
    "disk root 0 600 memory root $(echo "$js" | jq .uid) 440 vmstate root $(echo "$js" | jq .uid) 440 "
expect_eq "clone: ...which its record names ready" "$(recorded "$cid")" "s1 2"
expect_eq "clone: ls shows it" \
    "$(ctl vm snapshot ls --json c1 | jq -r '.[] | "\(.name) \(.state)"')" \
    "s1 ready"
expect_eq "clone: show says what it is a clone of" \
    "$(echo "$js" | jq -r .clone_of) $(ctl vm show web | awk '$1 == "clone" {print $3}') $(ctl vm show --json web | jq -r .clone_of)" \
    "web/s1  null"
expect_eq "clone: ...and so does vm ls --json, and show without --json" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name == "c1") | .clone_of') $(ctl vm show c1 | awk '$1 == "clone" {print $3}')" \
    "web/s1 web/s1"
expect_match "clone: a host key of its own, not the origin's" \
    "$(echo "$js" | jq -r .host_key)" "^ssh-ed25519 [A-Za-z0-9+/]+ root@c1$"

ctl vm start c1 >/dev/null
js=$(ctl vm show --json c1)
expect_eq "clone: its first start restores its snapshot, and it runs" \
    "$(echo "$js" | jq -r '"\(.state) \(.vmm_state)"')" "running Running"
expect_eq "clone: ...loaded on its own tap (network_overrides)" \
    "$(body "$cid" PUT /snapshot/load)" \
    "{\"snapshot_path\":\"/snapshot.vmstate\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"/snapshot.mem\"},\"enable_diff_snapshots\":false,\"resume_vm\":true,\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$(echo "$js" | jq -r .tap)\"}]}"
expect_eq "clone: ...every request taken by the stand-in (1.12.1's API)" \
    "$(jq -r 'select(.status >= 300) | .path' "$(jailroot "$cid")/run/fc-standin.requests")" ""
expect_eq "clone: ...with no boot" \
    "$(body "$cid" PUT /actions)" ""
expect_eq "clone: ...and Firecracker holds its tap, not the origin's" \
    "$(jq -c '.["network-interfaces"][0].host_dev_name' <<<"$(curl -s --unix-socket "$(jailroot "$cid")/run/firecracker.socket" http://localhost/vm/config)")" \
    "\"$(echo "$js" | jq -r .tap)\""
cidf=$(jailroot "$cid")/identity
expect_eq "clone: its identity drive says who it is now" \
    "$(tr -d '\0' <"$cidf" | grep -E '^(name|mac|address) ')" \
    "name c1
mac $(echo "$js" | jq -r .mac)
address $(echo "$js" | jq -r .address)/24"
expect_eq "clone: ...and gives it the host key vm ssh expects" \
    "$(tr -d '\0' <"$cidf" | sed -n 's/^hostkey-public //p')" \
    "$(echo "$js" | jq -r .host_key)"
tr -d '\0' <"$cidf" | sed -n 's/^hostkey //p' >"$T/c1.key"
chmod 600 "$T/c1.key"
expect_eq "clone: ...whose private half is that key's" \
    "$(ssh-keygen -y -f "$T/c1.key" | cut -d' ' -f1-2)" \
    "$(echo "$js" | jq -r .host_key | cut -d' ' -f1-2)"
expect_eq "clone: the origin runs on" \
    "$(ctl vm show --json web | jq -r .state)" "running"
# A restart of a clone after its first: a boot, not a restore.
ctl vm stop -f c1 >/dev/null 2>&1
ctl vm start c1 >/dev/null
expect_eq "clone: its next start boots its disk" \
    "$(jq -r 'select(.method == "PUT") | .path' "$(jailroot "$cid")/run/fc-standin.requests" | tr '\n' ' ')" \
    "/logger /metrics /machine-config /boot-source /drives/rootfs /drives/identity /network-interfaces/eth0 /actions "
expect_eq "clone: ...its identity drive still gives its host key" \
    "$(tr -d '\0' <"$cidf" | sed -n 's/^hostkey-public //p')" \
    "$(echo "$js" | jq -r .host_key)"

# --count: NAME-1 to NAME-N.
out=$(ctl vm create many --from-snapshot web/s1 --count 3 --start)
expect_eq "clone: --count makes NAME-1 to NAME-N" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name | startswith("many-")) | "\(.name) \(.state)"' | sort | tr '\n' ' ')" \
    "many-1 running many-2 running many-3 running "
expect_eq "clone: ...each with its own address" \
    "$(ctl vm ls --json | jq -r '.[] | .address' | sort -u | wc -l)" 5

# Refusals, each naming what is wrong.
bad "a snapshot that does not exist" "vm web has no snapshot nope" \
    ctl vm create c2 --from-snapshot web/nope
bad "a VM that does not exist" "no VM named nobody" \
    ctl vm create c2 --from-snapshot nobody/s1
bad "--from-snapshot without a /" 'invalid --from-snapshot "web": VM/SNAP' \
    ctl vm create c2 --from-snapshot web
bad "--memory with --from-snapshot" "--memory, --disk and --ssh-key do not go with it" \
    ctl vm create c2 --from-snapshot web/s1 --memory 256M
bad "a name taken" "a VM named c1 already exists" \
    ctl vm create c1 --from-snapshot web/s1
expect_eq "clone: refusals leave no VM" \
    "$(ctl vm ls --json | jq -r '.[] | .name' | grep -c c2)" 0

# Another user (of group banger) may not clone what is not theirs.
expect_eq "clone: another user cannot clone it (no such VM, to them)" \
    "$(user vm create theirs --from-snapshot web/s1 2>&1)" \
    "bangerctl: --from-snapshot web/s1: no VM named web"

# The origin and its snapshot may go: the clones have their own copies.
ctl vm snapshot rm web s1 >/dev/null
ctl vm stop -f c1 >/dev/null 2>&1
ctl vm restore c1 s1 >/dev/null
expect_eq "clone: its snapshot outlives the origin's" \
    "$(ctl vm show --json c1 | jq -r .state)" "running"
ctl vm rm -f web >/dev/null
expect_eq "clone: the origin removed, nothing of it is left" \
    "$(ls "$STATE/snapshots" | grep -c "$wid")" 0

# A crash in the middle of a clone's creation leaves nothing.
ctl vm snapshot c1 base >/dev/null
for n in 1 2 3; do
	ctl vm create "k$n" --from-snapshot c1/base >/dev/null 2>&1 &
	cpid=$!
	sleep 0.0$((n * 3))
	daemon_kill
	wait "$cpid" 2>/dev/null
	if ! daemon_start; then
		fail "clone: daemon restarts after a crash" "$(tail -5 "$DLOG")"
		t_done
	fi
done
expect_eq "clone: after crashes mid-create, every record is whole" \
    "$(ctl vm ls --json | jq -r '.[] | select(.name | startswith("k")) | .state' | sort -u | grep -v created)" ""
for n in 1 2 3; do
	if kid=$(vm_id "k$n" 2>/dev/null) && [ -n "$kid" ]; then
		expect_eq "clone: k$n, if it was made, has its snapshot" \
		    "$(recorded "$kid")" "base 2"
	fi
done
expect_eq "clone: no snapshot files that no record names" \
    "$(cd "$STATE/snapshots" && for d in */; do d=${d%/}; [ -f "$STATE/priv/$d" ] || echo "$d"; done)" ""

t_done
