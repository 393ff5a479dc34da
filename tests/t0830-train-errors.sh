#!/bin/sh
# od-train train on bad input: one line on stderr naming the file (and frame, or
# step), the documented exit status (1 the run diverged, 2 usage, 3 bad input
# data, 4 model problem, 5 I/O), and nothing lost: no output folder when a run
# cannot start, the last checkpoint intact when it stops.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
odpattern red 64 red.png
odpattern disc 64 disc.png
{ od-tag "a red picture"; od-encode -S 64x64 --role target red.png;
  od-tag "a disc"; od-encode -S 64x64 --role target disc.png; } > toy.odf
T="--steps 2 --progress=none"

fails() { # STATUS WHAT GREP-PATTERN cmd...
	st=$1 what=$2 pat=$3
	shift 3
	t_fails "$st" "$what" "$@"
	t_grep "$pat" "$T_ERR" "$what: message"
	t_ok "$what: no output folder" test ! -e run
}

# ---- usage
fails 2 "no output folder given" "give the output folder" od-train train $T toy.odf
fails 2 "no --steps" "give the number of steps" od-train train -o run toy.odf
fails 2 "no data" "give the training data" od-train train -o run $T
fails 2 "an unknown option" "unknown option '--bogus'" od-train train -o run $T --bogus toy.odf
fails 2 "--schedule linear" "not constant or cosine" od-train train -o run $T --schedule linear toy.odf
fails 2 "--sample-every without prompts" "needs --sample-prompts" od-train train -o run $T --sample-every 2 toy.odf
fails 2 "--until past --steps" "is past --steps" od-train train -o run $T --until 5 toy.odf
printf 'a red picture\n' > prompts.txt
fails 2 "--sample-size the model cannot take" "train: --sample-size: 24x24 is not a multiple of 16 on both sides" \
	od-train train -o run $T --sample-every 1 --sample-prompts prompts.txt --sample-size 24x24 toy.odf
fails 2 "a weight of 0" "must be a positive number" od-train train -o run $T toy.odf:0
fails 2 "standard input as data" "not standard input" od-train train -o run $T - < toy.odf
fails 2 "caption dropout with no text encoder" "caption dropout needs the empty prompt" \
	env OD_MODEL= od-train train --config "$OD_MODEL/transformer/config.json" -o run $T toy.odf
fails 5 "a missing data file" "'none.odf': cannot open" od-train train -o run $T none.odf

# ---- bad data sets (the frame reader and the job rules)
: > empty.odf
fails 3 "an empty data file" "'empty.odf': no training jobs" od-train train -o run $T empty.odf
{ od-tag "x"; od-encode -S 64x64 red.png; } > notarget.odf
fails 3 "a job without a target frame" "notarget.odf': frame 0: job 0 has no target frame" \
	od-train train -o run $T notarget.odf
od-tag "x" > textonly.odf
fails 3 "a job without latent frames" "job 0 has no latent or rays frame" od-train train -o run $T textonly.odf
od-frame from-safetensors "$OD_GOLDEN/cases/vae/encode_64x64.safetensors" --tensor moments --squeeze \
	--role target -o ch32.odf
{ od-tag "x"; cat ch32.odf; } > channels.odf
fails 3 "latents with 32 channels" "channels.odf': frame 2: 32 channels, the model takes 16" \
	od-train train -o run $T channels.odf
od-frame from-safetensors "$OD_GOLDEN/cases/transformer/t2i_1f.safetensors" --tensor x_embed \
	--mask encoder_attention_mask --kind text --squeeze --role condition -o wide.odf
{ cat wide.odf; od-encode -S 64x64 --role target red.png; } > widejob.odf
fails 3 "text of the wrong width" "widejob.odf': frame 0: a text frame must be (S, 64) T5 states" \
	od-train train -o run $T widejob.odf
{ od-tag "x"; od-encode -S 64x64 --role target red.png; od-encode -S 32x32 --role target red.png; } > sizes.odf
fails 3 "frames of two sizes in a job" "sizes.odf': frame 3: size 4×4 differs from the job's 8×8" \
	od-train train -o run $T sizes.odf
head -c 5000 toy.odf > cut.odf
fails 3 "a truncated data file" "cut.odf': frame 0: truncated data" od-train train -o run $T cut.odf
{ od-encode -S 64x64 --role target red.png; od-tag "x"; } > first.odf
fails 3 "a latent before any prompt" "first.odf': frame 0: a latent frame before any prompt" \
	od-train train -o run $T first.odf
printf '%080d\n' 0 > notframes.odf
fails 3 "not a frame stream" "not an od frame stream" od-train train -o run $T notframes.odf
fails 3 "bad data among good" "notarget.odf" od-train train -o run $T toy.odf notarget.odf
printf '\377\376\n' > badprompts.txt
fails 3 "sample prompts that are not text" "badprompts.txt': line 1: not a line of UTF-8 text" \
	od-train train -o run $T --sample-every 1 --sample-prompts badprompts.txt toy.odf

# ---- a run that diverges: the loss of step 5 is not finite (the cosine's floor of
# 1e25 blows the weights up after the warm-up); the checkpoint of step 4 stays
t_fails 1 "a non-finite loss stops the run" od-train train -o div --steps 6 --warmup 3 --schedule cosine \
	--min-lr 1e25 --lr 1e-3 --save-every 2 --keep 0 --progress=none toy.odf
t_grep "step 5: the loss is not finite" "$T_ERR" "... naming the step"
t_ok "... the checkpoint of step 4 is intact" od-model info --check div/step-0000004
t_ok "... and latest points at it" test "$(readlink div/latest)" = step-0000004
t_ok "... the log ends at step 4" test "$(tail -1 div/log.csv | cut -d, -f1)" = 4

# ---- a full disk while writing a checkpoint (RLIMIT_FSIZE): the previous one stays
t_ok "a run of 4 steps" od-train train -o full --steps 4 --progress=none toy.odf
cp -R full before
sh -c "trap '' XFSZ; ulimit -f 1000; exec od-train train --resume full --steps 8 --progress=none" >/dev/null 2>"$T_ERR"
st=$?
t_result "$([ $st -eq 5 ] && [ "$(wc -l < "$T_ERR")" -eq 1 ] && echo 0 || echo 1)" "a full disk: exit 5, one line ($st)"
t_grep "full/step-0000008': the checkpoint of step 8 could not be written" "$T_ERR" "... naming the checkpoint"
t_grep "File too large" "$T_ERR" "... and why"
t_ok "... the previous checkpoint is byte for byte as it was" diff -r before/step-0000004 full/step-0000004
t_ok "... latest still points at it" test "$(readlink full/latest)" = step-0000004
t_ok "... no temporary folder left" sh -c '! ls -a full | grep -q tmp'
t_ok "... and the run resumes from it" od-train train --resume full --steps 8 --progress=none
t_ok "... to step 8" test "$(readlink full/latest)" = step-0000008

# ---- an interrupt: the step in progress ends, its checkpoint is written
# (env --default-signal: the signals' default actions, whatever this script
# inherited; a script run under nohup ignores SIGHUP, and its children would)
env --default-signal od-train train -o int --steps 1000000 --progress=none toy.odf 2> int.err &
pid=$!
t_wait_lines int/log.csv 3
kill -INT $pid
wait $pid
st=$?
t_result "$([ $st -eq 1 ] && [ "$(wc -l < int.err)" -eq 1 ] && echo 0 || echo 1)" "an interrupt: exit 1, one line ($st)"
t_grep "interrupted at step" int.err "... naming the step"
n=$(tail -1 int/log.csv | cut -d, -f1)
t_ok "... the checkpoint of that step ($n) is written" test "$(readlink int/latest)" = "$(printf 'step-%07d' "$n")"
t_ok "... and the run resumes" od-train train --resume int --until $((n + 2)) --progress=none

# ---- other fatal signals: the run dies of the signal, keeps its last
# checkpoint, and leaves nothing when it has none yet
hup() { # RUN LINES [OPTION...]: start a long run into RUN, send SIGHUP once its log has LINES lines
	run=$1 lines=$2
	shift 2
	env --default-signal od-train train -o "$run" --steps 1000000 --progress=none "$@" toy.odf 2> /dev/null &
	pid=$!
	t_wait_lines "$run/log.csv" "$lines"
	kill -HUP $pid
	{ wait $pid; } 2> /dev/null
}
hup new 2
st=$?
t_result $((st != 129)) "SIGHUP before the first checkpoint: killed by the signal ($st)"
t_ok "... the run's folder is gone" test ! -e new
mkdir there
hup there 2
st=$?
t_result $((st != 129)) "SIGHUP before the first checkpoint, in a folder that was there ($st)"
t_ok "... the folder stays, empty" sh -c 'test -d there && test -z "$(ls -A there)"'
hup old 8 --save-every 2 --keep 2
st=$?
t_result $((st != 129)) "SIGHUP after checkpoints: killed by the signal ($st)"
t_ok "... the last checkpoint is whole" od-model info --check old/latest
t_ok "... the log is there" test -s old/log.csv
t_ok "... no temporary folder left" sh -c '! ls -a old | grep -q tmp'
mkdir perm
t_ok "... checkpoint folders have the permissions mkdir gives" test "$(stat -c %a old/latest/)" = "$(stat -c %a perm)"
t_ok "... and the run resumes" od-train train --resume old --until "$(($(readlink old/latest | sed 's/step-0*//') + 1))" \
	--progress=none

# ---- resume problems
t_ok "a run to resume" od-train train -o R --steps 3 --lr 1e-3 --progress=none toy.odf
t_fails 2 "a run folder used again without --resume" od-train train -o R $T toy.odf
t_grep "a run is there already" "$T_ERR" "... message"
t_fails 2 "--resume with another --lr" od-train train --resume R --lr 2e-3
t_grep "the run was started with --lr 0.001, not 0.002" "$T_ERR" "... message"
t_fails 2 "--resume with another --seed" od-train train --resume R --seed 9
t_fails 2 "--resume with another base model" od-train train --resume R -m "$OD_MODEL/../../tests/golden/onediffusion-full-configs"
t_fails 2 "--resume a folder without a checkpoint" od-train train --resume "$OD_MODEL"
t_grep "no checkpoint to resume" "$T_ERR" "... message"
t_fails 2 "--resume past --steps" od-train train --resume R --steps 2
{ cat toy.odf; od-tag "y"; od-encode -S 64x64 --role target red.png; } > more.odf
t_fails 3 "--resume with data that changed" od-train train --resume R more.odf
t_grep "the data changed since the run started" "$T_ERR" "... message"
cp -R R R2
head -c 3000 R/latest/train_state.safetensors > R2/latest/train_state.safetensors
t_fails 3 "--resume a damaged training state" od-train train --resume R2
t_grep "train_state.safetensors" "$T_ERR" "... naming the file"
sed 's/"depth": 2/"depth": 1/' "$OD_MODEL/transformer/config.json" > depth1.json
t_ok "a run of a one-block model" od-train train --config depth1.json -o D1 --steps 1 --progress=none toy.odf
cp -R R R3
cp D1/latest/train_state.safetensors R3/latest/train_state.safetensors
t_fails 4 "--resume with another model's training state" od-train train --resume R3
t_grep "a state of this model has" "$T_ERR" "... message"
t_ok "the run itself still resumes" od-train train --resume R --steps 4 --progress=none

# ---- init
t_fails 2 "init into an existing folder" od-train init --config depth1.json -o R
t_fails 4 "init from a config that is not JSON" od-train init --config toy.odf -o new
t_grep "'toy.odf': not valid JSON: " "$T_ERR" "... naming the file"
t_ok "... no output" test ! -e new
t_done
