# load.mk - `make load`: the target population (5,500 users) against a fresh stack started the
# `make run` way (tests/load/run-load.sh, tests/load/load.py, docs/performance.md). Not part of
# `make check`: it takes about three minutes and wants the machine to itself.
# LOAD_USERS, LOAD_SECONDS, LOAD_RAMP, LOAD_DRAIN, LOAD_TOKENS, LOAD_PORT, LOAD_VAR, WORKERS
# pass through the environment, e.g. `make load LOAD_USERS=1000 LOAD_SECONDS=30`.

.PHONY: load
load: deps
	$(MAKE) all
	bash tests/load/run-load.sh
