# bench.mk - `make bench`: the benchmark suite of docs/performance.md ("Benchmarks").
# Not part of `make check`. About 10 minutes on an idle 2-core machine besides the build
# (bench/bench.py --help says where the time goes). BENCH_N (runs per figure, median, default
# 3), BENCH_QUICK=1 (smaller sizes, 1 run each), BENCH_ONLY=name (one benchmark: throughput,
# latency, failover, pdf, pdfpath, http, connections, state, workers; or the issue's numbers
# 1-7, e.g. BENCH_ONLY=5).

BENCH_PROGRAMS := $(B)/bench/noop_worker $(B)/bench/submit_client $(B)/bench/beanstalk_load \
                  $(B)/bench/pg_queue $(B)/bench/min_civetweb $(B)/bench/conn_load \
                  $(B)/bench/run_job

.PHONY: bench bench-build bench-deps
bench-build: $(PROGRAMS) $(BENCH_PROGRAMS)

bench-deps:
	@sh scripts/deps.sh
	@sh scripts/bench-deps.sh

bench: bench-deps
	$(MAKE) bench-build
	/usr/bin/python3 bench/bench.py $(if $(BENCH_N),--runs $(BENCH_N)) $(if $(BENCH_QUICK),--quick) \
	    $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

$(B)/bench/submit_client: $(B)/bench/%: $(B)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

# -F fetches PDFs by reference with profai-worker's own module (docs/protocol.md 3.6).
$(B)/bench/noop_worker.o: EXTRA_CFLAGS = -Iworkers
$(B)/bench/noop_worker: $(B)/bench/noop_worker.o $(B)/workers/daemon/pdf_fetch.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(GLIB_LIBS) $(LDLIBS_BASE)

$(B)/bench/beanstalk_load $(B)/bench/pg_queue: $(B)/bench/%: $(B)/bench/%.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE) -lpthread

# One job through the worker's job_runner (a split PDF included), without a broker.
$(B)/bench/run_job: $(B)/bench/run_job.o $(B)/workers/daemon/job_runner.o \
                   $(B)/workers/extract/page_meet.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(B)/bench/min_civetweb: $(B)/bench/min_civetweb.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcivetweb -lpthread

$(B)/bench/conn_load: $(B)/bench/conn_load.o
	$(CC) $(LDFLAGS) -o $@ $^
