# od: top-level Makefile.
#
#   autoreconf -fi && ./configure    writes config.mk (compilers, libraries, prefix)
#   make                             library, tools, and the CUDA plugin when configured
#   make check                       the test suite (TAP, run by prove)
#   make check-sanitize              the test suite under AddressSanitizer + UBSan
#   make fuzz FUZZ_SECONDS=N         every fuzz target for N seconds each (clang, libFuzzer)
#   make bench                       benchmarks (bench/README.md); not part of check
#   make eval [N=8 SIZE=128 ...]     every task on a held-out od-scene set, scored (eval/Makefile)
#   make install [DESTDIR=...]       tools, libod.a, headers, man pages, od.pc, share/
#
# Objects go to $(B) (default build/), so several builds can share one tree:
# `make B=build-asan SANITIZE=1 check`.

ifeq ($(wildcard config.mk),)
$(error config.mk is missing: run `autoreconf -fi && ./configure` first)
endif
include config.mk

B ?= build
ifeq ($(V),1)
Q =
msg = @true
else
Q = @
msg = @printf '  %-6s %s\n'
endif
SANITIZE ?=
ifeq ($(CI),true)
PROVE_FLAGS ?= -j2 --timer
endif
PROVE_FLAGS ?= -j2

OD_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation \
	-fno-strict-aliasing -pthread -Ilib $(PNG_CFLAGS) $(JPEG_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS) \
	$(CURL_CFLAGS) -DOD_VERSION='"$(VERSION)"' -DOD_LIBDIR='"$(libdir)"' -DOD_DATADIR='"$(datadir)"'
ifneq ($(SANITIZE),)
OD_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_LDFLAGS = -fsanitize=address,undefined
endif
OD_LIBS = $(PNG_LIBS) $(JPEG_LIBS) $(BLAS_LIBS) $(JANSSON_LIBS) $(CURL_LIBS) $(LIBS) -lm -lpthread -ldl

# lib/ is one folder per layer (lib/README.md); compute/cuda is the plugin, built apart.
LIB_SRC := $(sort $(wildcard lib/*/*.c lib/*/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
# Public headers: every header but the backends' internals and the inline maths.
LIB_HDR := $(sort $(filter-out lib/compute/cpu/% lib/compute/cuda/% lib/base/fastmath.h lib/formats/png_source.h,$(wildcard lib/*.h lib/*/*.h)))
# bin/od.c is the porcelain (od(1)); bin/od-*.c the tools; the rest is what they share.
TOOL_SRC := $(sort $(wildcard bin/od.c bin/od-*.c))
TOOLS := $(TOOL_SRC:bin/%.c=$(B)/bin/%)
TOOL_COMMON_SRC := $(filter-out bin/od.c bin/od-%.c,$(wildcard bin/*.c))
TOOL_COMMON_OBJ := $(TOOL_COMMON_SRC:%.c=$(B)/%.o)
TEST_UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
TEST_UNITS := $(TEST_UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
TEST_TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TEST_TOOLS := $(TEST_TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_TOOLS := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
MAN1 := $(sort $(wildcard man/*.1))
MAN5 := $(sort $(wildcard man/*.5))

CUDA_SRC := $(sort $(wildcard lib/compute/cuda/*.cu))
CUDA_OBJ := $(CUDA_SRC:%.cu=$(B)/%.o)
ifeq ($(CUDA)$(if $(CUDA_SRC),,-nosrc),yes)
CUDA_PLUGIN := $(B)/lib/od-cuda.so
NVCC_FLAGS = -O3 -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC,-Wall -Ilib --expt-relaxed-constexpr
endif

all: $(B)/libod.a $(TOOLS) $(CUDA_PLUGIN)

$(B)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(OD_CFLAGS) $(CFLAGS) $(EXACT_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

# Files that reproduce a reference's float32 rounding operation by operation (the training objective
# and AdamW, numerics.md §11): no contraction into fused multiply-adds, whatever CFLAGS say.
FP_EXACT_SRC := lib/train/objective.c lib/train/adamw.c
$(FP_EXACT_SRC:%.c=$(B)/%.o) $(FP_EXACT_SRC:%.c=$(B)-fuzz/%.o): EXACT_CFLAGS = -ffp-contract=off

$(B)/bin/%.o: bin/%.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(OD_CFLAGS) $(CFLAGS) -Ibin -MMD -MP -c -o $@ $<

$(B)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(OD_CFLAGS) $(CFLAGS) -Itests -MMD -MP -c -o $@ $<

$(B)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(OD_CFLAGS) $(CFLAGS) -Ibin -MMD -MP -c -o $@ $<

$(B)/libod.a: $(LIB_OBJ)
	@rm -f $@
	$(msg) AR $@
	$(Q)$(AR) rcs $@ $^

$(B)/bin/od-%: $(B)/bin/od-%.o $(TOOL_COMMON_OBJ) $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $< $(TOOL_COMMON_OBJ) $(B)/libod.a $(OD_LIBS)

$(B)/bin/od: $(B)/bin/od.o $(TOOL_COMMON_OBJ) $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $< $(TOOL_COMMON_OBJ) $(B)/libod.a $(OD_LIBS)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $< $(B)/libod.a $(OD_LIBS)

# test_options drives the tools' option parser, bin/options.c, and the options they share (bin/tool.c).
$(B)/tests/unit/test_options.o: CPPFLAGS += -Ibin
$(B)/tests/unit/test_options: $(B)/tests/unit/test_options.o $(B)/bin/options.o $(B)/bin/tool.o $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $(filter %.o,$^) $(B)/libod.a $(OD_LIBS)

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $< $(B)/libod.a $(OD_LIBS)

$(B)/bench/%: $(B)/bench/%.o $(TOOL_COMMON_OBJ) $(B)/libod.a
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) $(SAN_LDFLAGS) -pthread -o $@ $< $(TOOL_COMMON_OBJ) $(B)/libod.a $(OD_LIBS)

# The CUDA backend: a plugin loaded with dlopen (lib/compute/backend.c), so that a build with
# CUDA still runs where no CUDA runtime is installed. cudart is linked statically.
$(B)/lib/compute/cuda/%.o: lib/compute/cuda/%.cu $(wildcard lib/compute/cuda/*.cuh) lib/compute/backend.h \
		lib/base/tensor.h lib/base/error.h
	@mkdir -p $(@D)
	$(msg) NVCC $<
	$(Q)$(NVCC) $(NVCC_FLAGS) -c -o $@ $<

$(B)/lib/od-cuda.so: $(CUDA_OBJ)
	$(msg) LD $@
	$(Q)$(NVCC) $(CUDA_ARCH) -shared -o $@ $^ -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart_static -ldl -lrt \
		-Xlinker -rpath=$(CUDA_HOME)/lib64

# ---------------------------------------------------------------- tests
# The golden comparisons run in float32 whatever the CPU (OD_PRECISION=fp32);
# the BF16 path has its own tests, which ask for it explicitly.
TEST_ENV = OD_BIN=$(abspath $(B)/bin) OD_TESTBIN=$(abspath $(B)/tests) OD_SRCDIR=$(CURDIR) \
	OD_MODEL=$(CURDIR)/share/tiny-onediffusion OD_GOLDEN=$(CURDIR)/tests/golden \
	OD_PRECISION=fp32 OD_CUDA_PLUGIN=$(abspath $(B)/lib/od-cuda.so) TMPDIR=$(abspath $(B)/tmp) OD_BUILD=$(B) \
	OD_SANITIZE=$(SANITIZE) XDG_DATA_HOME=$(abspath $(B)/tmp/xdg-data)

check: all $(TEST_UNITS) $(TEST_TOOLS)
	@mkdir -p $(B)/tmp
	$(TEST_ENV) prove $(PROVE_FLAGS) --exec 'sh tests/run' $(TEST_UNITS) $(sort $(wildcard tests/t*.sh))

check-sanitize:
	$(MAKE) B=$(B)-sanitize SANITIZE=1 check

# Man pages must be clean under mandoc's linter.
check-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5)

# ---------------------------------------------------------------- fuzzing (clang + libFuzzer)
# The library is rebuilt with clang, coverage instrumentation and ASan+UBSan
# into $(B)-fuzz/libod.a; each fuzz/fuzz_*.c links against it.
#
# `make fuzz` runs every target in turn for FUZZ_SECONDS seconds each (CI:
# 20); FUZZ_SECONDS_fuzz_x=N gives one target its own budget, and
# FUZZ_TARGETS="fuzz_x fuzz_y" runs only those; FUZZ_FLAGS_fuzz_x adds
# libFuzzer options for one target. A crash prints the end of the
# target's log ($(B)-fuzz/fuzz_x.log) and fails.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:fuzz/%.c=$(B)-fuzz/%)
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= $(FUZZ_SRC:fuzz/%.c=%)
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-Ilib $(PNG_CFLAGS) $(JPEG_CFLAGS) $(BLAS_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS) \
	-DOD_VERSION='"$(VERSION)"' -DOD_LIBDIR='"$(libdir)"' -DOD_DATADIR='"$(datadir)"'
FUZZ_LIB_OBJ := $(LIB_SRC:lib/%.c=$(B)-fuzz/lib/%.o)

$(B)-fuzz/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(msg) FUZZCC $<
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(EXACT_CFLAGS) -MMD -MP -c -o $@ $<

$(B)-fuzz/libod.a: $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)-fuzz/fuzz_%: fuzz/fuzz_%.c $(B)-fuzz/libod.a
	$(msg) FUZZLD $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)-fuzz/libod.a $(OD_LIBS)

# fuzz_options drives the tools' option parser, bin/options.c.
$(B)-fuzz/fuzz_options: fuzz/fuzz_options.c bin/options.c bin/options.h $(B)-fuzz/libod.a
	$(msg) FUZZLD $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Ibin -fsanitize=fuzzer -o $@ $< bin/options.c $(B)-fuzz/libod.a $(OD_LIBS)

# The depth-map harness caps pictures at 2^22 pixels, so no single allocation
# needs 64 MB: a larger one is a header's claim believed (seed
# text_claims_671mb.png, png_source.h).
FUZZ_FLAGS_fuzz_image16 = -malloc_limit_mb=64

fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

# One target: its corpus grows in $(B)-fuzz/corpus-NAME, seeded from fuzz/seeds/NAME.
fuzz-run-%: $(B)-fuzz/%
	@mkdir -p $(B)-fuzz/corpus-$*
	@t=$(or $(FUZZ_SECONDS_$*),$(FUZZ_SECONDS)); seeds=fuzz/seeds/$*; test -d $$seeds || seeds=; \
	  echo "fuzz: $* for $${t}s"; \
	  $< -max_total_time=$$t -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 $(FUZZ_FLAGS_$*) \
	    $(B)-fuzz/corpus-$* $$seeds > $(B)-fuzz/$*.log 2>&1 || { tail -n 40 $(B)-fuzz/$*.log; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|Done' $(B)-fuzz/$*.log | tr '\n' ' '; echo

# ---------------------------------------------------------------- benchmarks
bench: all $(BENCH_TOOLS)
	OD_BIN=$(abspath $(B)/bin) OD_BENCHBIN=$(abspath $(B)/bench) B=$(abspath $(B)) sh bench/run

# ---------------------------------------------------------------- evaluation
# eval/Makefile with the tools just built: every task on a held-out od-scene
# set, scored by od-eval, into OUT (default $(B)/eval). MODEL=, N=, STEPS=,
# SIZE=, SEED=, VIEWS=, THREADS= and -j reach it as given; not part of check
# (t0790 runs it).
eval: all
	$(MAKE) -f eval/Makefile BIN=$(abspath $(B)/bin) OUT=$(or $(OUT),$(B)/eval)

# ---------------------------------------------------------------- install
INSTALL ?= install
install: all
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(includedir)/od \
		$(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(datadir)/od
	$(INSTALL) -m 755 $(TOOLS) $(DESTDIR)$(bindir)
	$(INSTALL) -m 644 $(B)/libod.a $(DESTDIR)$(libdir)
	for h in $(LIB_HDR:lib/%=%); do $(INSTALL) -D -m 644 lib/$$h $(DESTDIR)$(includedir)/od/$$h || exit 1; done
	$(INSTALL) -m 644 od.pc $(DESTDIR)$(libdir)/pkgconfig
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(mandir)/man1
	$(INSTALL) -m 644 $(MAN5) $(DESTDIR)$(mandir)/man5
	cp -R share/tiny-onediffusion share/scene-onediffusion $(DESTDIR)$(datadir)/od/
	$(if $(CUDA_PLUGIN),$(INSTALL) -d $(DESTDIR)$(libdir)/od && $(INSTALL) -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(libdir)/od)

uninstall:
	rm -f $(TOOLS:$(B)/bin/%=$(DESTDIR)$(bindir)/%) $(DESTDIR)$(libdir)/libod.a $(DESTDIR)$(libdir)/pkgconfig/od.pc
	rm -rf $(DESTDIR)$(includedir)/od $(DESTDIR)$(datadir)/od $(DESTDIR)$(libdir)/od
	rm -f $(MAN1:man/%=$(DESTDIR)$(mandir)/man1/%) $(MAN5:man/%=$(DESTDIR)$(mandir)/man5/%)

clean:
	rm -rf $(B) $(B)-sanitize $(B)-fuzz

distclean: clean
	rm -rf config.mk config.log config.status configure autom4te.cache aclocal.m4 od.pc

.PHONY: all check check-sanitize check-man fuzz bench eval install uninstall clean distclean
.SECONDARY:
.DELETE_ON_ERROR:

-include $(shell find $(B) $(B)-fuzz -name '*.d' 2>/dev/null)
