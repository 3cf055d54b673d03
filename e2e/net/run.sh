#!/usr/bin/env bash
# `npm run test:net`: volunteers in three home networks behind NAT routers reach a tracker on a
# "public" server (TLS through Caddy, TURN through coturn) and connect to each other the way they
# would on the internet. Needs root, iptables, coturn, caddy, certutil (libnss3-tools), openssl and
# a built app (dist/). Everything it creates is removed on exit, also when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then echo "test:net needs root (it creates network namespaces)" >&2; exit 1; fi
for tool in ip iptables turnserver caddy certutil openssl curl; do
  command -v "$tool" >/dev/null || { echo "test:net needs $tool (apt-get install -y iproute2 iptables coturn caddy libnss3-tools openssl curl)" >&2; exit 1; }
done
[ -f dist/index.html ] || { echo "test:net needs the built app: run npm run build first" >&2; exit 1; }

WORK=$(mktemp -d /tmp/tabgrad-net.XXXXXX)
PIDS=()
cleanup () {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  bash e2e/net/netbed.sh down || true
  if [ $rc != 0 ]; then
    for f in tracker caddy coturn dns; do echo "---- $f (last lines)"; tail -n 15 "$WORK/$f.log" 2>/dev/null || true; done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

bash e2e/net/netbed.sh up "$WORK"
SERVER=$(bash e2e/net/netbed.sh server-ip)

# ---- a test CA that only the homes' browsers trust, and a certificate for train.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=tabgrad test CA' \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=train.test' -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:train.test\nextendedKeyUsage=serverAuth\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
  -extfile "$WORK/ext.cnf" -out "$WORK/server.pem" 2>/dev/null
chmod 644 "$WORK/server.key"
for h in a b c; do
  db="$WORK/home-$h/.pki/nssdb"
  mkdir -p "$db"
  certutil -d "sql:$db" -N --empty-password
  certutil -d "sql:$db" -A -n 'tabgrad test CA' -t 'C,,' -i "$WORK/ca.pem"
done

# ---- the server: DNS for train.test, coturn, the tracker on loopback, Caddy terminating TLS on 443
ip netns exec tgnet-wan node --import tsx e2e/net/dns-server.ts "$SERVER" "train.test=$SERVER" > "$WORK/dns.log" 2>&1 &
PIDS+=($!)
SECRET=$(openssl rand -hex 24)
# The operator's token: internet.ts signs home A's browser in with it to create the campaign.
export TABGRAD_ADMIN_TOKEN=$(openssl rand -hex 24)
ip netns exec tgnet-wan turnserver -n --listening-ip=$SERVER --relay-ip=$SERVER \
  --listening-port=3478 --tls-listening-port=5349 --cert="$WORK/server.pem" --pkey="$WORK/server.key" \
  --use-auth-secret --static-auth-secret="$SECRET" --realm=train.test --fingerprint --no-cli \
  --min-port=49152 --max-port=49999 --no-multicast-peers --userdb="$WORK/turndb" --log-file=stdout --simple-log > "$WORK/coturn.log" 2>&1 &
PIDS+=($!)

start_tracker () {   # $1: "turn" or "noturn"
  local ice=(--stun stun:train.test:3478)
  if [ "$1" = turn ]; then
    ice+=(--turn 'turn:train.test:3478?transport=udp,turn:train.test:3478?transport=tcp,turns:train.test:5349?transport=tcp' --turn-secret "$SECRET")
  fi
  ip netns exec tgnet-wan node --import tsx --import ./src/node/register.ts src/tracker/main.ts \
    --host 127.0.0.1 --port 8080 --data-dir "$WORK/data" --public-url https://train.test --trusted-proxy 127.0.0.1 \
    "${ice[@]}" >> "$WORK/tracker.log" 2>&1 &
  TRACKER_PID=$!
  PIDS+=($TRACKER_PID)
  for _ in $(seq 1 120); do
    ip netns exec tgnet-wan curl -sf http://127.0.0.1:8080/api/health >/dev/null && return 0
    sleep 0.5
  done
  echo "tracker did not start" >&2; return 1
}
start_tracker turn

cat > "$WORK/Caddyfile" <<CADDY
{
  admin off
  auto_https disable_redirects
  skip_install_trust
  storage file_system $WORK/caddy
}
https://train.test:443 {
  bind $SERVER
  tls $WORK/server.pem $WORK/server.key
  reverse_proxy 127.0.0.1:8080
}
# Plain http on port 80 as well, to check that the app tells a volunteer it needs HTTPS.
http://train.test:80 {
  bind $SERVER
  reverse_proxy 127.0.0.1:8080
}
CADDY
ip netns exec tgnet-wan env HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
  caddy run --config "$WORK/Caddyfile" --adapter caddyfile > "$WORK/caddy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 60); do
  ip netns exec tgnet-h-a curl -sf --cacert "$WORK/ca.pem" https://train.test/api/health >/dev/null && break
  sleep 0.5
done
ip netns exec tgnet-h-a curl -sf --cacert "$WORK/ca.pem" https://train.test/api/health >/dev/null || { echo "https://train.test is not reachable from home A" >&2; exit 1; }

# ---- the volunteers
export TGNET_WORK="$WORK"
npx tsx e2e/net/internet.ts --phase turn
# TURN switched off: restart the tracker with STUN only.
kill "$TRACKER_PID"; wait "$TRACKER_PID" 2>/dev/null || true
start_tracker noturn
npx tsx e2e/net/internet.ts --phase noturn
echo "test:net passed"
