#!/usr/bin/env bats
# kubectl apply, client-side (last-applied-configuration, strategic merge
# patches that prune what the manifest no longer holds) and server-side
# (managedFields, conflicts between field managers, --force-conflicts,
# co-ownership); kubectl diff; --dry-run=server on every write; and field
# validation (Strict by default, --validate=warn, --validate=false).

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

LAST_APPLIED=kubectl.kubernetes.io/last-applied-configuration

# manifest FILE: write stdin to $BATS_TEST_TMPDIR/FILE.
manifest() {
	cat >"$BATS_TEST_TMPDIR/$1"
}

# path NS RESOURCE NAME: the API path of a configmap or deployment.
path() {
	case $2 in
	deployment) echo "/apis/apps/v1/namespaces/$1/deployments/$3" ;;
	*) echo "/api/v1/namespaces/$1/${2}s/$3" ;;
	esac
}

# rv NS RESOURCE NAME: the object's resourceVersion.
rv() {
	api GET "$(path "$@")" | jq -r .metadata.resourceVersion
}

# cm_data NS NAME: the data of a configmap, as compact JSON.
cm_data() {
	api GET "$(path "$1" configmap "$2")" | jq -S -c .data
}

# managers NS RESOURCE NAME: "manager:operation" of each managedFields entry.
managers() {
	api GET "$(path "$@")" | jq -r '[.metadata.managedFields[]? | .manager + ":" + .operation] | join(" ")'
}

# owned NS RESOURCE NAME MANAGER: the fieldsV1 of MANAGER's entry.
owned() {
	api GET "$(path "$1" "$2" "$3")" | jq -c --arg m "$4" '.metadata.managedFields[] | select(.manager == $m) | .fieldsV1'
}

web_v1() {
	manifest web.yaml <<-'EOF'
		apiVersion: apps/v1
		kind: Deployment
		metadata:
		  name: web
		  labels: {app: web, tier: frontend}
		  annotations: {team: blue}
		spec:
		  replicas: 2
		  selector: {matchLabels: {app: web}}
		  template:
		    metadata: {labels: {app: web}}
		    spec:
		      containers:
		      - name: main
		        image: nginx:1.25
		        env: [{name: MODE, value: fast}, {name: LEVEL, value: "3"}]
		        ports: [{containerPort: 8080}, {containerPort: 9090}]
		      - name: sidecar
		        image: busybox:1.36
	EOF
}

web_v2() {
	manifest web.yaml <<-'EOF'
		apiVersion: apps/v1
		kind: Deployment
		metadata:
		  name: web
		  labels: {app: web}
		spec:
		  replicas: 3
		  selector: {matchLabels: {app: web}}
		  template:
		    metadata: {labels: {app: web}}
		    spec:
		      containers:
		      - name: main
		        image: nginx:1.26
		        env: [{name: MODE, value: fast}]
		        ports: [{containerPort: 8080}]
	EOF
}

@test "kubectl apply -f (client-side): creates with the last-applied-configuration annotation; repeated, it is unchanged" {
	make_namespace ap-csa
	web_v1
	run -0 k -n ap-csa apply -f "$BATS_TEST_TMPDIR/web.yaml"
	[ "$output" = "deployment.apps/web created" ]
	local obj last
	obj=$(k -n ap-csa get deployment web -o json)
	last=$(jq -r --arg a "$LAST_APPLIED" '.metadata.annotations[$a]' <<<"$obj")
	# the annotation is the manifest as JSON, with the namespace
	[ "$(jq -c '[.metadata.name, .metadata.namespace, .metadata.labels, .spec.replicas, .spec.template.spec.containers[0].env]' <<<"$last")" = \
		'["web","ap-csa",{"app":"web","tier":"frontend"},2,[{"name":"MODE","value":"fast"},{"name":"LEVEL","value":"3"}]]' ]
	[ "$(jq -c '[.spec.replicas, .metadata.annotations.team, [.spec.template.spec.containers[].name]]' <<<"$obj")" = '[2,"blue",["main","sidecar"]]' ]
	local before
	before=$(rv ap-csa deployment web)
	run -0 k -n ap-csa apply -f "$BATS_TEST_TMPDIR/web.yaml"
	[ "$output" = "deployment.apps/web unchanged" ]
	[ "$(rv ap-csa deployment web)" = "$before" ]
}

@test "kubectl apply -f (client-side) update: changes fields, prunes what the manifest dropped, keeps what others set" {
	make_namespace ap-prune
	web_v1
	k -n ap-prune apply -f "$BATS_TEST_TMPDIR/web.yaml"
	# another writer's label is not the manifest's to prune
	k -n ap-prune label deployment web owner=ops
	web_v2
	run -0 --separate-stderr k -n ap-prune apply -f "$BATS_TEST_TMPDIR/web.yaml" -v=6
	[ "$output" = "deployment.apps/web configured" ]
	grep -q "PATCH https://127.0.0.1:$C8S_PORT/apis/apps/v1/namespaces/ap-prune/deployments/web?fieldManager=kubectl-client-side-apply&fieldValidation=Strict.* 200 OK" <<<"$stderr"
	local obj
	obj=$(k -n ap-prune get deployment web -o json)
	[ "$(jq -c .metadata.labels <<<"$obj")" = '{"app":"web","owner":"ops"}' ]
	[ "$(jq -c '.metadata.annotations | has("team")' <<<"$obj")" = false ]
	[ "$(jq -r .spec.replicas <<<"$obj")" = 3 ]
	[ "$(jq -c '[.spec.template.spec.containers[] | {name, image, env, ports: [.ports[].containerPort]}]' <<<"$obj")" = \
		'[{"name":"main","image":"nginx:1.26","env":[{"name":"MODE","value":"fast"}],"ports":[8080]}]' ]
	[ "$(jq -r --arg a "$LAST_APPLIED" '.metadata.annotations[$a] | fromjson | .spec.replicas' <<<"$obj")" = 3 ]
	run -0 k -n ap-prune apply -f "$BATS_TEST_TMPDIR/web.yaml"
	[ "$output" = "deployment.apps/web unchanged" ]
}

@test "kubectl apply --server-side: creates with managedFields (manager kubectl, operation Apply) naming exactly the applied fields; the same apply again writes nothing" {
	make_namespace ap-ssa
	manifest cm.yaml <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: settings, labels: {app: web}}
		data: {color: blue, size: "10"}
	EOF
	run -0 k -n ap-ssa apply --server-side -f "$BATS_TEST_TMPDIR/cm.yaml"
	[ "$output" = "configmap/settings serverside-applied" ]
	[ "$(managers ap-ssa configmap settings)" = "kubectl:Apply" ]
	[ "$(owned ap-ssa configmap settings kubectl)" = '{"f:data":{"f:color":{},"f:size":{}},"f:metadata":{"f:labels":{"f:app":{}}}}' ]
	run -0 k -n ap-ssa get configmap settings --show-managed-fields -o json
	[ "$(jq -r '.metadata.managedFields[0] | [.apiVersion, .fieldsType, (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$") | tostring)] | join(" ")' <<<"$output")" = "v1 FieldsV1 true" ]
	[ "$(jq -c .data <<<"$output")" = '{"color":"blue","size":"10"}' ]
	# the same apply again, a second later, changes nothing: no new
	# resourceVersion (upstream does not even move the managedFields time)
	local before t0
	before=$(rv ap-ssa configmap settings)
	t0=$(date -u +%s)
	wait_for 3 second_passed "$t0"
	run -0 k -n ap-ssa apply --server-side -f "$BATS_TEST_TMPDIR/cm.yaml"
	[ "$output" = "configmap/settings serverside-applied" ]
	[ "$(rv ap-ssa configmap settings)" = "$before" ]
}

@test "kubectl apply --server-side by a second manager changing an owned field: 409 Conflict with FieldManagerConflict, nothing changed; --force-conflicts takes it over" {
	make_namespace ap-conflict
	manifest a.yaml <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: shared}
		data: {color: blue, size: "10"}
	EOF
	manifest b.yaml <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: shared}
		data: {color: red, extra: "yes"}
	EOF
	k -n ap-conflict apply --server-side -f "$BATS_TEST_TMPDIR/a.yaml"
	local before
	before=$(rv ap-conflict configmap shared)
	run -1 k -n ap-conflict apply --server-side --field-manager=other -f "$BATS_TEST_TMPDIR/b.yaml"
	[[ "$output" == "error: Apply failed with 1 conflict: conflict with \"kubectl\""*": .data.color"* ]]
	[[ "$output" == *"re-run the apply"*"--force-conflicts"* ]]
	[ "$(rv ap-conflict configmap shared)" = "$before" ]

	# the Status behind it
	local body r
	body=$(yq -c . "$BATS_TEST_TMPDIR/b.yaml")
	r=$(api_patch "/api/v1/namespaces/ap-conflict/configmaps/shared?fieldManager=other" apply-patch+yaml "$body")
	[ "$(reply_code "$r")" = 409 ]
	[ "$(reply_body "$r" | jq -r '[.kind, .status, .reason, (.code | tostring)] | join(" ")')" = "Status Failure Conflict 409" ]
	[ "$(reply_body "$r" | jq -c '[.details.causes[] | [.reason, .field]]')" = '[["FieldManagerConflict",".data.color"]]' ]
	[[ "$(reply_body "$r" | jq -r '.details.causes[0].message')" == 'conflict with "kubectl"'* ]]
	[ "$(rv ap-conflict configmap shared)" = "$before" ]

	run -0 k -n ap-conflict apply --server-side --field-manager=other --force-conflicts -f "$BATS_TEST_TMPDIR/b.yaml"
	[ "$output" = "configmap/shared serverside-applied" ]
	[ "$(cm_data ap-conflict shared)" = '{"color":"red","extra":"yes","size":"10"}' ]
	[ "$(owned ap-conflict configmap shared other)" = '{"f:data":{"f:color":{},"f:extra":{}}}' ]
	[ "$(owned ap-conflict configmap shared kubectl)" = '{"f:data":{"f:size":{}}}' ]
}

@test "kubectl apply --server-side conflict messages are upstream's: \"kubectl\" for an applier, \"kubectl-patch\" using v1 for an updater, with subresource \"scale\" after kubectl scale, grouped by manager when several" {
	make_namespace ap-msg
	manifest a.yaml <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: msg}
		data: {color: blue, size: "10", shape: round}
	EOF
	k -n ap-msg apply --server-side -f "$BATS_TEST_TMPDIR/a.yaml"
	local got=() want=()
	run -1 k -n ap-msg apply --server-side --field-manager=other -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: msg}
		data: {color: red}
	EOF
	got+=("$(head -n 1 <<<"$output")")
	want+=('error: Apply failed with 1 conflict: conflict with "kubectl": .data.color')
	run -1 k -n ap-msg apply --server-side --field-manager=other -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: msg}
		data: {color: red, shape: square}
	EOF
	got+=("$(sed -n 1,3p <<<"$output")")
	want+=($'error: Apply failed with 2 conflicts: conflicts with "kubectl":\n- .data.color\n- .data.shape')
	# an Update (kubectl patch) takes the field over; applying it back
	# conflicts with that updater, named with the API version it used
	# (upstream leaves the time out of a manager's identity)
	k -n ap-msg patch configmap msg --type merge -p '{"data":{"size":"20"}}'
	[ "$(api GET /api/v1/namespaces/ap-msg/configmaps/msg |
		jq -r '.metadata.managedFields[] | select(.manager == "kubectl-patch") | .operation + " " + .apiVersion')" = "Update v1" ]
	run -1 k -n ap-msg apply --server-side -f "$BATS_TEST_TMPDIR/a.yaml"
	got+=("$(head -n 1 <<<"$output")")
	want+=('error: Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.size')
	# kubectl scale writes through the scale subresource, which the
	# manager's entry names
	cat >"$BATS_TEST_TMPDIR/d.yaml" <<-'EOF'
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: msg}
		spec:
		  replicas: 2
		  selector: {matchLabels: {app: msg}}
		  template:
		    metadata: {labels: {app: msg}}
		    spec: {containers: [{name: main, image: "nginx:1.25"}]}
	EOF
	k -n ap-msg apply --server-side -f "$BATS_TEST_TMPDIR/d.yaml"
	k -n ap-msg scale deployment msg --replicas=4
	[ "$(api GET /apis/apps/v1/namespaces/ap-msg/deployments/msg |
		jq -c '.metadata.managedFields[] | select(.operation == "Update") | [.manager, .subresource, .apiVersion, .fieldsV1]')" = \
		'["kubectl","scale","apps/v1",{"f:spec":{"f:replicas":{}}}]' ]
	run -1 k -n ap-msg apply --server-side -f "$BATS_TEST_TMPDIR/d.yaml"
	got+=("$(head -n 1 <<<"$output")")
	want+=('error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas')
	local i bad=0
	for i in "${!want[@]}"; do
		if [ "${got[$i]}" != "${want[$i]}" ]; then
			printf 'want: %s\ngot:  %s\n' "${want[$i]}" "${got[$i]}" >&2
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}

@test "kubectl apply --server-side: fields two managers co-own stay when one manager drops them; fields only it owned go" {
	make_namespace ap-coown
	k -n ap-coown apply --server-side -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: co}
		data: {shared: same, onlya: a}
	EOF
	# the same value: no conflict, the field is co-owned
	run -0 k -n ap-coown apply --server-side --field-manager=bob -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: co}
		data: {shared: same, onlyb: b}
	EOF
	[ "$output" = "configmap/co serverside-applied" ]
	[ "$(owned ap-coown configmap co bob)" = '{"f:data":{"f:onlyb":{},"f:shared":{}}}' ]
	# kubectl drops both of its fields: only the one it alone owned goes
	k -n ap-coown apply --server-side -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: co, labels: {a: b}}
	EOF
	[ "$(cm_data ap-coown co)" = '{"onlyb":"b","shared":"same"}' ]
	[ "$(owned ap-coown configmap co kubectl)" = '{"f:metadata":{"f:labels":{"f:a":{}}}}' ]
	# bob drops shared too: now it goes
	k -n ap-coown apply --server-side --field-manager=bob -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: co}
		data: {onlyb: b}
	EOF
	[ "$(cm_data ap-coown co)" = '{"onlyb":"b"}' ]
}

@test "kubectl apply --server-side of a manifest with an empty map (data: {}) drops the manager's fields without a conflict" {
	make_namespace ap-empty
	k -n ap-empty apply --server-side -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: em}
		data: {shared: same, onlya: a}
	EOF
	k -n ap-empty apply --server-side --field-manager=bob -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: em}
		data: {shared: same, onlyb: b}
	EOF
	# an empty map owns no field (structured-merge-diff); nothing conflicts
	run -0 k -n ap-empty apply --server-side -f - <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: em}
		data: {}
	EOF
	[ "$output" = "configmap/em serverside-applied" ]
	[ "$(cm_data ap-empty em)" = '{"onlyb":"b","shared":"same"}' ]
}

@test "kubectl diff: exit 0 and no output when the manifest matches, exit 1 with a unified diff of the changed fields, live object untouched" {
	make_namespace ap-diff
	web_v1
	k -n ap-diff apply -f "$BATS_TEST_TMPDIR/web.yaml"
	local before
	before=$(list_rv)
	run -0 k -n ap-diff diff -f "$BATS_TEST_TMPDIR/web.yaml"
	[ "$output" = "" ]
	sed -i 's/nginx:1.25/nginx:1.27/; s/replicas: 2/replicas: 5/' "$BATS_TEST_TMPDIR/web.yaml"
	run -1 k -n ap-diff diff -f "$BATS_TEST_TMPDIR/web.yaml"
	[[ "$(head -n 1 <<<"$output")" == "diff -u -N "*"apps.v1.Deployment.ap-diff.web "*"apps.v1.Deployment.ap-diff.web" ]]
	grep -qx -- '-  replicas: 2' <<<"$output"
	grep -qx -- '+  replicas: 5' <<<"$output"
	grep -qx -- '-        image: nginx:1.25' <<<"$output"
	grep -qx -- '+        image: nginx:1.27' <<<"$output"
	# generation moves in the dry-run result too
	grep -qx -- '+  generation: 2' <<<"$output"
	run -1 k -n ap-diff diff --server-side -f "$BATS_TEST_TMPDIR/web.yaml"
	grep -qx -- '+        image: nginx:1.27' <<<"$output"
	# diff is a server dry run: nothing stored
	[ "$(list_rv)" = "$before" ]
	[ "$(k -n ap-diff get deployment web -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].image}')" = "2 nginx:1.25" ]
}

@test "--dry-run=server on kubectl create, apply, apply --server-side, patch, label, annotate, scale and set image changes nothing" {
	make_namespace ap-dry
	k -n ap-dry create configmap keep --from-literal=a=1
	k -n ap-dry create deployment dd --image=nginx:1.25 --replicas=2
	wait_for 20 has_created_event ap-dry Deployment dd
	local before
	before=$(list_rv)
	run -0 k -n ap-dry create configmap ghost --from-literal=a=1 --dry-run=server
	[ "$output" = "configmap/ghost created (server dry run)" ]
	run -0 k -n ap-dry create deployment ghost --image=x --dry-run=server -o jsonpath='{.spec.strategy.type} {.metadata.uid}'
	# the reply is the defaulted object
	[[ "$output" == "RollingUpdate "?* ]]
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {a: "2"}\n' >"$BATS_TEST_TMPDIR/keep.yaml"
	# (kubectl warns on stderr that keep has no last-applied annotation)
	run -0 --separate-stderr k -n ap-dry apply -f "$BATS_TEST_TMPDIR/keep.yaml" --dry-run=server
	[ "$output" = "configmap/keep configured (server dry run)" ]
	run -0 k -n ap-dry apply --server-side -f "$BATS_TEST_TMPDIR/keep.yaml" --dry-run=server --force-conflicts
	[ "$output" = "configmap/keep serverside-applied (server dry run)" ]
	run -0 k -n ap-dry patch configmap keep -p '{"data":{"a":"3"}}' --dry-run=server -o jsonpath='{.data.a}'
	[ "$output" = 3 ]
	run -0 k -n ap-dry label configmap keep x=y --dry-run=server
	[ "$output" = "configmap/keep labeled (server dry run)" ]
	run -0 k -n ap-dry annotate configmap keep x=y --dry-run=server
	[ "$output" = "configmap/keep annotated (server dry run)" ]
	run -0 k -n ap-dry scale deployment dd --replicas=7 --dry-run=server
	[ "$output" = "deployment.apps/dd scaled (server dry run)" ]
	run -0 k -n ap-dry set image deployment dd nginx=nginx:1.99 --dry-run=server
	[ "$output" = "deployment.apps/dd image updated (server dry run)" ]
	[ "$(list_rv)" = "$before" ]
	run -0 k -n ap-dry get configmaps -o name
	[ "$output" = configmap/keep ]
	[ "$(k -n ap-dry get configmap keep -o jsonpath='{.data.a} {.metadata.labels}')" = "1 " ]
	[ "$(k -n ap-dry get deployment dd -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}')" = "2 nginx:1.25 1" ]
	# no Created event was recorded for the dry-run creates
	! has_created_event ap-dry Deployment ghost
}

@test "kubectl delete and replace --dry-run=server (dryRun in the DeleteOptions body), and a dry-run DELETE of a collection, keep the objects" {
	make_namespace ap-drydel
	k -n ap-drydel create configmap keep1 --from-literal=a=1
	k -n ap-drydel create configmap keep2 --from-literal=a=1
	local before
	before=$(list_rv)
	k -n ap-drydel get configmap keep1 -o json | jq '.data.a = "2"' >"$BATS_TEST_TMPDIR/keep1.json"
	run -0 k -n ap-drydel replace -f "$BATS_TEST_TMPDIR/keep1.json" --dry-run=server
	[ "$output" = "configmap/keep1 replaced (server dry run)" ]
	[ "$(k -n ap-drydel get configmap keep1 -o jsonpath='{.data.a}')" = 1 ]
	local r
	r=$(api DELETE '/api/v1/namespaces/ap-drydel/configmaps?dryRun=All' -w '\n%{http_code}')
	[ "$(reply_code "$r")" = 200 ]
	[ "$(reply_body "$r" | jq -c '[.kind, [.items[].metadata.name]]')" = '["ConfigMapList",["keep1","keep2"]]' ]
	run -0 k -n ap-drydel delete configmap keep1 --dry-run=server
	[ "$output" = 'configmap "keep1" deleted (server dry run)' ]
	run -0 k -n ap-drydel get configmap keep1 -o name
	[ "$output" = configmap/keep1 ]
	# the raw request: kubectl puts dryRun in the body, not the query
	run -0 api_json DELETE /api/v1/namespaces/ap-drydel/configmaps/keep2 '{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}'
	[ "$(reply_code "$output")" = 200 ]
	[ "$(api_code GET /api/v1/namespaces/ap-drydel/configmaps/keep2)" = 200 ]
	[ "$(list_rv)" = "$before" ]
}

@test "fieldValidation: kubectl apply --validate=strict (the default) fails on unknown fields, --validate=warn warns, --validate=false ignores; duplicate fields (kubectl create --raw) fail under Strict, warn under Warn, pass under Ignore" {
	make_namespace ap-valid
	manifest bad.yaml <<-'EOF'
		apiVersion: v1
		kind: ConfigMap
		metadata:
		  name: bad
		  colour: blue
		data:
		  a: b
		spec:
		  replicas: 1
	EOF
	run -1 k -n ap-valid apply -f "$BATS_TEST_TMPDIR/bad.yaml"
	[ "$output" = 'Error from server (BadRequest): error when creating "'"$BATS_TEST_TMPDIR"'/bad.yaml": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.colour", unknown field "spec"' ]
	[ "$(api_code GET /api/v1/namespaces/ap-valid/configmaps/bad)" = 404 ]
	run -1 k -n ap-valid create -f "$BATS_TEST_TMPDIR/bad.yaml"
	[[ "$output" == *'strict decoding error: unknown field "metadata.colour", unknown field "spec"' ]]

	run -0 --separate-stderr k -n ap-valid apply -f "$BATS_TEST_TMPDIR/bad.yaml" --validate=warn
	[ "$output" = "configmap/bad created" ]
	[ "$stderr" = $'Warning: unknown field "metadata.colour"\nWarning: unknown field "spec"' ]
	# the unknown fields were dropped
	run -0 k -n ap-valid get configmap bad -o json
	[ "$(jq -c '[.data, (.metadata | has("colour")), has("spec")]' <<<"$output")" = '[{"a":"b"},false,false]' ]
	k -n ap-valid delete configmap bad

	run -0 --separate-stderr k -n ap-valid apply -f "$BATS_TEST_TMPDIR/bad.yaml" --validate=false
	[ "$output" = "configmap/bad created" ]
	[ "$stderr" = "" ]
	[ "$(k -n ap-valid get configmap bad -o jsonpath='{.data.a}')" = b ]

	# server-side apply validates strictly too
	run -1 k -n ap-valid apply --server-side -f "$BATS_TEST_TMPDIR/bad.yaml"
	[[ "$output" == *'"spec"'* ]]
	# --validate=strict, spelled out, is the default
	run -1 k -n ap-valid apply -f "$BATS_TEST_TMPDIR/bad.yaml" --validate=strict
	[[ "$output" == *'strict decoding error: unknown field "metadata.colour", unknown field "spec"' ]]

	# a duplicate field: kubectl's own decoding drops duplicates, so the raw
	# body goes through kubectl create --raw: Strict fails as kubectl shows
	# it, Warn creates (the last value wins) with a warning
	printf '%s' '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1"},"data":{"b":"2"}}' >"$BATS_TEST_TMPDIR/dup.json"
	run -1 k create --raw '/api/v1/namespaces/ap-valid/configmaps?fieldValidation=Strict' -f "$BATS_TEST_TMPDIR/dup.json"
	[ "$output" = 'Error from server (BadRequest): ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "data"' ]
	[ "$(api_code GET /api/v1/namespaces/ap-valid/configmaps/dup)" = 404 ]
	run -0 --separate-stderr k create --raw '/api/v1/namespaces/ap-valid/configmaps?fieldValidation=Warn' -f "$BATS_TEST_TMPDIR/dup.json"
	[ "$stderr" = 'Warning: duplicate field "data"' ]
	[ "$(jq -c .data <<<"$output")" = '{"b":"2"}' ]
	# the header behind the warning
	run -0 api POST '/api/v1/namespaces/ap-valid/configmaps?fieldValidation=Warn&dryRun=All' -H 'Content-Type: application/json' -D - -o /dev/null \
		--data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup2"},"data":{"a":"1"},"data":{"b":"2"}}'
	grep -qi '^warning: 299 - "duplicate field \\"data\\""' <<<"$output"
	# fieldValidation=Ignore: neither an error nor a warning
	run -0 --separate-stderr k create --raw '/api/v1/namespaces/ap-valid/configmaps?fieldValidation=Ignore' -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ign"},"data":{"a":"1"},"data":{"b":"2"},"spec":1}'
	[ "$stderr" = "" ]
	[ "$(jq -c '[.data, has("spec")]' <<<"$output")" = '[{"b":"2"},false]' ]
}
