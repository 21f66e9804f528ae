#!/usr/bin/env bats
# The official Kubernetes Python client (Debian's python3-kubernetes, which
# imports only under /usr/bin/python3) against one c8s server: each test
# runs one method of tests/e2e/python/client_test.py with the server's
# admin kubeconfig.

bats_require_minimum_version 1.5.0

load helpers

PY=/usr/bin/python3
SCRIPT="$BATS_TEST_DIRNAME/python/client_test.py"

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

# pytest METHOD: run ClientTest.METHOD; its report is printed on failure.
pytest() {
	run "$PY" "$SCRIPT" "ClientTest.$1"
	if [ "$status" -ne 0 ] || [[ "$output" != *$'\nOK'* ]]; then
		printf '%s\n' "$output" >&2
		return 1
	fi
}

@test "python client: the kubernetes module imports under /usr/bin/python3 and loads the server's kubeconfig" {
	run -0 "$PY" -c 'import os, kubernetes
from kubernetes import client, config
config.load_kube_config(config_file=os.environ["KUBECONFIG"])
print(kubernetes.__version__, client.VersionApi().get_code().minor)'
	[[ "$output" == *" 32" ]]
}

@test "python client: list, create, read, patch (strategic, merge, json) and delete pods" {
	pytest test_pods_crud
}

@test "python client: create, list, patch (strategic, \$patch: delete, merge), scale, replace and delete deployments" {
	pytest test_deployments_crud
}

@test "python client: a pod watch sees ADDED, MODIFIED and DELETED for the changes the script makes" {
	pytest test_watch_pods
}

@test "python client: a deployment watch sees ADDED, MODIFIED (a scale) and DELETED" {
	pytest test_watch_deployments
}

@test "python client: errors are ApiException with the status: 404 NotFound, 409 AlreadyExists and Conflict, 422 Invalid, 400" {
	pytest test_errors
}

@test "python client: the typed models read every list the server serves (core, apps, coordination, discovery, events)" {
	pytest test_list_every_kind
}
