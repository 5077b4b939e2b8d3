# mk/asan.mk - `make check-asan`: the unit and system tests against binaries built with
# AddressSanitizer and UndefinedBehaviorSanitizer (docs/security.md, "Sanitizers").
#
# Included by the top-level Makefile (`include mk/asan.mk`), which must take its output
# directories as variables: B (objects, default build) and BIN (programs, default bin).
#
#   make check-asan          build into build-asan/ and bin-asan/, run the unit and system tests
#   make check-asan ASAN_TESTS='tests/system/test_chaos.py -k thousands'
#                            the same with a subset of the system tests (pytest arguments)
#   make check-asan ASAN_SKIP=
#                            every system test, the three that ASAN_SKIP leaves out included
#   make asan                build only
#   make asan-clean          remove build-asan/ and bin-asan/
#
# Every sanitizer report fails the run: the unit tests abort on their first one, and after the
# system tests every log they wrote (tests/output/*/*.log: each program's stderr) is searched
# for "ERROR: AddressSanitizer", "ERROR: LeakSanitizer" and "runtime error:" (the tests run two
# at a time, as scripts/check-system.sh runs them, but every log is still under tests/output/,
# the per-worker postgresql.gwN.log included). LeakSanitizer runs when a program exits
# normally, so tests that stop a daemon with SIGTERM check it for leaks (test_chaos.py stops
# the broker that way after thousands of jobs).
#
# profai-extract reads no environment (the worker gives it none): its sanitizer options are
# compiled in (workers/extract_main.c), and under ASan it cannot use RLIMIT_AS (the shadow
# memory takes terabytes of address space), so it skips that one limit. Tests that need
# RLIMIT_AS skip themselves when PROFAI_SANITIZED=1.

# The makefile that included this one: the sub-makes read the same.
ASAN_TOP   := $(firstword $(MAKEFILE_LIST))
ASAN_B     ?= build-asan
ASAN_BIN   ?= bin-asan
ASAN_TESTS ?= tests/system
# Left out of the sanitized run by default, to keep CI within its time: each costs minutes
# under ASan and adds no C path of its own. test_browser.py drives the web page in Chromium
# (its requests are the API routes test_openapi.py samples one by one); test_install.py checks
# the installed tree and the systemd units (systemd-analyze); test_course_quality.py scores
# course wording on whole manuals (the extractor's memory safety is what test_pipeline.py and
# test_hostile_pdfs.py run under ASan). `make check` runs all three against the normal build.
ASAN_SKIP  ?= test_browser.py test_install.py test_course_quality.py
ASAN_IGNORE := $(foreach t,$(ASAN_SKIP),--ignore=tests/system/$(t))
ASAN_SAN   := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MAKE  := CFLAGS='-O1 -g $(ASAN_SAN)' LDFLAGS='$(ASAN_SAN)' \
              $(MAKE) --no-print-directory -f $(ASAN_TOP) B=$(ASAN_B) BIN=$(ASAN_BIN)
# detect_leaks: LeakSanitizer at every normal exit. abort_on_error: a report kills the program
# with SIGABRT, which a test notices at once. strict_string_checks: string arguments of libc
# calls must be NUL-terminated. UBSan stops at its first report too.
ASAN_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
              LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp:print_suppressions=0
ASAN_STAMP := $(ASAN_B)/.system-tests-started
ASAN_REPORT := ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:

.PHONY: asan asan-clean check-asan check-asan-unit check-asan-system

asan:
	$(ASAN_MAKE) all

check-asan: asan
	$(MAKE) --no-print-directory -f $(ASAN_TOP) check-asan-unit
	$(MAKE) --no-print-directory -f $(ASAN_TOP) check-asan-system

check-asan-unit:
	$(ASAN_ENV) $(ASAN_MAKE) check-unit

check-asan-system:
	@mkdir -p $(ASAN_B) && touch $(ASAN_STAMP)
	$(ASAN_ENV) PROFAI_BIN=$(CURDIR)/$(ASAN_BIN) PROFAI_SANITIZED=1 \
	    sh scripts/check-system.sh $(ASAN_IGNORE) $(ASAN_TESTS); rc=$$?; \
	found=$$(find tests/output -name '*.log' -newer $(ASAN_STAMP) \
	    -exec grep -lE '$(ASAN_REPORT)' {} + 2>/dev/null); \
	if [ -n "$$found" ]; then \
	    echo "check-asan: sanitizer reports in:"; \
	    for f in $$found; do echo "== $$f"; grep -E -A12 '$(ASAN_REPORT)' "$$f" | head -60; done; \
	    exit 1; \
	fi; \
	exit $$rc

asan-clean:
	rm -rf $(ASAN_B) $(ASAN_BIN)
