# fuzz/fuzz.mk - libFuzzer targets of the protocol codec and of the frontend's parsers of
# client input (docs/fuzzing.md).
#
# Included by the top-level Makefile (`include fuzz/fuzz.mk`); uses only B from it, so
# `make -f Makefile -f fuzz/fuzz.mk fuzz` works too. Needs clang and the compiler-rt runtimes
# (Debian 12: clang, libclang-rt-14-dev).
#
#   make fuzz                   build every target, run each for FUZZ_SECONDS (default 60)
#   make check-fuzz             the same for 10 seconds each (for `make check`)
#   make fuzz-build             build only
#   make fuzz-run-fuzz_bodies   run one target (fuzz_bodies, fuzz_frames, fuzz_token, fuzz_scan,
#                               fuzz_path, fuzz_multipart, fuzz_json_in)
#   make fuzz-seeds             regenerate fuzz/corpus/ and fuzz/dict/ with fuzz/make_seeds.py
#   make fuzz-clean             remove $(B)/fuzz (binaries, grown corpora, logs, crash files)
#
# Each run fuzzes a copy of the seeds in $(B)/fuzz/corpus-<target>, which keeps what earlier
# runs found; logs go to $(B)/fuzz/<target>.log and crash files to $(B)/fuzz/artifacts/.
# `make -j2 fuzz` runs two targets at once.

B ?= build
# Included before the top-level Makefile's first target, `fuzz` must not become the default
# (read alone, with `make -f fuzz/fuzz.mk`, it may).
FUZZ_DEFAULT_GOAL := $(.DEFAULT_GOAL)
FUZZ_INCLUDED     := $(filter-out 1,$(words $(MAKEFILE_LIST)))

FUZZ_CC      ?= clang
FUZZ_PYTHON  ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 65536
# Extra libFuzzer options, e.g. FUZZ_OPTIONS='-jobs=2 -workers=2' or '-use_value_profile=1'.
FUZZ_OPTIONS ?=

FUZZ_B       := $(B)/fuzz
FUZZ_TARGETS := fuzz_bodies fuzz_frames fuzz_token fuzz_scan fuzz_path fuzz_multipart fuzz_json_in
FUZZ_PKGS    := libczmq libzmq msgpack libsodium
# Coverage, ASan and UBSan on the codec too; UBSan aborts (no recovery) so that undefined
# behaviour is a crash libFuzzer keeps.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(FUZZ_SAN) -Wall -Wextra -Wshadow -Wno-unused-parameter \
                -MMD -MP -DPROFAI_VERSION='"fuzz"' -Iinclude -Icommon -Iprotocol \
                $(shell pkg-config --cflags $(FUZZ_PKGS))
ifeq ($(CI),true)
FUZZ_CFLAGS  += -Werror
endif
FUZZ_LIBS    := $(shell pkg-config --libs $(FUZZ_PKGS))

# A run ends in failure on a crash, a sanitizer report, a broken property, an input that runs
# over 10 s, more than 2 GiB resident, or one allocation over 512 MiB (a msgpack-c count bomb).
FUZZ_RUN_FLAGS = -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
                 -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1

# The codec, common/ (but for notify.c, the daemons' systemd link), and the frontend's pure
# parsers (no civetweb; the top-level Makefile's FRONTEND_PURE_SRC).
FUZZ_LIB_SRC := $(filter-out common/notify.c,$(wildcard protocol/*.c common/*.c)) \
                frontend/http_path.c frontend/multipart.c frontend/json_in.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_BINS    := $(addprefix $(FUZZ_B)/,$(FUZZ_TARGETS))
FUZZ_RUNS    := $(addprefix fuzz-run-,$(FUZZ_TARGETS))

.PHONY: fuzz check-fuzz fuzz-build fuzz-seeds fuzz-clean $(FUZZ_RUNS)

fuzz: $(FUZZ_RUNS)

check-fuzz: FUZZ_SECONDS = 10
check-fuzz: $(FUZZ_RUNS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_LIB_OBJ): $(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BINS): $(FUZZ_B)/%: fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)

# Fuzz one target on its corpus copy; on failure show the end of the log and the crash file.
$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_B)/%
	@mkdir -p $(FUZZ_B)/corpus-$* $(FUZZ_B)/artifacts
	@cp -R fuzz/corpus/$*/. $(FUZZ_B)/corpus-$*/
	@echo "== $* for $(FUZZ_SECONDS) s (log: $(FUZZ_B)/$*.log)"
	@if UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_B)/$* $(FUZZ_RUN_FLAGS) \
	    $(addprefix -dict=,$(wildcard fuzz/dict/$*.dict)) \
	    -artifact_prefix=$(FUZZ_B)/artifacts/$*- $(FUZZ_OPTIONS) \
	    $(FUZZ_B)/corpus-$* >$(FUZZ_B)/$*.log 2>&1; then \
	    grep -E '^stat::number_of_executed_units|^Done' $(FUZZ_B)/$*.log | tr '\n' ' '; echo; \
	else \
	    grep -v '^stat::' $(FUZZ_B)/$*.log | tail -n 40; \
	    unit=$$(sed -n 's/.*Test unit written to //p' $(FUZZ_B)/$*.log | tail -n 1); \
	    echo "== $* FAILED; reproduce: $(FUZZ_B)/$* $${unit:-<input named in the log>}"; \
	    echo "   (docs/fuzzing.md, 'Reproducing a failure')"; \
	    exit 1; \
	fi

fuzz-seeds:
	$(FUZZ_PYTHON) fuzz/make_seeds.py fuzz

fuzz-clean:
	rm -rf $(FUZZ_B)

-include $(wildcard $(FUZZ_B)/*.d $(FUZZ_B)/obj/*/*.d)

ifneq ($(FUZZ_INCLUDED),)
.DEFAULT_GOAL := $(FUZZ_DEFAULT_GOAL)
endif
