#!/usr/bin/env bash
# Runs a program on 2 MPI ranks placed on two "hosts": two network namespaces joined by a veth
# pair (10.203.0.1 and 10.203.0.2), each with a host name of its own, so that Open MPI joins the
# ranks over TCP on that subnet alone (no shared memory), as on two machines. Needs root, `ip`,
# `unshare` and Open MPI. The namespaces are removed on exit.
# Usage: scripts/mpi-namespaces.sh PROGRAM [ARGUMENTS...]
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 PROGRAM [ARGUMENTS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root to create network namespaces" >&2; exit 2; }
for tool in ip unshare mpirun; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
done

tag="rr$$" work="$(mktemp -d)"
a="${tag}a" b="${tag}b"
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add "${tag}va" type veth peer name "${tag}vb"
ip link set "${tag}va" netns "$a"
ip link set "${tag}vb" netns "$b"
ip -n "$a" addr add 10.203.0.1/24 dev "${tag}va"
ip -n "$b" addr add 10.203.0.2/24 dev "${tag}vb"
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
done
ip -n "$a" link set "${tag}va" up
ip -n "$b" link set "${tag}vb" up

# Open MPI starts its daemon on a host that is not local through this agent ("agent HOST
# COMMAND..." in place of ssh): the command runs in that host's namespace, under its host name.
cat >"$work/agent" <<EOF
#!/bin/sh
host="\$1"; shift
case "\$host" in
  10.203.0.1) ns=$a ;;
  10.203.0.2) ns=$b ;;
  *) echo "no namespace for host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$ns; \$*"
EOF
chmod +x "$work/agent"

subnet=10.203.0.0/24
ip netns exec "$a" unshare --uts bash -c 'hostname "$0"; exec "$@"' "$a" \
  mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 --host 10.203.0.1,10.203.0.2 \
    --mca plm_rsh_agent "$work/agent" --mca btl tcp,self \
    --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" "$@"
