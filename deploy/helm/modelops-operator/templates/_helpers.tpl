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
What the chart runs: one Deployment per unit, as JSON. Without shards one unit, the release's own Deployment
(unchanged names and selector); with shards one unit per shard, validated here:
  shard        the shard's name ("" without shards)
  deployment   the Deployment's name: <fullname>, or <fullname>-<shard>
  component    the app.kubernetes.io/component label of the shard's Deployment and pods ("" without shards)
  selector     the label selector of the resources the unit owns (`--selector`; "" = every resource)
  namespaces   the namespaces it watches (`--namespace` each; empty with watch.allNamespaces)
  peeringName  its kopf peering name: peering.name, or <peering.name>-<shard> (each shard is its own operator,
               with its own standby: shards sharing a peering name would pause each other)
*/}}
{{- define "modelops-operator.units" -}}
{{- $fullname := include "modelops-operator.fullname" . }}
{{- $watched := include "modelops-operator.namespaces" . | fromJsonArray }}
{{- $units := list }}
{{- if empty .Values.shards }}
{{- $units = append $units (dict "shard" "" "deployment" $fullname "component" "" "selector" "" "namespaces" $watched "peeringName" .Values.peering.name) }}
{{- else }}
{{- $seen := dict }}
{{- range $shard := .Values.shards }}
{{- $name := $shard.name }}
{{- if hasKey $seen $name }}
{{- fail (printf "shards: the shard name %q is used twice; each shard needs its own name" $name) }}
{{- end }}
{{- $_ := set $seen $name true }}
{{- $selector := default "" $shard.selector | trim }}
{{- $namespaces := default (list) $shard.namespaces }}
{{- if and $namespaces $.Values.watch.allNamespaces }}
{{- fail (printf "shards: shard %q lists namespaces, which needs watch.allNamespaces=false with them in watch.namespaces (the RBAC and peering objects are per watched namespace)" $name) }}
{{- end }}
{{- range $namespace := $namespaces }}
{{- if not (has $namespace $watched) }}
{{- fail (printf "shards: shard %q lists namespace %q, which is not in watch.namespaces (a shard watches a subset of them)" $name $namespace) }}
{{- end }}
{{- end }}
{{- if and (not $selector) (not $namespaces) (gt (len $.Values.shards) 1) }}
{{- fail (printf "shards: shard %q has neither a selector nor namespaces: it would own every resource, the other shards' too" $name) }}
{{- end }}
{{- $deployment := printf "%s-%s" $fullname $name }}
{{- if gt (len $deployment) 63 }}
{{- fail (printf "shards: the Deployment name %q (<fullname>-<shard>) is longer than 63 characters; shorten the shard name or set fullnameOverride" $deployment) }}
{{- end }}
{{- $units = append $units (dict "shard" $name "deployment" $deployment "component" (printf "shard-%s" $name) "selector" $selector "namespaces" (default $watched $namespaces) "peeringName" (printf "%s-%s" $.Values.peering.name $name)) }}
{{- end }}
{{- end }}
{{- toJson $units }}
{{- end }}

{{/*
The arguments of `modelops-operator run` for one unit (a dict: root, unit): the scope, the shard's selector and
the peering mode. With a random peering priority the `--priority` argument is added by the container's shell
wrapper (see deployment.yaml).
*/}}
{{- define "modelops-operator.args" -}}
{{- $root := .root }}
{{- $unit := .unit }}
{{- if $root.Values.watch.allNamespaces }}
- --all-namespaces
{{- else }}
{{- range $unit.namespaces }}
- --namespace
- {{ . | quote }}
{{- end }}
{{- end }}
{{- with $unit.selector }}
- --selector
- {{ . | quote }}
{{- end }}
{{- if $root.Values.peering.enabled }}
- --peering-name
- {{ $unit.peeringName | quote }}
{{- if ne (toString $root.Values.peering.priority) "random" }}
- --priority
- {{ $root.Values.peering.priority | int | quote }}
{{- end }}
{{- else }}
- --standalone
{{- end }}
{{- end }}

{{/*
MODELOPS_CALLBACK_BASE_URL: config.callbackBaseUrl, or https://<callbacks.ingress.host> when the ingress is
enabled with a host and no base URL is set. Validates the callback settings: a callback port needs a base URL
(the URL the operator gives Twilio), the ingress needs the port, and the ingress must route the callback URLs.
*/}}
{{- define "modelops-operator.callbackBaseUrl" -}}
{{- $config := .Values.config }}
{{- $ingress := .Values.callbacks.ingress }}
{{- $port := int $config.callbackPort }}
{{- $base := $config.callbackBaseUrl }}
{{- if and $ingress.enabled (eq $port 0) }}
{{- fail "callbacks.ingress.enabled needs config.callbackPort != 0 (the port the operator serves status callbacks on)" }}
{{- end }}
{{- if and (not $base) $ingress.enabled $ingress.host (not (contains "*" $ingress.host)) }}
{{- $base = printf "https://%s" $ingress.host }}
{{- end }}
{{- if ne $port 0 }}
{{- if not $base }}
{{- fail "config.callbackPort needs config.callbackBaseUrl, the URL at which Twilio reaches the callbacks Service (e.g. https://hooks.example.com), or callbacks.ingress.enabled=true with a callbacks.ingress.host that is not a wildcard (the base URL is then https://<host>)" }}
{{- end }}
{{- if or (eq $port (int $config.metricsPort)) (eq $port (int $config.healthPort)) }}
{{- fail (printf "config.callbackPort %d is already config.metricsPort or config.healthPort; the callbacks need a port of their own" $port) }}
{{- end }}
{{- if $ingress.enabled }}
{{- $url := urlParse $base }}
{{- $callbackPath := printf "%s/callbacks/" (trimSuffix "/" $url.path) }}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" $ingress.path)) $callbackPath) }}
{{- fail (printf "callbacks.ingress.path %q does not route the callback URLs: with the base URL %q their path is %s<plural>/<namespace>/<name>/<uid>" $ingress.path $base $callbackPath) }}
{{- end }}
{{- if $ingress.host }}
{{- $matches := ternary (hasSuffix (trimPrefix "*" $ingress.host) $url.hostname) (eq $ingress.host $url.hostname) (hasPrefix "*." $ingress.host) }}
{{- if not $matches }}
{{- fail (printf "callbacks.ingress.host %q does not match the host of config.callbackBaseUrl %q: Twilio would post the callbacks elsewhere" $ingress.host $base) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $base }}
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
