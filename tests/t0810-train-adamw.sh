#!/bin/sh
# AdamW through od-train (tests/golden/README.md §11.4, §11.6).
#  - From the stored gradients (`od-train step FILE:PREFIX`): case (a)'s grad.*
#    from the checkpoint weights, then adamw_2steps' step2_grad.*: every stored
#    step1./step2. weight and state{1,2}. moment bit for bit.
#  - With od-train's own gradient (`od-train step FILE`, the gradient od-train
#    grad computes) for step 2, step 1 from the stored gradients: the weights
#    within §11.6's atol 2e-6 of torch's, except ky_norm.bias (its gradient is
#    rounding noise, which AdamW normalises into an unpredictable step); case
#    (b)'s loss and output at the step-1 weights. (Step 1 from an own gradient
#    has no tolerance in §11.6: AdamW's first step is g/(|g| + eps), so at the
#    few elements where |g| ~ 1e-7 any rounding of g moves it.)
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/train
A=$G/a_b2_f2_8x8.safetensors
B=$G/b_b1_f4_mv_8x8.safetensors
W=$G/adamw_2steps.safetensors
H="--lr 5e-4 --weight-decay 0.01 --beta1 0.9 --beta2 0.999 --adam-eps 1e-8"
weights() { echo "$1/transformer/diffusion_pytorch_model.safetensors"; }

# names of the tensors the file stores step1./step2. for (all but the 9 largest)
names=$(odcase "$W" names | sed -n 's/^step1\.//p')
n=$(echo "$names" | wc -l)
t_result "$([ "$n" -eq 51 ] && echo 0 || echo 1)" "adamw_2steps stores 51 tensors per step ($n)"
state_names="layers.0.attention.gate layers.0.attention.ky_norm.bias layers.1.attention.q_norm.weight
	final_layer.linear.bias layers.1.attention.wv_y.weight"

# ---- bit for bit from the stored gradients
t_ok "step 1 from case (a)'s stored gradients" od-train step $H -o x1 "$A:grad."
t_ok "step 2 from the stored step-2 gradients" od-train step $H -o x2 "$A:grad." "$W:step2_grad."
for step in 1 2; do
	bad=0 msg=
	for name in $names; do
		odcmp --exact "$(weights x$step):$name" "$W:step$step.$name" > cmp.txt 2>&1 ||
			{ bad=$((bad + 1)); msg="$msg$(head -1 cmp.txt) "; }
	done
	t_result "$bad" "step $step: the 51 stored weights bit for bit ($bad differ)"
	[ -n "$msg" ] && echo "# $msg" | head -c 1500 && echo
	bad=0
	for name in $state_names; do
		for m in exp_avg exp_avg_sq; do
			odcmp --exact "x$step/train_state.safetensors:adamw.$m.$name" "$W:state$step.$m.$name" > cmp.txt 2>&1 ||
				{ bad=$((bad + 1)); sed 's/^/# /' cmp.txt | head -2; }
		done
	done
	t_result "$bad" "step $step: the 10 stored moments bit for bit"
done

# ---- with od-train's own gradient for step 2 (the README's "own step-2 gradients"):
# step 1 from the stored gradients, step 2 from the gradient od-train computes
t_ok "step 1 stored, step 2 with od-train's gradient of case (b)" od-train step $H -o s2 "$A:grad." "$B"
t_ok "the checkpoint loads and checks" od-model info --check s2
bad=0 checked=0 msg=
for name in $names; do
	case $name in *ky_norm.bias) continue ;; esac
	checked=$((checked + 1))
	odcmp --atol 2e-6 "$(weights s2):$name" "$W:step2.$name" > cmp.txt 2>&1 ||
		{ bad=$((bad + 1)); msg="$msg$(head -1 cmp.txt) "; }
done
t_result "$([ "$bad" -eq 0 ] && [ "$checked" -eq 49 ] && echo 0 || echo 1)" \
	"step 2: $checked weights within atol 2e-6 of torch's"
[ -n "$msg" ] && echo "# $msg" | head -c 1500 && echo
t_ok "case (b)'s gradient at the step-1 weights" od-train grad -m x1 --case "$B" -o b1.safetensors
t_ok "... its loss within 2e-6·L of torch's" odcmp --rtol 2e-6 b1.safetensors:loss "$W:loss_b_at_step1"
t_ok "... its output within atol 5e-5" odcmp --atol 5e-5 b1.safetensors:model_output "$W:model_output_b_at_step1"
t_ok "two steps with od-train's own gradients run" od-train step $H -o s3 "$A" "$B"

t_fails 2 "step: an existing output folder" od-train step -o s2 "$A"
t_fails 3 "step: not a batch file" od-train step -o s4 "$W"
t_ok "... and no output folder" test ! -e s4
t_fails 3 "step: no gradients under that prefix" od-train step -o s4 "$A:nothing."
t_done
