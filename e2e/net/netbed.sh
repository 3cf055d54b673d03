#!/usr/bin/env bash
# A small internet on one machine (root only): a `wan` namespace with the tracker behind Caddy
# (TLS, a test CA, the name train.test) and coturn; three homes, each behind its own NAT router.
#   home A, B: port-restricted cone NAT (MASQUERADE keeps ports, conntrack filters by address+port)
#   home C:    symmetric NAT (MASQUERADE --random-fully: a new port per destination)
# Usage: netbed.sh up WORKDIR | down WORKDIR | block-udp C | unblock-udp C
# Only these namespaces carry traffic; `down` removes every one of them and is safe to repeat.
set -euo pipefail

P=${TGNET_PREFIX:-tgnet}         # prefix of every namespace and link this script makes
# "Public" addresses: ordinary unicast space that no namespace here can route out of (a
# documentation range such as 203.0.113.0/24 behaved the same).
SERVER=11.0.0.10                 # tracker, Caddy and coturn (on wan's loopback)
HOMES=(a b c)
declare -A WAN_IP=([a]=11.0.1.1 [b]=11.0.2.1 [c]=11.0.3.1)   # wan side of each /30
declare -A PUB_IP=([a]=11.0.1.2 [b]=11.0.2.2 [c]=11.0.3.2)   # the router's public address
declare -A LAN=([a]=10.0.1 [b]=10.0.2 [c]=10.0.3)

ns () { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

down () {
  for n in wan r-a r-b r-c h-a h-b h-c; do
    if ip netns list | grep -qw "$P-$n"; then
      # Kill what still runs inside (daemons started by the test), then the namespace.
      for pid in $(ip netns pids "$P-$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$P-$n" 2>/dev/null || true
    fi
    rm -rf "/etc/netns/$P-$n"
  done
}

up () {
  local work=$1
  down
  ip netns add "$P-wan"
  ns wan ip link set lo up
  ns wan ip addr add "$SERVER/32" dev lo
  ns wan sysctl -qw net.ipv4.ip_forward=1
  for h in "${HOMES[@]}"; do
    ip netns add "$P-r-$h"
    ip netns add "$P-h-$h"
    ns "r-$h" ip link set lo up
    ns "h-$h" ip link set lo up
    # wan <-> router
    ip link add "$P-w$h" netns "$P-wan" type veth peer name wan netns "$P-r-$h"
    ns wan ip addr add "${WAN_IP[$h]}/30" dev "$P-w$h"
    ns wan ip link set "$P-w$h" up
    ns "r-$h" ip addr add "${PUB_IP[$h]}/30" dev wan
    ns "r-$h" ip link set wan up
    ns "r-$h" ip route add default via "${WAN_IP[$h]}"
    # router <-> home
    ip link add lan netns "$P-r-$h" type veth peer name eth0 netns "$P-h-$h"
    ns "r-$h" ip addr add "${LAN[$h]}.1/24" dev lan
    ns "r-$h" ip link set lan up
    ns "h-$h" ip addr add "${LAN[$h]}.2/24" dev eth0
    ns "h-$h" ip link set eth0 up
    ns "h-$h" ip route add default via "${LAN[$h]}.1"
    ns "r-$h" sysctl -qw net.ipv4.ip_forward=1
    if [ "$h" = c ]; then
      ns "r-$h" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully
    else
      ns "r-$h" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
    fi
    # Nothing from the internet enters a home unless conntrack saw the home send first.
    ns "r-$h" iptables -A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ns "r-$h" iptables -A FORWARD -i wan -j DROP
    # Unsolicited packets to the router itself are dropped silently too, like a home router: an
    # accepted one would claim its port in conntrack and move the home's next mapping elsewhere.
    ns "r-$h" iptables -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ns "r-$h" iptables -A INPUT -i wan -j DROP
    # A home upstream of 10 Mbit/s, the way tc models it here (no netem: no delay emulation).
    ns "r-$h" tc qdisc add dev wan root tbf rate 10mbit burst 64kb latency 50ms
    # Name resolution: `ip netns exec` mounts /etc/netns/NAME/{hosts,resolv.conf} over /etc's.
    # hosts serves curl and Node; Chromium's WebRTC resolves STUN/TURN names through DNS, so the
    # homes also ask the bed's DNS server on the wan (run.sh starts dns-server.ts there).
    mkdir -p "/etc/netns/$P-h-$h"
    printf '127.0.0.1 localhost\n%s train.test\n' "$SERVER" > "/etc/netns/$P-h-$h/hosts"
    printf 'nameserver %s\n' "$SERVER" > "/etc/netns/$P-h-$h/resolv.conf"
  done
  mkdir -p "/etc/netns/$P-wan"
  printf '127.0.0.1 localhost\n%s train.test\n' "$SERVER" > "/etc/netns/$P-wan/hosts"
  printf 'nameserver %s\n' "$SERVER" > "/etc/netns/$P-wan/resolv.conf"
  mkdir -p "$work"
}

case "${1:-}" in
  up) up "${2:?work dir}" ;;
  down) down ;;
  server-ip) echo "$SERVER" ;;
  block-udp) ns "r-$2" iptables -I FORWARD 1 -p udp -j DROP ;;
  unblock-udp) ns "r-$2" iptables -D FORWARD -p udp -j DROP ;;
  *) echo "usage: $0 up WORKDIR | down | server-ip | block-udp HOME | unblock-udp HOME" >&2; exit 2 ;;
esac
