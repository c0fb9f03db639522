#!/usr/bin/env bash
# Entrypoint of a secured Kafka node in deploy/compose/three-brokers.yml (apache/kafka image):
# the image's own start, plus what it cannot do from environment variables alone:
#   - the listeners' login settings, which hold the brokers' and controllers' passwords, made
#     here from the mounted password files (never written in the compose file);
#   - the SCRAM credentials of every user, stored when the storage is first formatted
#     (`kafka-storage format --add-scram`; Kafka has no other way to give the brokers theirs);
#   - a client config for the healthcheck, as `admin`.
# Refuses to start while a password file is missing or empty (fail closed).
set -euo pipefail

secrets=/run/alliance-kafka
users=(broker controller admin alliance-intake alliance-scoring alliance-alerts alliance-gateway)
for user in "${users[@]}"; do
  if [[ ! -s "$secrets/$user.password" ]]; then
    echo "kafka-node: no password for $user in $secrets (kafka-secrets-init): not starting" >&2
    exit 1
  fi
done
pw() { tr -d '\n' < "$secrets/$1.password"; }

scram=org.apache.kafka.common.security.scram.ScramLoginModule
plain=org.apache.kafka.common.security.plain.PlainLoginModule
# listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config (the image maps _ to ., __ to _
# and ___ to -), and listener.name.controller.plain.sasl.jaas.config.
export KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___512_SASL_JAAS_CONFIG="$scram required username=\"broker\" password=\"$(pw broker)\";"
export KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG="$plain required username=\"controller\" password=\"$(pw controller)\" user_controller=\"$(pw controller)\";"

umask 077
cat > /tmp/admin.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$scram required username="admin" password="$(pw admin)";
EOF

# The image's setup writes server.properties from the environment and formats the log dir
# without credentials: let it format a throwaway one, then format the real one with them (once:
# an existing log keeps its credentials).
data=${KAFKA_LOG_DIRS:?}
KAFKA_LOG_DIRS=/tmp/setup-logs /opt/kafka/bin/kafka-run-class.sh kafka.docker.KafkaDockerWrapper \
  setup --default-configs-dir /etc/kafka/docker --mounted-configs-dir /mnt/shared/config \
  --final-configs-dir /opt/kafka/config > /tmp/setup.log 2>&1 \
  || grep -qi "already formatted" /tmp/setup.log || { cat /tmp/setup.log >&2; exit 1; }
sed -i "s|^log.dirs=.*|log.dirs=$data|" /opt/kafka/config/server.properties
add_scram=()
for user in broker admin alliance-intake alliance-scoring alliance-alerts alliance-gateway; do
  add_scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(pw "$user")]")
done
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "${CLUSTER_ID:?}" \
  --config /opt/kafka/config/server.properties "${add_scram[@]}"
exec /opt/kafka/bin/kafka-server-start.sh /opt/kafka/config/server.properties
