#!/bin/sh
# t0795: the trained model that ships (share/scene-onediffusion) reproduces
# the README's evaluation table: make eval on the first scenes of the table's
# held-out set, with the table's settings (128x128, 20 sampler steps, seed
# 9001, float32), is held value by value, scene by scene, to the table's
# results (eval/reference/scene-onediffusion/results.json) by od-eval compare,
# within the tolerance the README states. Two scenes: the whole table takes
# minutes (32 scenes), and a run's numbers do not depend on how many scenes
# it has (each scene is made and scored on its own).
. "$OD_SRCDIR/tests/lib.sh"
t_need make bash
cd "$T_TMP" || exit 1
# a make of its own, not a part of make check's
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
M=$OD_SRCDIR/share/scene-onediffusion
R=$OD_SRCDIR/eval/reference/scene-onediffusion

t_ok "the model is a complete checkpoint" od-model info --check "$M"
t_ok "make eval N=2 SIZE=128 STEPS=20 on it" \
	make -f "$OD_SRCDIR/eval/Makefile" BIN="$OD_BIN" MODEL="$M" OUT="$T_TMP/ev" N=2 SIZE=128 STEPS=20 THREADS=0
t_ok "every value within the README's tolerance of its table (od-eval compare --rel 0.05 --abs 0.02)" \
	od-eval compare --rel 0.05 --abs 0.02 "$R/results.json" "$T_TMP/ev/results.json"
t_done
