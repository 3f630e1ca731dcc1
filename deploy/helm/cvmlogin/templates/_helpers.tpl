{{/* The name of every object of the release. */}}
{{- define "cvmlogin.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "cvmlogin.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of the bot's pods. */}}
{{- define "cvmlogin.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bot
{{- end -}}

{{/* The Secret holding the tokens and keys. */}}
{{- define "cvmlogin.secretName" -}}
{{- .Values.existingSecret | default (include "cvmlogin.fullname" .) -}}
{{- end -}}

{{/* The bundled Redis's name. */}}
{{- define "cvmlogin.redisName" -}}
{{- printf "%s-redis" (include "cvmlogin.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
