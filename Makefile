# ProfAI pipeline - top-level build. Plain GNU make: `make` builds bin/, `make check` tests,
# `make run` starts the whole stack locally. See README.md.

VERSION   := 0.1.0
CC        ?= cc
PKGS      := libczmq libzmq msgpack libpq
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -MMD -MP \
             -DPROFAI_VERSION='"$(VERSION)"' -Iinclude -Icommon -Iworkers \
             $(shell pkg-config --cflags $(PKGS))
ifeq ($(CI),true)
CFLAGS    += -Werror
endif
LDLIBS_BASE := $(shell pkg-config --libs $(PKGS)) -lm
POPPLER_CFLAGS := $(shell pkg-config --cflags poppler-glib glib-2.0 2>/dev/null)
POPPLER_LIBS   := $(shell pkg-config --libs poppler-glib glib-2.0 2>/dev/null)
GLIB_CFLAGS    := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS      := $(shell pkg-config --libs glib-2.0 2>/dev/null)
# sd_notify for the daemons (common/notify.c): linked into the three of them only.
SYSTEMD_LIBS   := $(shell pkg-config --libs libsystemd 2>/dev/null)
# Argon2id passwords and random secrets (common/password.c, common/secret.c).
SODIUM_LIBS    := $(shell pkg-config --libs libsodium 2>/dev/null)

B   := build
BIN := bin

# ---- sources (one line per component; keep them explicit) ----------------------------
COMMON_SRC   := common/log.c common/conf.c common/conf_int.c common/startup.c common/json.c \
                common/utf8.c common/strbuf.c common/notify.c common/curve.c common/metrics.c \
                common/secret.c common/password.c
PROTO_SRC    := protocol/errors.c protocol/proto.c protocol/mdp.c protocol/body.c protocol/messages.c \
                protocol/admin_messages.c protocol/worker_identity.c \
                protocol/mp_scan.c
# The broker's pure modules (no sockets, no database): also linked into their unit tests.
BROKER_CORE_SRC := broker/job_table.c broker/worker_registry.c broker/fair_queue.c
BROKER_SRC   := broker/main.c broker/broker.c broker/clients.c broker/dispatch.c broker/sql.c \
                broker/admin.c broker/admin_sql.c broker/broker_metrics.c broker/store.c broker/store_ops.c broker/store_batch.c \
                broker/leader.c broker/standby.c broker/blob_reader.c broker/blob_server.c \
                broker/pdf_cache.c broker/job_id.c broker/dispatch_hold.c \
                broker/search_indexer.c broker/pg_session.c broker/pg_options.c \
                broker/migrate.c broker/zap.c broker/job_secret.c broker/course_check.c \
                frontend/json_in.c $(BROKER_CORE_SRC) $(B)/broker/migrations.c
WORKER_SRC   := workers/daemon/main.c workers/daemon/worker.c workers/daemon/job_runner.c \
                workers/extract/page_meet.c \
                workers/daemon/pdf_fetch.c
EXTRACT_SRC  := workers/extract/extract_main.c workers/extract/pdf_reader.c \
                workers/extract/heap_pages.c workers/extract/page_meet.c
# Course generation from the document model, pure C (no poppler): linked into profai-extract
# and the unit tests.
COURSE_SRC   := workers/course/strmap.c workers/course/textclean.c workers/course/headings.c \
                workers/course/stopwords.c workers/course/sentences.c workers/course/terms.c \
                workers/course/keyterms.c workers/course/summary.c workers/course/quiz.c \
                workers/course/quiz_equiv.c workers/course/text_index.c workers/course/glue.c \
                workers/course/course_text.c workers/course/docmodel.c workers/course/docmodel_wire.c \
                workers/course/plan.c \
                workers/course/course_json.c workers/course/course_build.c
# The frontend's pure parsers of client input (no civetweb): also linked into their unit tests
# and fuzz targets (fuzz/fuzz.mk).
FRONTEND_PURE_SRC := frontend/http_path.c frontend/multipart.c frontend/json_in.c
FRONTEND_SRC := frontend/main.c frontend/http.c frontend/http_reply.c frontend/http_body.c \
                frontend/http_watch.c frontend/api.c frontend/api_metrics.c frontend/broker_client.c \
                frontend/db.c frontend/auth.c frontend/auth_listen.c frontend/static.c $(B)/frontend/web_assets.c \
                frontend/cache.c $(FRONTEND_PURE_SRC) frontend/routes.c frontend/jobs.c \
                frontend/courses.c frontend/quiz.c frontend/quiz_score.c frontend/quiz_deal.c frontend/error_http.c \
                frontend/db_jobs.c frontend/db_courses.c frontend/db_quiz.c frontend/curation.c frontend/db_curation.c frontend/db_replica.c frontend/replica_lag.c frontend/snippet.c \
                frontend/ratelimit.c frontend/limits.c frontend/blob_sweep.c \
                frontend/request_json.c frontend/visibility.c frontend/classes.c \
                frontend/db_classes.c frontend/results.c frontend/db_results.c frontend/csv.c \
                frontend/page.c frontend/idempotency.c frontend/job_stream.c \
                frontend/session.c frontend/accounts.c frontend/db_accounts.c
FRONTEND_SRC += frontend/form_upload.c frontend/account_data.c frontend/db_account_data.c
FRONTEND_SRC += frontend/fair_pool.c frontend/job_rate.c frontend/queue_snapshot.c
FRONTEND_SRC += frontend/queued_seen.c
FRONTEND_SRC += frontend/change_listen.c frontend/course_listen.c
CTL_SRC      := profaictl/main.c profaictl/admin_cli.c profaictl/admin_client.c
MIGRATIONS   := $(sort $(wildcard broker/migrations/*.sql))

LIB := $(B)/libprofai.a
LIB_OBJ := $(patsubst %.c,$(B)/%.o,$(COMMON_SRC) $(PROTO_SRC) $(COURSE_SRC))

PROGRAMS := $(BIN)/profai-broker $(BIN)/profai-worker $(BIN)/profai-extract $(BIN)/profai-frontend \
            $(BIN)/profaictl

obj = $(patsubst $(B)/%,%,$(patsubst %.c,$(B)/%.o,$(1)))

.PHONY: all deps check check-unit check-system run clean format format-check
all: $(PROGRAMS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

$(B)/broker/migrations.o: $(B)/broker/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibroker -c $< -o $@

# The names of the migrations, in a file rewritten only when they change: a migration removed
# or renamed rebuilds migrations.c too (its other prerequisites are the files that exist).
$(B)/broker/migrations.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(notdir $(MIGRATIONS))' | cmp -s - $@ || echo '$(notdir $(MIGRATIONS))' > $@

$(B)/broker/migrations.c: $(MIGRATIONS) $(B)/broker/migrations.list scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

.PHONY: FORCE
FORCE:

# The web page (frontend/web/) compiled into profai-frontend as byte arrays (frontend/static.h).
# Both object paths: FRONTEND_SRC's objects are $(B)/<source>.o, so this one is $(B)/$(B)/...
$(B)/frontend/web_assets.o $(B)/$(B)/frontend/web_assets.o: $(B)/frontend/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifrontend -c $< -o $@

# docs/openapi.json goes with them: GET /api/v1/openapi.json serves it (and /app/openapi.json).
WEB_FILES := $(sort $(wildcard frontend/web/*)) docs/openapi.json
$(B)/frontend/web_assets.c: $(WEB_FILES) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-web.sh $(WEB_FILES) > $@.tmp && mv $@.tmp $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/profai-broker: $(patsubst %.c,$(B)/%.o,$(patsubst $(B)/%,%,$(BROKER_SRC))) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(LDLIBS_BASE) $(SYSTEMD_LIBS)
$(B)/broker/job_secret.o: EXTRA_CFLAGS = $(GLIB_CFLAGS)
$(B)/broker/pdf_cache.o: EXTRA_CFLAGS = $(GLIB_CFLAGS)
$(B)/broker/blob_server.o: EXTRA_CFLAGS = $(GLIB_CFLAGS)
# The broker checks courses with the frontend's strict JSON parser (a pure module).
$(B)/broker/course_check.o: EXTRA_CFLAGS = -iquote frontend

$(BIN)/profai-worker: $(patsubst %.c,$(B)/%.o,$(WORKER_SRC)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(LDLIBS_BASE) $(SYSTEMD_LIBS)
# The fetched PDF's SHA-256 comes from GLib's GChecksum, as the broker's secrets do.
$(B)/workers/daemon/pdf_fetch.o: EXTRA_CFLAGS = $(GLIB_CFLAGS)

$(patsubst %.c,$(B)/%.o,$(EXTRACT_SRC)): EXTRA_CFLAGS = $(POPPLER_CFLAGS)
# Only what the parser uses: no ZeroMQ, msgpack or libpq in the sandboxed process. Naming them
# here relied on the linker's --as-needed, which the sanitizers' link spec turns off.
$(BIN)/profai-extract: $(patsubst %.c,$(B)/%.o,$(EXTRACT_SRC)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(POPPLER_LIBS) -lm -lseccomp

$(patsubst %.c,$(B)/%.o,$(FRONTEND_SRC)): EXTRA_CFLAGS = $(GLIB_CFLAGS)
$(BIN)/profai-frontend: $(patsubst %.c,$(B)/%.o,$(FRONTEND_SRC)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -lcivetweb $(GLIB_LIBS) $(SODIUM_LIBS) $(LDLIBS_BASE) $(SYSTEMD_LIBS) -lpthread

$(BIN)/profaictl: $(patsubst %.c,$(B)/%.o,$(CTL_SRC)) $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(SODIUM_LIBS) $(LDLIBS_BASE)
$(patsubst %.c,$(B)/%.o,$(CTL_SRC)): EXTRA_CFLAGS = $(GLIB_CFLAGS)

# ---- tests ----------------------------------------------------------------------------
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

$(B)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -o $@ $< $(filter %.o,$^) $(LIB) \
	    $(shell pkg-config --cflags --libs cmocka) $(LDLIBS_BASE)

# Unit tests may include the headers of the broker's and the frontend's modules (-iquote: a
# module header never hides a system header of the same name).
TEST_CFLAGS := -iquote broker -iquote frontend

# Unit tests of the broker's pure modules link those objects.
BROKER_CORE_TESTS := $(B)/tests/test_job_table $(B)/tests/test_worker_registry \
                     $(B)/tests/test_fair_queue
$(BROKER_CORE_TESTS): $(patsubst %.c,$(B)/%.o,$(BROKER_CORE_SRC))

# Unit tests of frontend modules (outside libprofai.a) link those modules' objects.
$(B)/tests/test_http_path: $(B)/frontend/http_path.o
$(B)/tests/test_routes: $(B)/frontend/routes.o
$(B)/tests/test_quiz_score: $(B)/frontend/quiz_score.o $(B)/frontend/json_in.o
$(B)/tests/test_quiz_deal: $(B)/frontend/quiz_deal.o $(B)/frontend/quiz_score.o $(B)/frontend/json_in.o
$(B)/tests/test_snippet: $(B)/frontend/snippet.o
$(B)/tests/test_csv: $(B)/frontend/csv.o
$(B)/tests/test_multipart: $(B)/frontend/multipart.o
$(B)/tests/test_json_in: $(B)/frontend/json_in.o
$(B)/tests/test_course_check: $(B)/broker/course_check.o $(B)/frontend/json_in.o
$(B)/tests/test_pdf_cache: $(B)/broker/pdf_cache.o
# The shared page word of a split document's readers (worker and extractor link it).
$(B)/tests/test_page_meet: $(B)/workers/extract/page_meet.o
$(B)/tests/test_job_id: $(B)/broker/job_id.o
$(B)/tests/test_dispatch_hold: $(B)/broker/dispatch_hold.o
$(B)/tests/test_store_batch: $(B)/broker/store_batch.o
$(B)/tests/test_pg_options: $(B)/broker/pg_options.o
$(B)/tests/test_pdf_cache: TEST_CFLAGS += $(GLIB_CFLAGS)
$(B)/tests/test_pdf_cache: LDLIBS_BASE += $(GLIB_LIBS)
$(B)/tests/test_http_watch: $(B)/frontend/http_watch.o
$(B)/tests/test_fair_pool: $(B)/frontend/fair_pool.o
$(B)/tests/test_fair_pool: LDLIBS_BASE += -lpthread
$(B)/tests/test_job_rate: $(B)/frontend/job_rate.o
$(B)/tests/test_job_rate: LDLIBS_BASE += -lpthread
$(B)/tests/test_queue_snapshot: $(B)/frontend/queue_snapshot.o
$(B)/tests/test_queue_snapshot: LDLIBS_BASE += -lpthread
$(B)/tests/test_queued_seen: $(B)/frontend/queued_seen.o
$(B)/tests/test_queued_seen: LDLIBS_BASE += -lpthread
$(B)/tests/test_ratelimit: $(B)/frontend/ratelimit.o
$(B)/tests/test_replica_lag: $(B)/frontend/replica_lag.o
$(B)/tests/test_session: $(B)/frontend/session.o
$(B)/tests/test_session: LDLIBS_BASE += $(SODIUM_LIBS)
$(B)/tests/test_password: LDLIBS_BASE += $(SODIUM_LIBS)
$(B)/tests/test_ratelimit: LDLIBS_BASE += $(GLIB_LIBS) -lm
$(B)/tests/test_page: $(B)/frontend/page.o $(B)/frontend/routes.o
$(B)/tests/test_cache: $(B)/frontend/cache.o
$(B)/tests/test_cache: TEST_CFLAGS += $(GLIB_CFLAGS)
$(B)/tests/test_cache: LDLIBS_BASE += $(GLIB_LIBS) -lpthread
$(B)/tests/test_page: LDLIBS_BASE += $(GLIB_LIBS)

deps:
	@sh scripts/deps.sh

check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-fuzz
	$(MAKE) check-system

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

check-system: all
	sh scripts/check-system.sh

run: deps
	$(MAKE) all
	sh scripts/run.sh $(if $(PORT),--port $(PORT))

clean:
	rm -rf $(B) $(BIN)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

include fuzz/fuzz.mk
include mk/asan.mk
include mk/install.mk
include mk/cluster.mk
include mk/load.mk
include mk/bench.mk
include mk/quality.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
