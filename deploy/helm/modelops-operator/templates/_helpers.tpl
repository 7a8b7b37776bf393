{{/* The chart's name. */}}
{{- define "modelops-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name (used for every object the chart creates). */}}
{{- define "modelops-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "modelops-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "modelops-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelops-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "modelops-operator.labels" -}}
helm.sh/chart: {{ include "modelops-operator.chart" . }}
{{ include "modelops-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelops-operator
{{- end }}

{{- define "modelops-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelops-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "modelops-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The watched namespaces, validated: a scope must be chosen. */}}
{{- define "modelops-operator.namespaces" -}}
{{- if and (not .Values.watch.allNamespaces) (empty .Values.watch.namespaces) }}
{{- fail "watch: set watch.allNamespaces=true, or list the namespaces to watch in watch.namespaces" }}
{{- end }}
{{- if and .Values.watch.allNamespaces (not (empty .Values.watch.namespaces)) }}
{{- fail "watch: watch.allNamespaces=true and watch.namespaces are exclusive; set one of them" }}
{{- end }}
{{- toJson .Values.watch.namespaces }}
{{- end }}

{{/*
The arguments of `modelops-operator run`: the scope and the peering mode. With a random peering priority the
`--priority` argument is added by the container's shell wrapper (see deployment.yaml).
*/}}
{{- define "modelops-operator.args" -}}
{{- if .Values.watch.allNamespaces }}
- --all-namespaces
{{- else }}
{{- range (include "modelops-operator.namespaces" . | fromJsonArray) }}
- --namespace
- {{ . | quote }}
{{- end }}
{{- end }}
{{- if .Values.peering.enabled }}
- --peering-name
- {{ .Values.peering.name | quote }}
{{- if ne (toString .Values.peering.priority) "random" }}
- --priority
- {{ .Values.peering.priority | int | quote }}
{{- end }}
{{- else }}
- --standalone
{{- end }}
{{- end }}

{{/*
RBAC rules on the namespaced objects the operator works with, for a ClusterRole (all namespaces) or a Role
in each watched namespace. Least privilege: what kopf and the operator's own client call, nothing more.
*/}}
{{- define "modelops-operator.namespacedRules" -}}
# Exactly what the operator uses (tests/integration/test_rbac.py proves it from the API server's audit log).
# The operator's kinds: listed and watched by kopf, patched for finalizers, annotations and the pending marker.
- apiGroups: ["modelops.dev"]
  resources: ["modelbuilds", "modelruns", "assistanttools"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["modelops.dev"]
  resources: ["modelbuilds/status", "modelruns/status", "assistanttools/status"]
  verbs: ["patch"]
# Events about the resources (core/v1, as kopf posts them).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# The credentials Secret named in spec.credentialsSecretRef: read by name only, never listed or watched.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- define "modelops-operator.peeringRule" -}}
{{- if .Values.peering.enabled }}
- apiGroups: ["kopf.dev"]
  resources: [{{ ternary "clusterkopfpeerings" "kopfpeerings" .Values.watch.allNamespaces | quote }}]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* kopf's cluster-level observation: CRDs (resource discovery at run time), namespaces when namespaced. */}}
{{- define "modelops-operator.frameworkRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
# get: whether a resource's namespace is being deleted (nothing, Events included, can be created there then);
# list and watch: kopf follows the namespaces it is limited to.
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: {{ ternary (list "get") (list "get" "list" "watch") .Values.watch.allNamespaces | toJson }}
{{- end }}

{{/*
PromQL label matchers (without braces) that select the operator's series in Prometheus: prometheusRule.selector,
or the labels the chart's ServiceMonitor gives them (the Prometheus Operator names the job after the Service
when the ServiceMonitor sets no jobLabel; namespace is the Service's). Without either, alerts would select
nothing (and the absent alert would fire forever), so rendering fails instead.
*/}}
{{- define "modelops-operator.scrapeSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else if .Values.serviceMonitor.enabled }}
{{- printf "job=%q, namespace=%q" (printf "%s-metrics" (include "modelops-operator.fullname" .)) .Release.Namespace }}
{{- else }}
{{- fail "prometheusRule: set prometheusRule.selector to the labels of your scrape of the operator (e.g. job=\"modelops\"), or enable serviceMonitor" }}
{{- end }}
{{- end }}
