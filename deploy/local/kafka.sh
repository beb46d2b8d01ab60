#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) from the official jars on Maven Central.
#   deploy/local/kafka.sh up     fetch jars (cached), format storage, start, wait until ready
#   deploy/local/kafka.sh down     stop it (data is kept under .run/kafka)
#   deploy/local/kafka.sh restart  stop and start it again, same address, same data
#   deploy/local/kafka.sh reset    stop it and delete its data
# Writes NUDGE_KAFKA_BOOTSTRAP to .run/kafka.env, which the settings read.
# Starting twice is harmless: a running broker is left alone.
# The ports chosen at the first start are kept in .run/kafka/ports and reused by every
# later start, so running clients reconnect to a restarted broker on their own; new ports
# are chosen only if another process has taken them meanwhile.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/.cache/kafka"
run="$root/.run/kafka"
envfile="$root/.run/kafka.env"
mkdir -p "$cache" "$run"

running() { [ -f "$run/pid" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null; }

# Ports are drawn below the kernel's ephemeral range (32768 and up on Linux), so that
# while the broker is down no client's outgoing connection can take its port.
PORT_LOW=20000
PORT_HIGH=32000

# port_free PORT: nobody listens on it. SO_REUSEADDR as the JVM sets it, so connections
# of the previous run still in TIME_WAIT do not count as taken.
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# free_port [EXCEPT]: a free port in [PORT_LOW, PORT_HIGH) other than EXCEPT.
free_port() {
  local port
  while :; do
    port=$((PORT_LOW + RANDOM % (PORT_HIGH - PORT_LOW)))
    [ "$port" != "${1:-}" ] && port_free "$port" && { echo "$port"; return; }
  done
}

# choose_ports: "PORT CONTROLLER_PORT", the ones kept from the last start when still free.
choose_ports() {
  local port="" cport=""
  [ -f "$run/ports" ] && read -r port cport < "$run/ports"
  if [ -n "$port" ] && port_free "$port" && port_free "$cport"; then
    echo "$port $cport"
    return
  fi
  [ -n "$port" ] && echo "kafka: ports $port/$cport are taken by another process; choosing new ones" >&2
  port=$(free_port); cport=$(free_port "$port")
  echo "$port $cport" > "$run/ports"
  echo "$port $cport"
}

fetch_jars() {
  if [ ! -f "$cache/lib/.complete" ]; then
    echo "kafka: fetching broker jars from Maven Central (once, cached in .cache/kafka)"
    rm -rf "$cache/lib"
    mvn -q -B -Dstyle.color=never -f "$root/deploy/local/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$cache/lib" -DincludeScope=runtime
    touch "$cache/lib/.complete"
  fi
}

up() {
  if running; then
    echo "kafka: already running at $(cat "$run/bootstrap")"
    return 0
  fi
  fetch_jars
  local port cport
  read -r port cport < <(choose_ports)
  cat > "$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
# A lone broker: start consumer groups at once instead of waiting for more members.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.check.interval.ms=60000
PROPS
  cat > "$run/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$run/broker.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
  local cp="$cache/lib/*"
  # Storage is formatted once; the cluster id is kept with the data.
  if [ ! -f "$run/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" -Dlog4j.configuration="file:$run/log4j.properties" kafka.tools.StorageTool random-uuid)
    java -cp "$cp" -Dlog4j.configuration="file:$run/log4j.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$run/server.properties" >/dev/null
  fi
  : > "$run/broker.log"
  # Small heap: a test broker, not a production one.
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$cp" \
    -Dlog4j.configuration="file:$run/log4j.properties" \
    kafka.Kafka "$run/server.properties" > "$run/stdout.log" 2>&1 &
  echo $! > "$run/pid"
  echo "127.0.0.1:$port" > "$run/bootstrap"
  local deadline=$((SECONDS + 90))
  until grep -q "Kafka Server started" "$run/broker.log" 2>/dev/null; do
    if ! running; then
      echo "kafka: broker exited during start-up; last lines of its log:" >&2
      tail -n 30 "$run/stdout.log" "$run/broker.log" >&2 || true
      rm -f "$run/pid"
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka: not ready after 90 s; see $run/broker.log" >&2
      exit 1
    fi
    sleep 0.3
  done
  echo "NUDGE_KAFKA_BOOTSTRAP=127.0.0.1:$port" > "$envfile"
  echo "kafka: ready at 127.0.0.1:$port (pid $(cat "$run/pid"))"
}

down() {
  if running; then
    local pid; pid=$(cat "$run/pid")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka: stopped"
  else
    echo "kafka: not running"
  fi
  rm -f "$run/pid" "$envfile"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  restart) down; up ;;
  reset) down; rm -rf "$run" ;;
  status) if running; then echo "kafka: running at $(cat "$run/bootstrap")"; else echo "kafka: not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|restart|reset|status" >&2; exit 2 ;;
esac
