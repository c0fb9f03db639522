{{/* The four services, and which of them own a schema of record (one migration Job each). */}}
{{- define "alliance.services" -}}intake scoring alerts gateway{{- end -}}
{{- define "alliance.migrated" -}}intake alerts gateway{{- end -}}
{{/* Consumers of partitioned topics whose replicas beyond the partition count would idle. */}}
{{- define "alliance.consumers" -}}scoring alerts{{- end -}}
{{/* The HTTP doors that verify bearer tokens. */}}
{{- define "alliance.doors" -}}intake alerts gateway{{- end -}}
{{/* Taking traffic from outside the release. */}}
{{- define "alliance.public" -}}intake gateway{{- end -}}

{{- define "alliance.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of everything, and the selector of one component: (dict "root" $ "component" name). */}}
{{- define "alliance.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "alliance.labels" -}}
{{ include "alliance.selector" . }}
app.kubernetes.io/part-of: alliance
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* A Secret reference that must be named: (list value "what it is"). */}}
{{- define "alliance.required" -}}
{{- required (printf "%s: name an existing Secret (values.yaml; docs/operations.md, Deploying with Helm)" (index . 1)) (index . 0) -}}
{{- end -}}

{{/* A number as the settings parse it: YAML gives floats, so 1048588 must not print 1.048588e+06. */}}
{{- define "alliance.num" -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}

{{- define "alliance.image" -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .service $tag -}}
{{- end -}}

{{/* The Secret with a component's Kafka SASL credentials: its own or the shared one. */}}
{{- define "alliance.kafkaSaslSecret" -}}
{{- $sasl := .root.Values.kafka.sasl -}}
{{- $own := index $sasl.perComponent .component | default "" -}}
{{- $own | default $sasl.existingSecret -}}
{{- end -}}

{{/* A component's Kafka SASL password as a file (KAFKA_SASL_PASSWORD_FILE), never in its
environment: the volume and the mount, for the SASL_* protocols. */}}
{{- define "alliance.kafkaSaslVolume" -}}
{{- $kafka := .root.Values.kafka -}}
{{- if hasPrefix "SASL_" $kafka.securityProtocol }}
- name: kafka-sasl
  secret:
    secretName: {{ include "alliance.kafkaSaslSecret" . | quote }}
    defaultMode: 0440
    items: [{key: {{ $kafka.sasl.passwordKey | quote }}, path: password}]
{{- end }}
{{- end -}}

{{- define "alliance.kafkaSaslMount" -}}
{{- if hasPrefix "SASL_" .root.Values.kafka.securityProtocol }}
- {name: kafka-sasl, mountPath: /run/alliance/kafka-sasl, readOnly: true}
{{- end }}
{{- end -}}

{{/* How a component reaches Kafka (alliance_platform.kafka.KafkaSecurity). */}}
{{- define "alliance.kafkaEnv" -}}
{{- $kafka := .root.Values.kafka }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers: the brokers, host:port[,host:port]" $kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL_" $kafka.securityProtocol }}
{{- $secret := include "alliance.required" (list (include "alliance.kafkaSaslSecret" .) (printf "kafka.sasl.existingSecret (or kafka.sasl.perComponent.%s), the Kafka SASL credentials" .component)) }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $secret | quote }}, key: {{ $kafka.sasl.usernameKey | quote }}}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /run/alliance/kafka-sasl/password
{{- end }}
{{- if and (hasSuffix "SSL" $kafka.securityProtocol) $kafka.tls.caSecret.existingSecret }}
- name: KAFKA_SSL_CAFILE
  value: /run/alliance/kafka-ca/ca.crt
{{- end }}
- name: ALLIANCE_TOPIC_PARTITIONS
  value: {{ include "alliance.num" $kafka.topicPartitions | quote }}
- name: ALLIANCE_KAFKA_MESSAGE_MAX_BYTES
  value: {{ include "alliance.num" $kafka.messageMaxBytes | quote }}
{{- end -}}

{{/* A service role's DATABASE_URL (no password: that comes from ALLIANCE_DB_PASSWORD_FILE). */}}
{{- define "alliance.databaseUrl" -}}
{{- $db := .root.Values.database -}}
{{- printf "postgresql://alliance_%s@%s:%v/%s?sslmode=%s" .service (required "database.host: the PostgreSQL server" $db.host) $db.port $db.name $db.sslmode -}}
{{- end -}}

{{/* The CA files both engines may need, as volumes and mounts; and the verification setting. */}}
{{- define "alliance.caVolumes" -}}
{{- $v := .Values -}}
{{- if and (hasSuffix "SSL" $v.kafka.securityProtocol) $v.kafka.tls.caSecret.existingSecret }}
- name: kafka-ca
  secret:
    secretName: {{ $v.kafka.tls.caSecret.existingSecret | quote }}
    defaultMode: 0444
    items: [{key: {{ $v.kafka.tls.caSecret.key | quote }}, path: ca.crt}]
{{- end }}
{{- if $v.database.tls.caSecret.existingSecret }}
- name: postgres-ca
  secret:
    secretName: {{ $v.database.tls.caSecret.existingSecret | quote }}
    defaultMode: 0444
    items: [{key: {{ $v.database.tls.caSecret.key | quote }}, path: ca.crt}]
{{- end }}
- name: tmp
  emptyDir: {sizeLimit: {{ $v.tmpSizeLimit }}}
{{- end -}}

{{- define "alliance.caMounts" -}}
{{- $v := .Values -}}
{{- if and (hasSuffix "SSL" $v.kafka.securityProtocol) $v.kafka.tls.caSecret.existingSecret }}
- {name: kafka-ca, mountPath: /run/alliance/kafka-ca, readOnly: true}
{{- end }}
{{- if $v.database.tls.caSecret.existingSecret }}
- {name: postgres-ca, mountPath: /run/alliance/postgres-ca, readOnly: true}
{{- end }}
- {name: tmp, mountPath: /tmp}
{{- end -}}

{{- define "alliance.caEnv" -}}
{{- if .Values.database.tls.caSecret.existingSecret }}
- name: PGSSLROOTCERT
  value: /run/alliance/postgres-ca/ca.crt
{{- end }}
{{- end -}}

{{/* A service's own database password, as a file (ALLIANCE_DB_PASSWORD_FILE reads it). */}}
{{- define "alliance.passwordVolume" -}}
- name: db-password-{{ .service }}
  secret:
    secretName: {{ include "alliance.required" (list (index .root.Values .service).database.existingSecret (printf "%s.database.existingSecret, the password of the alliance_%s role" .service .service)) | quote }}
    defaultMode: 0440
    items: [{key: {{ (index .root.Values .service).database.passwordKey | quote }}, path: password}]
{{- end -}}

{{/* Pod- and container-level hardening, the same for every pod of the chart. */}}
{{- define "alliance.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "alliance.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}
