#!/bin/sh
# The machine's sgemm throughput, and what od's choice of OpenBLAS kernels is
# worth: OpenBLAS's own pick, the generic SSE3 "Prescott" fallback that Debian's
# OpenBLAS uses on CPUs it does not know, and the kernels od's tools run with
# (bin/tool.c re-executes with OPENBLAS_CORETYPE set when the pick is slow).
. "$OD_SRCDIR/bench/common.sh"
for th in 1 2; do
	echo "openblas default:   $(sgemm --raw --threads $th)"
	echo "forced Prescott:    $(OPENBLAS_CORETYPE=Prescott sgemm --raw --threads $th)"
	echo "forced Haswell:     $(OPENBLAS_CORETYPE=Haswell sgemm --raw --threads $th)"
	echo "od tools' choice:   $(sgemm --threads $th)"
done
