#!/usr/bin/env bash
# Measures the gateway's candidate transports between two network
# namespaces joined by a veth pair (issue 13, DESIGN §6): raw TCP, TLS 1.3
# over TCP (tokio-rustls) and QUIC (quinn), with the transport_choice
# example serving in one namespace and measuring from the other.
#
# Usage, as root:  crates/pipeslot-gateway/scripts/measure-transports.sh [RUNS]
#   RUNS (default 3): how many times the whole set is measured.
#   TRANSPORT_CHOICE_BIN: an already built example binary (else it is built
#   here, in release mode).
#
# The namespaces are named for this process (psgw-PID-a, psgw-PID-b) and
# deleted on every exit path, with the veth pair and the temporary domain.
# Traffic stays between these two namespaces (10.213.N.1 <-> 10.213.N.2).
set -euo pipefail

runs=${1:-3}
if [[ $(id -u) -ne 0 ]]; then
    echo "measure-transports: needs root (network namespaces); skipped" >&2
    exit 77
fi
for tool in ip; do
    command -v "$tool" >/dev/null || { echo "measure-transports: no $tool; skipped" >&2; exit 77; }
done

crate=$(cd "$(dirname "$0")/.." && pwd)
workspace=$(cd "$crate/../.." && pwd)
bin=${TRANSPORT_CHOICE_BIN:-}
if [[ -z $bin ]]; then
    (cd "$workspace" && cargo build --release -p pipeslot-gateway --example transport_choice)
    bin=$workspace/target/release/examples/transport_choice
fi

id=$$
ns_a=psgw-$id-a
ns_b=psgw-$id-b
veth_a=psa$id
veth_b=psb$id
subnet=10.213.$((id % 200 + 20))
ip_a=$subnet.1
ip_b=$subnet.2
work=$(mktemp -d)
server_pid=

cleanup() {
    set +e
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    # Deleting a namespace deletes its end of the veth pair, and so both.
    ip netns del "$ns_a" 2>/dev/null
    ip netns del "$ns_b" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

"$bin" prepare "$work/domain" "$ip_b"
# The server stops by itself after 15 minutes at most.
ip netns exec "$ns_b" "$bin" serve "$work/domain" "$ip_b" 900 &
server_pid=$!

ready=
for _ in $(seq 100); do
    if ip netns exec "$ns_a" bash -c "exec 3<>/dev/tcp/$ip_b/4460" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
[[ -n $ready ]] || { echo "measure-transports: the server did not start" >&2; exit 1; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r), veth $ip_a -> $ip_b"
ip netns exec "$ns_a" "$bin" measure "$work/domain" "$ip_b" "$runs"
