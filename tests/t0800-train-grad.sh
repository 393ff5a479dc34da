#!/bin/sh
# od-train grad reproduces the upstream gradients of the golden training cases
# (tests/golden/README.md §11): for cases (a), (b) and (c) the loss (|ΔL| ≤ 2e-6·L),
# the model output (atol 5e-5) and the gradient of every one of the 60 weights
# within the tight per-group tolerances of §11.6 (od reproduces t_tok and forms the
# sinusoid arguments in float32 with torch's ω_k), rtol 1e-4; ky_norm.bias, whose
# exact gradient is zero, within |g| ≤ 5e-8. Case (a) also without the soft-cap
# (the nocap.* keys), and its intermediate gradients dL.model_output,
# dL.x_embed, dL.c, dL.block{0,1}_out (--intermediates, per-token adaLN).
# Then: 1 and 2 threads, --recompute, and the scalar kernels (OD_NO_SIMD=1) give
# identical bytes; bad inputs fail with one line and no output file.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/train

# the §11.6 group of a weight -> "atol" (tight column)
tol() {
	case $1 in
	*ky_norm.bias) echo zero ;;
	x_embedder.* | t_embedder.* | y_embedder.*) echo 5e-6 ;;
	*adaLN_modulation.1.*) echo 5e-6 ;;
	*attention.wq.weight | *attention.wk.weight | *attention.wv.weight | *attention.wo.weight) echo 5e-6 ;;
	*q_norm.* | *k_norm.*) echo 1e-6 ;;
	*wk_y.weight | *wv_y.weight | *ky_norm.weight | *attention.gate | *attention_y_norm.weight) echo 2e-6 ;;
	*attention_norm1.weight | *attention_norm2.weight | *ffn_norm1.weight | *ffn_norm2.weight) echo 5e-6 ;;
	*feed_forward.w1.weight | *feed_forward.w2.weight | *feed_forward.w3.weight) echo 5e-6 ;;
	final_layer.linear.*) echo 1e-6 ;;
	*) echo unknown ;;
	esac
}

# every weight's gradient in OUT against PREFIX.grad.<name> of the golden file
check_grads() { # OUT GOLDEN PREFIX LABEL
	n=0 bad=0 msg=
	for name in $(weight_names); do
		n=$((n + 1))
		t=$(tol "$name")
		if [ "$t" = zero ]; then
			odcmp --atol 5e-8 --zero "$1:grad.$name" > cmp.txt 2>&1
		elif [ "$t" = unknown ]; then
			echo "no tolerance group for $name" > cmp.txt; false
		else
			odcmp --atol "$t" --rtol 1e-4 "$1:grad.$name" "$2:$3grad.$name" > cmp.txt 2>&1
		fi || { bad=$((bad + 1)); msg="$msg$(cat cmp.txt)
"; }
	done
	[ "$n" -eq 60 ] && [ "$bad" -eq 0 ]
	t_result $? "$4: all $n weight gradients within the §11.6 tolerances"
	[ -n "$msg" ] && printf '%s' "$msg" | head -8 | sed 's/^/# /'
	[ "$n" -eq 60 ] || echo "# $n weights, not 60"
}

# the 60 weight names, from the checkpoint
weight_names() {
	odcase "$OD_MODEL/transformer/diffusion_pytorch_model.safetensors" names
}

for case in a_b2_f2_8x8 b_b1_f4_mv_8x8 c_b2_f1_8x12; do
	t_ok "$case: od-train grad" od-train grad --case "$G/$case.safetensors" -o $case.out.safetensors
	t_ok "$case: the loss within 2e-6·L" odcmp --rtol 2e-6 $case.out.safetensors:loss "$G/$case.safetensors:loss"
	t_ok "$case: the model output within 5e-5" odcmp --atol 5e-5 $case.out.safetensors:model_output "$G/$case.safetensors:model_output"
	check_grads $case.out.safetensors "$G/$case.safetensors" "" "$case"
done

A=$G/a_b2_f2_8x8.safetensors
t_ok "a: od-train grad --no-softcap" od-train grad --no-softcap --case "$A" -o nocap.safetensors
t_ok "a, no cap: the loss within 2e-6·L" odcmp --rtol 2e-6 nocap.safetensors:loss "$A:nocap.loss"
t_ok "a, no cap: the model output within 5e-5" odcmp --atol 5e-5 nocap.safetensors:model_output "$A:nocap.model_output"
check_grads nocap.safetensors "$A" nocap. "a, no cap"
t_fails 1 "a: the no-cap gradients are not within the tolerance of the soft-cap ones" \
	odcmp --atol 5e-6 --rtol 1e-4 nocap.safetensors:grad.layers.0.attention.wq.weight "$A:grad.layers.0.attention.wq.weight"

# intermediate gradients (per-token adaLN, upstream's layout of dL.c)
t_ok "a: od-train grad --intermediates" od-train grad --intermediates --case "$A" -o inter.safetensors
# ∂L/∂out = 2(out − target)/N follows the output: 2/4096 · 5e-5 (od's exact form is a unit test)
t_ok "a: dL.model_output within 2.5e-8 + rtol 1e-6" \
	odcmp --atol 2.5e-8 --rtol 1e-6 inter.safetensors:dL.model_output "$A:dL.model_output"
for k in x_embed c block0_out block1_out; do
	t_ok "a: dL.$k within atol 1e-6, rtol 1e-4" odcmp --atol 1e-6 --rtol 1e-4 inter.safetensors:dL.$k "$A:dL.$k"
done
check_grads inter.safetensors "$A" "" "a, per-token adaLN"

# determinism: thread counts and recomputation change no byte
t_ok "a: 1 thread" od-train grad -j 1 --case "$A" -o j1.safetensors
t_ok "a: 2 threads" od-train grad -j 2 --case "$A" -o j2.safetensors
t_ok "a: 1 and 2 threads give identical bytes" cmp j1.safetensors j2.safetensors
t_ok "a: --recompute" od-train grad --recompute -j 2 --case "$A" -o rc.safetensors
t_ok "a: --recompute gives the bytes of the stored activations" cmp j2.safetensors rc.safetensors
t_ok "b: 1 thread, --intermediates" od-train grad -j 1 --intermediates --case "$G/b_b1_f4_mv_8x8.safetensors" -o b1.safetensors
t_ok "b: 2 threads, --intermediates --recompute" \
	od-train grad -j 2 --intermediates --recompute --case "$G/b_b1_f4_mv_8x8.safetensors" -o b2.safetensors
t_ok "b: identical bytes" cmp b1.safetensors b2.safetensors
t_ok "a: the scalar kernels (OD_NO_SIMD=1)" env OD_NO_SIMD=1 od-train grad -j 2 --case "$A" -o nosimd.safetensors
t_ok "a: the scalar and vectorised kernels give identical bytes" cmp j2.safetensors nosimd.safetensors

# bad input: one line, the documented status, no output
t_fails 2 "no --case" od-train grad -o x.safetensors
t_fails 2 "no -o" od-train grad --case "$A"
t_fails 2 "unknown command" od-train frobnicate
t_fails 5 "missing case file" od-train grad --case nonexistent.safetensors -o x.safetensors
t_grep "^od-train: 'nonexistent.safetensors': cannot open: No such file or directory$" "$T_ERR" \
	"... the message names the file"
printf 'not a safetensors file' > junk.safetensors
t_fails 3 "a case that is not safetensors" od-train grad --case junk.safetensors -o x.safetensors
t_fails 3 "a case without x_sigma (the model's golden forward case)" \
	od-train grad --case "$OD_GOLDEN/cases/transformer/t2i_1f.safetensors" -o x.safetensors
t_fails 4 "a model folder without a transformer" od-train grad -m . --case "$A" -o x.safetensors
t_ok "no output file after the failures" test ! -e x.safetensors
t_done
