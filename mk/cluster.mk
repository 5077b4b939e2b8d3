# mk/cluster.mk - `make check-cluster`: the namespace tests of tests/cluster/ (docs/operations.md,
# "Hosts in namespaces"). The real programs of bin/ run on "hosts" that are network namespaces
# joined by a private bridge: PostgreSQL and the broker on one, a worker on each of two others,
# two frontends on a fourth; links are cut, packets dropped and hosts frozen under them.
#
# Included by the top-level Makefile. Needs root (ip netns, veth, bridge, nft/tc) and the
# iproute2 and nftables packages (`make deps`); CI runs it after `make check` (.ci/run).
#
#   make check-cluster                          the whole suite: one to two minutes on two cores
#   make check-cluster CLUSTER_TESTS='tests/cluster -k frozen'    pytest arguments
#
# One test at a time (PROFAI_TEST_JOBS=1): the hosts are one topology of fixed namespace
# names, shared by the whole session.

CLUSTER_TESTS ?= tests/cluster

.PHONY: check-cluster

check-cluster: all
	@if [ "$$(id -u)" -ne 0 ]; then \
	    echo "check-cluster: needs root (network namespaces, veth pairs, a bridge)" >&2; exit 1; \
	fi
	PROFAI_TEST_JOBS=1 sh scripts/check-system.sh $(CLUSTER_TESTS)
