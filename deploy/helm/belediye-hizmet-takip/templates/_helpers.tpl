{{/* Names: <release>-api, <release>-workers, <release>-engine (shortened to DNS label length). */}}
{{- define "bht.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bht.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "bht.selector" (list $ "api"). */}}
{{- define "bht.selector" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ $ctx.Chart.Name }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "bht.secretName" -}}
{{- default (printf "%s-secrets" (include "bht.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "bht.engineRestUrl" -}}
{{- printf "http://%s-engine:%v/engine-rest" (include "bht.fullname" .) .Values.engine.port -}}
{{- end -}}

{{/* The Secret keys our API, workers and tools read (the engine's own are set in its Deployment). */}}
{{- define "bht.appSecretEnv" -}}
{{- $secret := include "bht.secretName" . -}}
{{- range $key := list "DATABASE_URL" "ENGINE_PASSWORD" "SMTP_USERNAME" "SMTP_PASSWORD" "SMPP_SYSTEM_ID" "SMPP_PASSWORD" "OIDC_ISSUER" "OIDC_AUDIENCE" "PERSONAL_DATA_KEYS" "WEB_SECRET" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* Environment of every container running our Python code. */}}
{{- define "bht.appEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "bht.fullname" . }}-config
env:
  - name: ENGINE_REST_URL
    value: {{ include "bht.engineRestUrl" . | quote }}
  - name: DATA_DIR
    value: /var/lib/belediye
  {{- include "bht.appSecretEnv" . | trim | nindent 2 }}
{{- end -}}

{{- define "bht.podDefaults" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Prefer spreading a component's replicas over nodes: one node lost takes one replica. */}}
{{- define "bht.spread" -}}
{{- $ctx := index . 0 -}}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "bht.selector" . | nindent 14 }}
{{- end -}}

{{- define "bht.pdb" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index . 2 -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "bht.fullname" $ctx }}-{{ $component }}
  labels:
    {{- include "bht.labels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ $component }}
spec:
  maxUnavailable: {{ $values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "bht.selector" (list $ctx $component) | nindent 6 }}
{{- end -}}
