#!/bin/sh
# Slurm, for real: a single-node cluster on this machine (munged, slurmctld,
# slurmd, with a slurm.conf written here and four fake GPUs), the job array of
# share/examples/slurm/od-depth.sbatch over a folder of pictures, checked
# byte for byte against one unsharded run; resuming; and make eval SRUN=srun.
# Skips only where Debian's slurm-wlm and munge are not installed or the
# daemons cannot be started (they need root); never leaves a daemon running.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"

skip() {
	echo "1..0 # SKIP $1"
	exit 0
}
for p in munged slurmctld slurmd sbatch srun sinfo; do
	command -v $p > /dev/null 2>&1 || [ -x /usr/sbin/$p ] ||
		skip "$p is not installed (Debian: apt-get install slurm-wlm munge; ./bootstrap installs them)"
done
PATH=$PATH:/usr/sbin
[ "$(id -u)" -eq 0 ] || skip "the Slurm daemons of this test run as root"

chmod 755 "$T_TMP" # munged wants its socket folder and those above it searchable by all
D=$T_TMP/slurm
mkdir -p "$D/state" "$D/spool" "$D/munge"
stop() {
	for p in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munge/pid"; do
		[ -s "$p" ] && kill "$(cat "$p")" 2> /dev/null
	done
	# wait for them to go, so that the folder can be removed
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=0
		for p in "$D/slurmd.pid" "$D/slurmctld.pid" "$D/munge/pid"; do
			[ -s "$p" ] && kill -0 "$(cat "$p")" 2> /dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.5
	done
}
trap 'stop; rm -rf "$T_TMP"' EXIT
trap 'exit 1' INT TERM HUP

H=$(hostname -s)
# ports of this run (several test runs may share the machine)
base=$((20000 + $$ % 20000))
dd if=/dev/urandom of="$D/munge.key" bs=1024 count=1 2> /dev/null
chmod 400 "$D/munge.key"
munged --key-file="$D/munge.key" --socket="$D/munge/sock" --pid-file="$D/munge/pid" --log-file="$D/munge/log" \
	--seed-file="$D/munge/seed" 2> "$D/munged.err" || skip "munged cannot start: $(head -n 1 "$D/munged.err")"
for g in 0 1 2 3; do mknod "$D/gpu$g" c 1 3 2> /dev/null || skip "cannot make the fake GPU devices (mknod)"; done
cat > "$D/slurm.conf" <<EOF
ClusterName=odtest
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/sock
CredType=cred/munge
SlurmctldPort=$base
SlurmdPort=$((base + 1))
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:4 State=UNKNOWN
PartitionName=od Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
echo "NodeName=$H Name=gpu File=$D/gpu[0-3]" > "$D/gres.conf"
export SLURM_CONF=$D/slurm.conf
slurmctld -i -f "$SLURM_CONF" 2> "$D/ctld.err" || skip "slurmctld cannot start: $(head -n 1 "$D/ctld.err")"
slurmd -f "$SLURM_CONF" 2> "$D/slurmd.err" || skip "slurmd cannot start: $(head -n 1 "$D/slurmd.err")"
up=0
for _ in $(seq 1 40); do
	if sinfo -h -o %t 2> /dev/null | grep -q '^idle'; then up=1; break; fi
	sleep 0.5
done
[ $up = 1 ] || skip "the single-node cluster did not come up: $(tail -n 1 "$D/slurmctld.log" 2> /dev/null)"
t_result 0 "a single-node cluster: munged, slurmctld, slurmd on $H"

# the pictures, and what one unsharded run makes of them
mkdir photos
for i in 1 2 3 4 5 6; do odimg synth $i 80 64 photos/IMG_000$i.png; done
t_ok "one unsharded run" sh -c "od-tag -t depth2image '' -o tag.odf &&
	od-encode -S 64 -s 5 --prompt tag.odf photos | od-denoise --mask 01 -n 2 -s 5 --progress=none |
	od-decode --role target -o 'whole/%{source}.png'"

SBATCH=$OD_SRCDIR/share/examples/slurm/od-depth.sbatch
array() { # what, then the job array's outputs in depth/ and logs in log-*.txt
	rm -f log-*.txt
	OD_DEVICE=cpu OD_THREADS=1 SIZE=64 STEPS=2 SEED=5 timeout 300 \
		sbatch --wait --quiet --array=0-3 --cpus-per-task=1 --output="$T_TMP/log-%a.txt" "$SBATCH" photos depth
}
t_ok "sbatch --array=0-3 od-depth.sbatch photos depth" array
t_ok "... the same six names as the unsharded run" sh -c '[ "$(ls depth)" = "$(ls whole)" ] && [ $(ls whole | wc -l) -eq 6 ]'
same=0
for f in whole/*.png; do cmp -s "$f" "depth/${f#whole/}" || same=1; done
t_result $same "... byte for byte the same pictures"
t_ok "... four shards, their lists in depth/.shards" sh -c '[ "$(ls depth/.shards | tr "\n" " ")" = "0-of-4.list 1-of-4.list 2-of-4.list 3-of-4.list " ]'
t_grep '^depth/IMG_0006.png$' depth/.shards/1-of-4.list "... shard 1 made IMG_0006 (job 5)"
gpus=$(cat log-*.txt | sed -n 's/.*CUDA_VISIBLE_DEVICES=\([0-9]*\)$/\1/p' | sort | tr '\n' ' ')
echo "# the tasks' CUDA_VISIBLE_DEVICES: $gpus"
t_ok "... each task had one GPU of Slurm's: CUDA_VISIBLE_DEVICES a single index" \
	sh -c "[ \$(cat log-*.txt | grep -c 'CUDA_VISIBLE_DEVICES=[0-3]\$') -eq 4 ]"

# resuming: done shards are skipped, a shard with a missing picture runs again
touch -d '2000-01-01' depth/*.png
rm depth/IMG_0003.png
t_ok "the same array again after a lost picture" array
t_ok "... three shards skipped" sh -c "[ \$(grep -l 'done already' log-*.txt | wc -l) -eq 3 ]"
t_grep "shard 2/4: pictures written: 1" log-2.txt "... shard 2 made again"
t_ok "... IMG_0003.png is back, the same bytes" cmp depth/IMG_0003.png whole/IMG_0003.png
t_ok "... the others untouched" sh -c "[ \$(find depth -name '*.png' ! -newer photos/IMG_0001.png | wc -l) -eq 5 ]"

# make eval, its predictions dispatched through srun
ev() { # OUT, then more make arguments
	out=$1
	shift
	timeout 400 make -s -f "$OD_SRCDIR/eval/Makefile" BIN="$OD_BIN" MODEL="$OD_MODEL" OUT="$T_TMP/$out" N=2 SIZE=64 \
		STEPS=2 THREADS=1 -j2 "$@" > "$out.txt" 2>&1
}
t_ok "make eval N=2 here" ev ev-local
n0=$(grep -c 'sched: _slurm_rpc_allocate_resources' "$D/slurmctld.log")
t_ok "make eval N=2 SRUN='srun --quiet'" ev ev-srun SRUN='srun --quiet'
tail -n 5 ev-srun.txt | sed 's/^/# make: /'
n1=$(grep -c 'sched: _slurm_rpc_allocate_resources' "$D/slurmctld.log")
echo "# allocations for make eval: $((n1 - n0))"
t_ok "... every prediction job was a Slurm allocation (2 scenes × 9 jobs)" test $((n1 - n0)) -ge 18
# (the pictures record their sources' paths, which differ with OUT: their pixels are compared)
same=0 n=0
for f in $(cd ev-local && find . -name '*.png' ! -name sheet.png | sort); do
	n=$((n + 1))
	odimg cmp "ev-local/$f" "ev-srun/$f" > /dev/null 2>&1 || { same=1; echo "# $f differs"; }
done
for f in $(cd ev-local && find . -name '*.json' ! -name 'results.json' | sort); do
	n=$((n + 1))
	cmp -s "ev-local/$f" "ev-srun/$f" || { same=1; echo "# $f differs"; }
done
echo "# $n files compared"
t_result $same "... the same predictions, baselines and scenes"
t_ok "... the same results" cmp ev-local/results.json ev-srun/results.json
t_done
