#!/usr/bin/env bash
# partctl's tests against a real Citus cluster (tests/citus.rs), which the normal suite
# (scripts/test.sh) cannot run: Citus is not packaged for Debian and is built from source.
#
#   bash scripts/citus-test.sh            # start the cluster (if needed) and run the tests
#
# The cluster comes from the shared cluster.sh (CITUS_CLUSTER_SH, default
# /work/shared/citus/cluster.sh): a coordinator on 127.0.0.1:56500 and two workers. Citus must
# be built and installed first, once, as root:
#   CITUS_GIT=/path/to/a/clone/of/citusdata/citus bash "$CITUS_CLUSTER_SH" build
# PARTCTL_CITUS_URL set: that cluster is used and cluster.sh is not called.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PARTCTL_CITUS_URL:-}" ]; then
    sh=${CITUS_CLUSTER_SH:-/work/shared/citus/cluster.sh}
    [ -f "$sh" ] || { echo "citus-test: no cluster script at $sh; set CITUS_CLUSTER_SH or PARTCTL_CITUS_URL" >&2; exit 1; }
    bash "$sh" start >&2
    PARTCTL_CITUS_URL=$(bash "$sh" url)
fi
export PARTCTL_CITUS_URL
echo "citus-test: against $PARTCTL_CITUS_URL" >&2
exec cargo test --test citus -- --ignored "$@"
