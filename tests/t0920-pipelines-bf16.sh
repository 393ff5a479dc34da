#!/bin/sh
# The golden pipeline runs (t0900) again with --precision bf16 on every tool,
# at each BF16 level the CPU has (AMX, AVX512-BF16; OD_CPU_ISA selects it):
# BF16 products move the result away from upstream's float32 one, so the
# bounds are BF16's, stated here: the final latents within 0.5 (measured on an
# AMX Xeon: 0.17 to 0.31, latents up to ±3) and the pictures within 20 levels
# (measured: 8 to 12). A wrong product (a misplaced element, a lost block of K)
# moves latents by whole units and pictures by a hundred levels.
# Then: the thread count never changes the bytes in bf16 either; the default
# precision is bf16 on such a CPU; below AVX512-BF16 bf16 computes the fp32
# bytes of its level; bad --precision, OD_PRECISION and OD_CPU_ISA values are usage errors.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
G=$OD_GOLDEN/cases/pipeline

t_fails 2 "--precision fp16: usage error" od-denoise --precision fp16 /dev/null
t_fails 2 "OD_PRECISION=fp16: usage error" env OD_PRECISION=fp16 od-tag 'a cube'
t_fails 2 "OD_CPU_ISA=sse2: usage error" env OD_CPU_ISA=sse2 od-tag 'a cube'

levels=
grep -qw avx512_bf16 /proc/cpuinfo && levels=avx512bf16
grep -qw amx_bf16 /proc/cpuinfo && grep -qw avx512_bf16 /proc/cpuinfo && levels="amx avx512bf16"
case ${OD_CPU_ISA:-} in
avx2 | generic) levels= ;;
avx512bf16) levels=avx512bf16 ;;
esac
if [ -z "$levels" ]; then
	echo "ok 4 # SKIP this CPU has neither AVX512-BF16 nor AMX (or OD_CPU_ISA lowers it)"
	T_N=4
	t_done
	exit
fi

P="--precision bf16"
for isa in $levels; do
	export OD_CPU_ISA=$isa
	t_ok "$isa t2i: od-tag | od-denoise | od-decode, bf16" sh -c \
		"od-tag $P -N '[[text2image]] A tiny red cube on a wooden table, studio light' |
		 od-denoise $P --size 64x64 --steps 4 --guidance 4 --seed 1001 | tee t2i.odf | od-decode $P -o t2i.png"
	t_ok "$isa t2i: final latents within 0.5" odcmp --atol 0.5 t2i.odf "$G/t2i_softcap.safetensors:final_latents"
	t_ok "$isa t2i: picture within 20 levels" odimg cmp --max 20 t2i.png "$G/t2i_softcap_out0.png"

	t_ok "$isa depth2image, bf16" sh -c \
		"{ od-tag $P -N '[[depth2image]] a small stone house in a green valley';
		   od-encode $P -S 64x64 --seed 1002 $G/depth_100x75.png; } |
		 od-denoise $P --mask 10 --steps 4 --guidance 4 --seed 1002 --all | tee d2i.odf |
		 od-decode $P --role target -o d2i.png"
	t_ok "$isa depth2image: final latents within 0.5" odcmp --atol 0.5 d2i.odf "$G/depth2image_mask10_softcap.safetensors:final_latents"
	t_ok "$isa depth2image: picture within 20 levels" odimg cmp --max 20 d2i.png "$G/depth2image_mask10_softcap_out0.png"

	t_ok "$isa image2depth, bf16" sh -c \
		"{ od-tag $P '[[depth2image]]'; od-encode $P -S 64x64 --seed 1003 $G/rgb_64x64.png; } |
		 od-denoise $P --mask 01 --steps 4 --guidance 4 --seed 1003 --all | tee i2d.odf |
		 od-decode $P --role target -o i2d.png"
	t_ok "$isa image2depth: final latents within 0.5" odcmp --atol 0.5 i2d.odf "$G/image2depth_mask01_softcap.safetensors:final_latents"
	t_ok "$isa image2depth: picture within 20 levels" odimg cmp --max 20 i2d.png "$G/image2depth_mask01_softcap_out0.png"

	t_ok "$isa multiview, bf16" sh -c \
		"{ od-tag $P -N '[[multiview]] a wooden chair';
		   od-encode $P -S 64x64 --seed 1004 $G/mv_view0_64x64.png;
		   od-plucker -a 0,45,90 -e 0,10,-10 -d 1.5 --focal 1.3887 --size 64; } |
		 od-denoise $P --mask 001010 --steps 4 --guidance 4 --seed 1004 --all | tee mv.odf |
		 od-decode $P --role target --skip-rays -o mv_%d.png"
	t_ok "$isa multiview: final latents within 0.5" odcmp --atol 0.5 mv.odf "$G/multiview_mask001010_softcap.safetensors:final_latents"
	t_ok "$isa multiview: view 1 within 20 levels" odimg cmp --max 20 mv_0.png "$G/multiview_mask001010_softcap_out0.png"
	t_ok "$isa multiview: view 2 within 20 levels" odimg cmp --max 20 mv_1.png "$G/multiview_mask001010_softcap_out1.png"

	# thread counts: identical bytes from every tool
	t_ok "$isa od-tag bf16: 1 and 2 threads, identical bytes" sh -c \
		"od-tag $P --threads 1 -N 'a red cube' > tag1.odf && od-tag $P --threads 2 -N 'a red cube' > tag2.odf &&
		 cmp tag1.odf tag2.odf"
	t_ok "$isa od-encode bf16: 1 and 2 threads, identical bytes" sh -c \
		"od-encode $P -j 1 -S 64x64 --seed 3 $G/rgb_64x64.png > e1.odf &&
		 od-encode $P -j 2 -S 64x64 --seed 3 $G/rgb_64x64.png > e2.odf && cmp e1.odf e2.odf"
	t_ok "$isa od-denoise bf16: 1 and 2 threads, identical bytes" sh -c \
		"od-denoise $P -j 1 --size 64x64 --steps 3 --seed 9 tag1.odf > dn1.odf &&
		 od-denoise $P -j 2 --size 64x64 --steps 3 --seed 9 tag1.odf > dn2.odf && cmp dn1.odf dn2.odf"
	t_ok "$isa od-decode bf16: 1 and 2 threads, identical bytes" sh -c \
		"od-decode $P -j 1 -o p1.png dn1.odf && od-decode $P -j 2 -o p2.png dn1.odf && cmp p1.png p2.png"
done
unset OD_CPU_ISA

t_ok "the default precision is bf16 here" sh -c \
	"env -u OD_PRECISION od-denoise --size 64x64 --steps 2 --seed 9 tag1.odf > dflt.odf &&
	 od-denoise --precision bf16 --size 64x64 --steps 2 --seed 9 tag1.odf > b.odf && cmp dflt.odf b.odf"
t_ok "OD_PRECISION=bf16 is --precision bf16" sh -c \
	"OD_PRECISION=bf16 od-denoise --size 64x64 --steps 2 --seed 9 tag1.odf > e.odf && cmp e.odf b.odf"
t_ok "bf16 differs from fp32" sh -c \
	"od-denoise --precision fp32 --size 64x64 --steps 2 --seed 9 tag1.odf > f.odf && ! cmp -s f.odf b.odf"
# the AVX512 level's float32 linear layers are those of every level above it
if grep -qw avx512f /proc/cpuinfo; then
	t_ok "OD_CPU_ISA=avx512: bf16 computes the fp32 bytes" sh -c \
		"OD_CPU_ISA=avx512 od-denoise --precision bf16 --size 64x64 --steps 2 --seed 9 tag1.odf > a.odf && cmp a.odf f.odf"
else
	t_result 0 "OD_CPU_ISA=avx512 # SKIP this CPU has no AVX-512"
fi
t_ok "OD_CPU_ISA=avx2: bf16 computes avx2's fp32 bytes" sh -c \
	"OD_CPU_ISA=avx2 od-denoise --precision bf16 --size 64x64 --steps 2 --seed 9 tag1.odf > a.odf &&
	 OD_CPU_ISA=avx2 od-denoise --precision fp32 --size 64x64 --steps 2 --seed 9 tag1.odf > a32.odf && cmp a.odf a32.odf"
t_done
