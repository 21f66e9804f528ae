#!/usr/bin/env bats
# kubectl version, cluster-info, auth whoami and auth can-i.

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

# server_url: the API server URL in the kubeconfig.
server_url() {
	k config view --minify -o jsonpath='{.clusters[0].cluster.server}'
}

@test "kubectl version: client and server versions, the server's major 1 minor 32 from GET /version, no skew warning" {
	run -0 --separate-stderr k version
	[[ "$output" == *"Client Version: v1.32."* ]]
	local raw
	raw=$(api GET /version)
	grep -qx "Server Version: $(jq -r .gitVersion <<<"$raw")" <<<"$output"
	[[ "$(jq -r .gitVersion <<<"$raw")" == v1.32.* ]]
	[ "$stderr" = "" ]
	run -0 k version -o json
	[ "$(jq -c '.serverVersion | [.major, .minor, .platform]' <<<"$output")" = '["1","32","linux/amd64"]' ]
	[ "$(jq -S -c .serverVersion <<<"$output")" = "$(jq -S -c . <<<"$raw")" ]
	[ "$(jq -r '[.gitCommit, .gitTreeState, .buildDate, .goVersion, .compiler] | map(length > 0) | all' <<<"$raw")" = true ]
}

@test "kubectl cluster-info: the control plane URL of the kubeconfig, and the kube-system services labelled kubernetes.io/cluster-service=true" {
	local url
	url=$(server_url)
	[ "$url" = "https://127.0.0.1:$C8S_PORT" ]
	run -0 k cluster-info
	[ "$(head -n 1 <<<"$output")" = "Kubernetes control plane is running at $url" ]
	[[ "$output" == *"To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'."* ]]
	# only labelled services in kube-system are listed, by their
	# kubernetes.io/name; the server made kube-dns with the label
	[ "$(k -n kube-system get service kube-dns -o jsonpath='{.metadata.labels.kubernetes\.io/cluster-service}')" = true ]
	k -n kube-system label service kube-dns kubernetes.io/name=CoreDNS
	post /api/v1/namespaces/kube-system/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"unlisted"},"spec":{"ports":[{"port":80}]}}'
	post /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"elsewhere",
		"labels":{"kubernetes.io/cluster-service":"true"}},"spec":{"ports":[{"port":80}]}}'
	run -0 k cluster-info
	[ "$(grep -c ' is running at ' <<<"$output")" = 2 ]
	grep -qx "CoreDNS is running at $url/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy" <<<"$output"
}

@test "kubectl auth whoami: Username system:admin, Groups system:masters system:authenticated (a SelfSubjectReview)" {
	run -0 k auth whoami
	[ "$(header)" = "ATTRIBUTE | VALUE" ]
	[ "$(cells Username)" = "Username|system:admin" ]
	[ "$(cells Groups)" = "Groups|[system:masters system:authenticated]" ]
	run -0 k auth whoami -o json
	[ "$(jq -c '[.kind, .apiVersion, .status.userInfo.username, .status.userInfo.groups]' <<<"$output")" = \
		'["SelfSubjectReview","authentication.k8s.io/v1","system:admin",["system:masters","system:authenticated"]]' ]
	# the raw create, which stores nothing
	local before r
	before=$(list_rv)
	r=$(api_json POST /apis/authentication.k8s.io/v1/selfsubjectreviews '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}')
	[ "$(reply_code "$r")" = 201 ]
	[ "$(reply_body "$r" | jq -r .status.userInfo.username)" = system:admin ]
	[ "$(list_rv)" = "$before" ]
}

@test "kubectl auth can-i: yes for the admin on namespaced and cluster resources, subresources and non-resource URLs" {
	run -0 --separate-stderr k auth can-i create pods
	[ "$output" = yes ]
	run -0 --separate-stderr k auth can-i delete nodes
	[ "$output" = yes ]
	run -0 --separate-stderr k auth can-i '*' '*' --all-namespaces
	[ "$output" = yes ]
	run -0 --separate-stderr k auth can-i patch deployments.apps/scale -n kube-system
	[ "$output" = yes ]
	run -0 --separate-stderr k auth can-i get /healthz
	[ "$output" = yes ]
	local r
	r=$(api_json POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
		'{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"list","resource":"secrets","namespace":"kube-system"}}}')
	[ "$(reply_code "$r")" = 201 ]
	[ "$(reply_body "$r" | jq -c '[.kind, .status.allowed, .spec.resourceAttributes.resource]')" = '["SelfSubjectAccessReview",true,"secrets"]' ]
}

@test "kubectl auth can-i --list: the admin's rules (a SelfSubjectRulesReview) are every verb on every resource and URL" {
	run -0 --separate-stderr k auth can-i --list
	[ "$(header)" = "Resources | Non-Resource URLs | Resource Names | Verbs" ]
	grep -qE '^\*\.\* +\[\] +\[\] +\[\*\]$' <<<"$output"
}
