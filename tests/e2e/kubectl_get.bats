#!/usr/bin/env bats
# Server-side printing as kubectl get shows it: the column headers (normal
# and -o wide) and the cells of pods, deployments, replicasets, services,
# nodes, namespaces, configmaps, secrets, endpoints, events and leases,
# compared with the values the objects hold; AGE formatting; the Table's
# row objects (includeObject); kubectl get -w; the output formats and
# selection flags (-o wide|yaml|json|name|jsonpath|custom-columns,
# --show-labels, -L, --sort-by, -A).
#
# Only the API server runs, so the objects hold exactly what the tests write
# (statuses are written through the status subresource, as a kubelet or a
# controller would).

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

NS=get-ns
P=/api/v1/namespaces/$NS
A=/apis/apps/v1/namespaces/$NS

setup_file() {
	start_apiserver
	make_namespace "$NS"
}

teardown_file() {
	cleanup_server
}

# pod_json NAME [SPEC_EXTRA [META_EXTRA]]: a pod with one container "app";
# the extras are JSON members added to its spec and metadata.
pod_json() {
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"%s},"spec":{"containers":[{"name":"app","image":"busybox:1.36"}]%s}}' \
		"$1" "${3:+,$3}" "${2:+,$2}"
}

@test "kubectl get pods: NAME READY STATUS RESTARTS AGE, -o wide adds IP NODE NOMINATED NODE READINESS GATES; cells follow the pod status" {
	local an_hour_ago
	an_hour_ago=$(rfc3339_ago 3600)
	post "$P/pods" "$(pod_json pend)"
	post "$P/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"crash"},
		"spec":{"nodeName":"node-a","readinessGates":[{"conditionType":"example.com/gate"}],
		 "containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}'
	set_status "$P/pods/crash" '{"status":{"phase":"Running","podIP":"10.1.2.3","podIPs":[{"ip":"10.1.2.3"}],
		"hostIP":"192.168.1.5","nominatedNodeName":"node-b",
		"conditions":[{"type":"Ready","status":"False"},{"type":"example.com/gate","status":"True"}],
		"containerStatuses":[
		 {"name":"a","ready":true,"restartCount":3,"image":"a:1","imageID":"","state":{"running":{"startedAt":"'"$an_hour_ago"'"}},
		  "lastState":{"terminated":{"exitCode":1,"finishedAt":"'"$an_hour_ago"'"}}},
		 {"name":"b","ready":false,"restartCount":1,"image":"b:1","imageID":"","state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}'
	post "$P/pods" "$(pod_json run '"nodeName":"node-a"')"
	set_status "$P/pods/run" '{"status":{"phase":"Running","podIP":"10.1.2.4","podIPs":[{"ip":"10.1.2.4"}],
		"conditions":[{"type":"Ready","status":"True"}],
		"containerStatuses":[{"name":"app","ready":true,"restartCount":0,"image":"busybox:1.36","imageID":"","state":{"running":{}}}]}}'
	post "$P/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"init"},
		"spec":{"initContainers":[{"name":"i1","image":"i"},{"name":"i2","image":"i"}],"containers":[{"name":"app","image":"a"}]}}'
	set_status "$P/pods/init" '{"status":{"phase":"Pending","initContainerStatuses":[
		 {"name":"i1","ready":true,"restartCount":0,"image":"i","imageID":"","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
		 {"name":"i2","ready":false,"restartCount":0,"image":"i","imageID":"","state":{"running":{}}}]}}'
	post "$P/pods" "$(pod_json done '"restartPolicy":"Never"')"
	set_status "$P/pods/done" '{"status":{"phase":"Succeeded","containerStatuses":[{"name":"app","ready":false,"restartCount":0,
		"image":"busybox:1.36","imageID":"","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}'
	post "$P/pods" "$(pod_json evicted)"
	set_status "$P/pods/evicted" '{"status":{"phase":"Failed","reason":"Evicted","message":"low on memory"}}'
	post "$P/pods" "$(pod_json going '"nodeName":"node-a"' '"finalizers":["example.com/hold"]')"
	set_status "$P/pods/going" '{"status":{"phase":"Running"}}'
	k -n "$NS" delete pod going --wait=false

	run -0 k -n "$NS" get pods
	[ "$(header)" = "NAME | READY | STATUS | RESTARTS | AGE" ]
	[ "$(cells pend | cut -d'|' -f1-4)" = "pend|0/1|Pending|0" ]
	# (6Xm: minutes of slack for a loaded machine)
	[[ "$(cells crash | cut -d'|' -f1-4)" =~ ^crash\|1/2\|CrashLoopBackOff\|4\ \(6[0-9]m\ ago\)$ ]]
	[ "$(cells run | cut -d'|' -f1-4)" = "run|1/1|Running|0" ]
	[ "$(cells init | cut -d'|' -f1-4)" = "init|0/1|Init:1/2|0" ]
	[ "$(cells done | cut -d'|' -f1-4)" = "done|0/1|Completed|0" ]
	[ "$(cells evicted | cut -d'|' -f1-4)" = "evicted|0/1|Evicted|0" ]
	[ "$(cells going | cut -d'|' -f1-4)" = "going|0/1|Terminating|0" ]

	run -0 k -n "$NS" get pods -o wide
	[ "$(header)" = "NAME | READY | STATUS | RESTARTS | AGE | IP | NODE | NOMINATED NODE | READINESS GATES" ]
	[ "$(cells pend | cut -d'|' -f6-)" = "<none>|<none>|<none>|<none>" ]
	[ "$(cells crash | cut -d'|' -f6-)" = "10.1.2.3|node-a|node-b|1/1" ]
	[ "$(cells run | cut -d'|' -f6-)" = "10.1.2.4|node-a|<none>|<none>" ]

	# the Table behind it: column names, types and priorities
	local t
	t=$(table "$P/pods")
	[ "$(jq -r '.kind + " " + .apiVersion' <<<"$t")" = "Table meta.k8s.io/v1" ]
	[ "$(table_columns "$t")" = "Name:0 Ready:0 Status:0 Restarts:0 Age:0 IP:1 Node:1 Nominated Node:1 Readiness Gates:1" ]
	[ "$(jq -r '.columnDefinitions[0] | .type + " " + .format' <<<"$t")" = "string name" ]
	[[ "$(table_cells "$t" crash | cut -d'|' -f1-4,6-)" =~ ^crash\|1/2\|CrashLoopBackOff\|4\ \(6[0-9]m\ ago\)\|10\.1\.2\.3\|node-a\|node-b\|1/1$ ]]

	# let the held pod go
	k -n "$NS" patch pod going --type merge -p '{"metadata":{"finalizers":null}}'
}

@test "kubectl get deployments: NAME READY UP-TO-DATE AVAILABLE AGE, -o wide adds CONTAINERS IMAGES SELECTOR; READY is ready/spec replicas" {
	post "$A/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"dep"},
		"spec":{"replicas":3,"selector":{"matchLabels":{"app":"dep"}},
		 "template":{"metadata":{"labels":{"app":"dep"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"},{"name":"log","image":"busybox:1.36"}]}}}}'
	set_status "$A/deployments/dep" '{"status":{"replicas":4,"readyReplicas":2,"updatedReplicas":3,"availableReplicas":1}}'
	post "$A/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fresh"},
		"spec":{"selector":{"matchLabels":{"app":"fresh","tier":"web"}},
		 "template":{"metadata":{"labels":{"app":"fresh","tier":"web"}},"spec":{"containers":[{"name":"c","image":"c:1"}]}}}}'

	run -0 k -n "$NS" get deployments
	[ "$(header)" = "NAME | READY | UP-TO-DATE | AVAILABLE | AGE" ]
	[ "$(cells dep | cut -d'|' -f1-4)" = "dep|2/3|3|1" ]
	[ "$(cells fresh | cut -d'|' -f1-4)" = "fresh|0/1|0|0" ]
	run -0 k -n "$NS" get deployments -o wide
	[ "$(header)" = "NAME | READY | UP-TO-DATE | AVAILABLE | AGE | CONTAINERS | IMAGES | SELECTOR" ]
	[ "$(cells dep | cut -d'|' -f6-)" = "web,log|nginx:1.25,busybox:1.36|app=dep" ]
	[ "$(cells fresh | cut -d'|' -f6-)" = "c|c:1|app=fresh,tier=web" ]
	[ "$(table_columns "$(table "$A/deployments")")" = "Name:0 Ready:0 Up-to-date:0 Available:0 Age:0 Containers:1 Images:1 Selector:1" ]
}

@test "kubectl get replicasets: NAME DESIRED CURRENT READY AGE, -o wide adds CONTAINERS IMAGES SELECTOR (set-based selectors too)" {
	post "$A/replicasets" '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},
		"spec":{"replicas":5,"selector":{"matchLabels":{"app":"rs"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},
		 "template":{"metadata":{"labels":{"app":"rs","tier":"a"}},"spec":{"containers":[{"name":"c1","image":"i1"},{"name":"c2","image":"i2"}]}}}}'
	set_status "$A/replicasets/rs" '{"status":{"replicas":4,"readyReplicas":3,"availableReplicas":3}}'
	run -0 k -n "$NS" get rs
	[ "$(header)" = "NAME | DESIRED | CURRENT | READY | AGE" ]
	[ "$(cells rs | cut -d'|' -f1-4)" = "rs|5|4|3" ]
	run -0 k -n "$NS" get rs -o wide
	[ "$(header)" = "NAME | DESIRED | CURRENT | READY | AGE | CONTAINERS | IMAGES | SELECTOR" ]
	[ "$(cells rs | cut -d'|' -f6-)" = "c1,c2|i1,i2|app=rs,tier in (a,b)" ]
}

@test "kubectl get services: TYPE, CLUSTER-IP, EXTERNAL-IP (<none>, <pending>, externalName) and PORT(S) (80:3xxxx/TCP) from the service" {
	make_namespace get-svc
	k -n get-svc create service clusterip cip --tcp=80:8080
	k -n get-svc create service nodeport np --tcp=80:8080
	k -n get-svc create service loadbalancer lb --tcp=5678:8080
	k -n get-svc create service externalname ext --external-name=db.example.com
	k -n get-svc create service clusterip headless --clusterip=None
	post /api/v1/namespaces/get-svc/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"multi"},
		"spec":{"type":"NodePort","selector":{"app":"multi","tier":"db"},
		 "ports":[{"name":"dns","port":53,"protocol":"UDP"},{"name":"web","port":80,"nodePort":30080}]}}'
	post /api/v1/namespaces/get-svc/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"extip"},
		"spec":{"externalIPs":["198.51.100.8","198.51.100.9"],"ports":[{"port":443}]}}'
	post /api/v1/namespaces/get-svc/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"lbip"},
		"spec":{"type":"LoadBalancer","ports":[{"port":443}]}}'
	set_status /api/v1/namespaces/get-svc/services/lbip '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}'

	local svcs np
	svcs=$(api GET /api/v1/namespaces/get-svc/services)
	# svc NAME JQ: a value of service NAME
	svc() { jq -r --arg n "$1" ".items[] | select(.metadata.name == \$n) | $2" <<<"$svcs"; }
	run -0 k -n get-svc get services
	[ "$(header)" = "NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE" ]
	[ "$(cells cip | cut -d'|' -f1-5)" = "cip|ClusterIP|$(svc cip '.spec.clusterIPs[0]')|<none>|80/TCP" ]
	np=$(svc np '.spec.ports[0].nodePort')
	[[ "$np" =~ ^3[0-9]{4}$ ]]
	[ "$(cells np | cut -d'|' -f1-5)" = "np|NodePort|$(svc np .spec.clusterIP)|<none>|80:$np/TCP" ]
	[ "$(cells lb | cut -d'|' -f1-5)" = "lb|LoadBalancer|$(svc lb .spec.clusterIP)|<pending>|5678:$(svc lb '.spec.ports[0].nodePort')/TCP" ]
	[ "$(cells ext | cut -d'|' -f1-5)" = "ext|ExternalName|<none>|db.example.com|<none>" ]
	[ "$(cells headless | cut -d'|' -f1-5)" = "headless|ClusterIP|None|<none>|<none>" ]
	[ "$(cells multi | cut -d'|' -f2,4,5)" = "NodePort|<none>|53:$(svc multi '.spec.ports[0].nodePort')/UDP,80:30080/TCP" ]
	[ "$(cells extip | cut -d'|' -f2,4,5)" = "ClusterIP|198.51.100.8,198.51.100.9|443/TCP" ]
	[ "$(cells lbip | cut -d'|' -f2,4)" = "LoadBalancer|203.0.113.10" ]

	run -0 k -n get-svc get services -o wide
	[ "$(header)" = "NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE | SELECTOR" ]
	[ "$(cells cip | cut -d'|' -f7)" = "app=cip" ]
	[ "$(cells multi | cut -d'|' -f7)" = "app=multi,tier=db" ]
	[ "$(cells extip | cut -d'|' -f7)" = "<none>" ]
}

@test "kubectl get services: a LoadBalancer's EXTERNAL-IP lists its ingress addresses before its externalIPs (as upstream)" {
	make_namespace get-svc2
	post /api/v1/namespaces/get-svc2/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"both"},
		"spec":{"type":"LoadBalancer","externalIPs":["198.51.100.7"],"ports":[{"port":80}]}}'
	set_status /api/v1/namespaces/get-svc2/services/both \
		'{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"},{"hostname":"lb.example.com"}]}}}'
	run -0 k -n get-svc2 get services -o wide
	[ "$(cells both | cut -d'|' -f4)" = "203.0.113.10,lb.example.com,198.51.100.7" ]
}

@test "kubectl get nodes: STATUS from the Ready condition and unschedulable, ROLES from labels, VERSION; -o wide adds addresses, OS, kernel, runtime" {
	post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"get-n1",
		"labels":{"node-role.kubernetes.io/control-plane":"","node-role.kubernetes.io/etcd":"true"}}}'
	set_status /api/v1/nodes/get-n1 '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}],
		"addresses":[{"type":"InternalIP","address":"192.168.1.5"},{"type":"ExternalIP","address":"203.0.113.5"},{"type":"Hostname","address":"get-n1"}],
		"nodeInfo":{"kubeletVersion":"v1.32.1","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.1.0-18-amd64",
		 "containerRuntimeVersion":"containerd://1.7.2","machineID":"m","systemUUID":"s","bootID":"b","kubeProxyVersion":"",
		 "operatingSystem":"linux","architecture":"amd64"}}}'
	post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"get-n2","labels":{"kubernetes.io/role":"worker"}},
		"spec":{"unschedulable":true}}'
	set_status /api/v1/nodes/get-n2 '{"status":{"conditions":[{"type":"Ready","status":"False"}],"nodeInfo":{"kubeletVersion":"v1.31.0"}}}'
	post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"get-n3"}}'
	set_status /api/v1/nodes/get-n3 '{"status":{"conditions":[{"type":"Ready","status":"Unknown"}],"nodeInfo":{"kubeletVersion":"v1.32.0"}}}'
	post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"get-n4"}}'

	run -0 k get nodes
	[ "$(header)" = "NAME | STATUS | ROLES | AGE | VERSION" ]
	[ "$(cells get-n1 | cut -d'|' -f1-3,5)" = "get-n1|Ready|control-plane,etcd|v1.32.1" ]
	[ "$(cells get-n2 | cut -d'|' -f1-3,5)" = "get-n2|NotReady,SchedulingDisabled|worker|v1.31.0" ]
	[ "$(cells get-n3 | cut -d'|' -f1-3,5)" = "get-n3|NotReady|<none>|v1.32.0" ]
	[ "$(cells get-n4 | cut -d'|' -f1-3,5)" = "get-n4|Unknown|<none>|" ]
	run -0 k get nodes -o wide
	[ "$(header)" = "NAME | STATUS | ROLES | AGE | VERSION | INTERNAL-IP | EXTERNAL-IP | OS-IMAGE | KERNEL-VERSION | CONTAINER-RUNTIME" ]
	[ "$(cells get-n1 | cut -d'|' -f6-)" = "192.168.1.5|203.0.113.5|Debian GNU/Linux 12 (bookworm)|6.1.0-18-amd64|containerd://1.7.2" ]
	[ "$(cells get-n2 | cut -d'|' -f6-)" = "<none>|<none>|<unknown>|<unknown>|<unknown>" ]
	k delete node get-n1 get-n2 get-n3 get-n4
}

@test "kubectl get namespaces: NAME STATUS AGE, Active and Terminating (held by a finalizer); -o wide has the same columns" {
	post /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"get-held","finalizers":["example.com/hold"]}}'
	k delete namespace get-held --wait=false
	run -0 k get namespaces
	[ "$(header)" = "NAME | STATUS | AGE" ]
	[ "$(cells default | cut -d'|' -f1-2)" = "default|Active" ]
	[ "$(cells get-held | cut -d'|' -f1-2)" = "get-held|Terminating" ]
	run -0 k get namespaces -o wide
	[ "$(header)" = "NAME | STATUS | AGE" ]
	[ "$(cells kube-system | cut -d'|' -f1-2)" = "kube-system|Active" ]
	k patch namespace get-held --type merge -p '{"metadata":{"finalizers":null}}'
}

@test "kubectl get configmaps and secrets (-o wide adds no columns): DATA counts data and binaryData keys, TYPE is the secret type" {
	post "$P/configmaps" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm3"},"data":{"a":"1","b":"2"},"binaryData":{"c":"AAE="}}'
	post "$P/configmaps" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm0"}}'
	post "$P/secrets" '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"opaque"},"data":{"u":"YQ==","p":"Yg==","x":"Yw=="}}'
	post "$P/secrets" '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls"},"type":"kubernetes.io/tls","data":{"tls.crt":"YQ==","tls.key":"Yg=="}}'
	run -0 k -n "$NS" get configmaps -o wide
	[ "$(header)" = "NAME | DATA | AGE" ]
	[ "$(cells cm3 | cut -d'|' -f1-2)" = "cm3|3" ]
	[ "$(cells cm0 | cut -d'|' -f1-2)" = "cm0|0" ]
	run -0 k -n "$NS" get secrets -o wide
	[ "$(header)" = "NAME | TYPE | DATA | AGE" ]
	[ "$(cells opaque | cut -d'|' -f1-3)" = "opaque|Opaque|3" ]
	[ "$(cells tls | cut -d'|' -f1-3)" = "tls|kubernetes.io/tls|2" ]
}

@test "kubectl get endpoints (-o wide adds no columns): NAME ENDPOINTS AGE; ip:port per port then address, at most 3 then '+ N more...', <none> without subsets" {
	post "$P/endpoints" '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"two"},
		"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],"ports":[{"port":80}]}]}'
	post "$P/endpoints" '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"none"}}'
	post "$P/endpoints" '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"portless"},"subsets":[{"addresses":[{"ip":"10.0.0.7"}]}]}'
	run -0 k -n "$NS" get endpoints -o wide
	[ "$(header)" = "NAME | ENDPOINTS | AGE" ]
	[ "$(cells two | cut -d'|' -f1-2)" = "two|10.0.0.1:80,10.0.0.2:80" ]
	[ "$(cells none | cut -d'|' -f1-2)" = "none|<none>" ]
	[ "$(cells portless | cut -d'|' -f1-2)" = "portless|10.0.0.7" ]
}

@test "kubectl get endpoints: with several ports, the first 3 are each port's addresses in order (upstream formatEndpoints)" {
	post "$P/endpoints" '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"many"},
		"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],"ports":[{"name":"http","port":80},{"name":"https","port":443}]},
		 {"addresses":[{"ip":"10.0.0.3"}],"notReadyAddresses":[{"ip":"10.0.0.9"}],"ports":[{"port":8080}]}]}'
	run -0 k -n "$NS" get endpoints many
	# upstream walks ports, then addresses: 80 on both, then 443 on the first; 5 in all
	[ "$(cells many | cut -d'|' -f1-2)" = "many|10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more..." ]
}

@test "kubectl get events: LAST SEEN TYPE REASON OBJECT MESSAGE, -o wide adds SUBOBJECT SOURCE FIRST SEEN COUNT NAME" {
	make_namespace get-ev
	local first last
	first=$(rfc3339_ago 12010)
	last=$(rfc3339_ago 7210)
	post /api/v1/namespaces/get-ev/events '{"apiVersion":"v1","kind":"Event","metadata":{"name":"web.1"},
		"involvedObject":{"kind":"Pod","name":"web","namespace":"get-ev","fieldPath":"spec.containers{app}"},
		"reason":"BackOff","message":"Back-off restarting failed container","type":"Warning",
		"firstTimestamp":"'"$first"'","lastTimestamp":"'"$last"'","count":7,"source":{"component":"kubelet","host":"node-a"}}'
	run -0 --separate-stderr k -n get-ev get events
	[ "$(header)" = "LAST SEEN | TYPE | REASON | OBJECT | MESSAGE" ]
	[[ "$(cells pod/web 4)" =~ ^12[0-9]m\|Warning\|BackOff\|pod/web\|Back-off\ restarting\ failed\ container$ ]]
	run -0 --separate-stderr k -n get-ev get events -o wide
	[ "$(header)" = "LAST SEEN | TYPE | REASON | OBJECT | SUBOBJECT | SOURCE | MESSAGE | FIRST SEEN | COUNT | NAME" ]
	[[ "$(cells web.1 10)" =~ ^12[0-9]m\|Warning\|BackOff\|pod/web\|spec\.containers\{app\}\|kubelet,\ node-a\|Back-off\ restarting\ failed\ container\|3h2[0-9]m\|7\|web\.1$ ]]
}

@test "kubectl get leases: NAME HOLDER AGE from spec.holderIdentity" {
	post "/apis/coordination.k8s.io/v1/namespaces/$NS/leases" \
		'{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"held"},"spec":{"holderIdentity":"node-a","leaseDurationSeconds":40}}'
	post "/apis/coordination.k8s.io/v1/namespaces/$NS/leases" \
		'{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"free"},"spec":{}}'
	run -0 k -n "$NS" get leases -o wide
	[ "$(header)" = "NAME | HOLDER | AGE" ]
	[ "$(cells held | cut -d'|' -f1-2)" = "held|node-a" ]
	[ "$(cells free | cut -d'|' -f1-2)" = "free|" ]
}

@test "AGE formatting (kubectl get events LAST SEEN): Ns, MmSs, Mm, HhMm, Hh, DdHh, Dd, YyDd, Yy, and <invalid> in the future" {
	make_namespace get-age
	local off name
	# offsets just past a boundary
	for off in 30 370 7210 10810 19810 72010 277210 345610 8640010 95472010 315360010 -3600; do
		name=age${off#-}
		[ "$off" -ge 0 ] || name=future
		post /api/v1/namespaces/get-age/events '{"apiVersion":"v1","kind":"Event","metadata":{"name":"'"$name"'"},
			"involvedObject":{"kind":"Pod","name":"x","namespace":"get-age"},"reason":"R","message":"m","type":"Normal",
			"firstTimestamp":"'"$(rfc3339_ago "$off")"'","lastTimestamp":"'"$(rfc3339_ago "$off")"'","count":1,"source":{"component":"t"}}'
	done
	run -0 --separate-stderr k -n get-age get events -o wide
	# LAST SEEN is the first column, NAME the last
	local got
	got=$(for name in age30 age370 age7210 age10810 age19810 age72010 age277210 age345610 age8640010 age95472010 age315360010; do
		cells "$name" 10 | cut -d'|' -f1
	done | tr '\n' ' ')
	# (the patterns leave minutes of slack for a loaded machine)
	[[ "$got" =~ ^([3-9][0-9]|1[01][0-9])s\ [6-9]m([0-9]{1,2}s)?\ 12[0-9]m\ 3h([1-9]m)?\ 5h3[0-9]m\ 20h\ 3d5h\ 4d\ 100d\ 3y10d\ 10y\ $ ]] ||
		{ echo "got: $got" >&2; return 1; }
	[ "$(cells future 10 | cut -d'|' -f1)" = "<invalid>" ]
}

@test "Table rows carry PartialObjectMetadata by default, the full object with includeObject=Object, none with includeObject=None" {
	make_namespace get-tbl
	local T=/api/v1/namespaces/get-tbl
	post "$T/pods" "$(pod_json pend '' '"labels":{"app":"tbl"}')"
	post "$T/pods" "$(pod_json other)"
	local t obj
	t=$(table "$T/pods")
	obj=$(api GET "$T/pods/pend")
	[ "$(jq -r '.rows[] | select(.cells[0] == "pend") | .object | .kind + " " + .apiVersion' <<<"$t")" = \
		"PartialObjectMetadata meta.k8s.io/v1" ]
	[ "$(jq -c '.rows[] | select(.cells[0] == "pend") | .object.metadata | {name, namespace, uid, resourceVersion, creationTimestamp}' <<<"$t")" = \
		"$(jq -c '.metadata | {name, namespace, uid, resourceVersion, creationTimestamp}' <<<"$obj")" ]
	[ "$(jq '[.rows[].object | select(.spec)] | length' <<<"$t")" = 0 ]
	# the list's resourceVersion
	[ "$(jq -r .metadata.resourceVersion <<<"$t")" = "$(list_rv "$T/pods")" ]
	[ "$(jq -c '.rows[] | select(.cells[0] == "pend") | .object.metadata.labels' <<<"$t")" = '{"app":"tbl"}' ]

	t=$(table "$T/pods?includeObject=Object")
	[ "$(jq -c '.rows[] | select(.cells[0] == "pend") | .object' <<<"$t" | jq -S -c .)" = "$(jq -S -c . <<<"$obj")" ]
	t=$(table "$T/pods?includeObject=None")
	[ "$(jq '[.rows[] | select(.object != null)] | length' <<<"$t")" = 0 ]
	[ "$(jq -r '.rows[] | select(.cells[0] == "pend") | .cells[2]' <<<"$t")" = Pending ]
}

@test "a Table of one object (GET NAME with the Table Accept header) carries the object's resourceVersion, as upstream" {
	make_namespace get-one
	post /api/v1/namespaces/get-one/pods "$(pod_json one)"
	local t
	t=$(table /api/v1/namespaces/get-one/pods/one)
	[ "$(jq -r '.kind + " " + (.rows | length | tostring) + " " + .rows[0].cells[0]' <<<"$t")" = "Table 1 one" ]
	[ "$(jq -r .metadata.resourceVersion <<<"$t")" = "$(api GET /api/v1/namespaces/get-one/pods/one | jq -r .metadata.resourceVersion)" ]
}

@test "kubectl get pods -w: one header, then a row per ADDED/MODIFIED/DELETED event from Table watch events" {
	make_namespace get-watch
	post /api/v1/namespaces/get-watch/pods "$(pod_json w1)"
	local out="$BATS_TEST_TMPDIR/watch.out"
	bg_start "$out" kubectl -n get-watch get pods -w --output-watch-events
	wait_for 20 grep -q '^ADDED  *w1 ' "$out"
	post /api/v1/namespaces/get-watch/pods "$(pod_json w2 '"nodeName":"node-a"')"
	set_status /api/v1/namespaces/get-watch/pods/w2 '{"status":{"phase":"Running","podIP":"10.9.9.9",
		"containerStatuses":[{"name":"app","ready":true,"restartCount":0,"image":"busybox:1.36","imageID":"","state":{"running":{}}}]}}'
	k -n get-watch delete pod w1
	wait_for 20 grep -q '^DELETED  *w1 ' "$out"
	bg_stop "$BG_PID"
	output=$(cat "$out")
	[ "$(header)" = "EVENT | NAME | READY | STATUS | RESTARTS | AGE" ]
	[ "$(grep -c '^EVENT ' "$out")" = 1 ]
	run -0 awk 'NR > 1 { print $1, $2, $3, $4, $5 }' "$out"
	[ "$output" = "ADDED w1 0/1 Pending 0
ADDED w2 0/1 Pending 0
MODIFIED w2 1/1 Running 0
DELETED w1 0/1 Pending 0" ]

	# the raw stream: one-row Tables, the first with the column definitions
	local rv lines
	rv=$(list_rv /api/v1/namespaces/get-watch/pods)
	post /api/v1/namespaces/get-watch/pods "$(pod_json w3)"
	lines=$(watch_table "/api/v1/namespaces/get-watch/pods?watch=1&resourceVersion=$rv" 1)
	[ "$(head -n 1 <<<"$lines" | jq -r '[.type, .object.kind, (.object.rows | length | tostring), .object.rows[0].cells[0], .object.rows[0].object.kind] | join(" ")')" = \
		"ADDED Table 1 w3 PartialObjectMetadata" ]
	[ "$(head -n 1 <<<"$lines" | jq -r '[.object.columnDefinitions[].name] | join(",")')" = "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates" ]
}

@test "kubectl get -o yaml, -o json, -o name, -o jsonpath and -o custom-columns print the object's values" {
	make_namespace get-out
	local O=/apis/apps/v1/namespaces/get-out
	post "$O/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"dep"},
		"spec":{"replicas":3,"selector":{"matchLabels":{"app":"dep"}},
		 "template":{"metadata":{"labels":{"app":"dep"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"},{"name":"log","image":"busybox:1.36"}]}}}}'
	set_status "$O/deployments/dep" '{"status":{"replicas":3,"readyReplicas":2}}'
	post "$O/deployments" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"fresh"},
		"spec":{"selector":{"matchLabels":{"app":"fresh"}},
		 "template":{"metadata":{"labels":{"app":"fresh"}},"spec":{"containers":[{"name":"c","image":"c:1"}]}}}}'
	local js
	js=$(api GET "$O/deployments/dep")
	run -0 k -n get-out get deployment dep -o json
	[ "$(jq -S -c . <<<"$output")" = "$(jq -S -c . <<<"$js")" ]
	run -0 k -n get-out get deployment dep -o yaml
	[ "$(yq -S -c . <<<"$output")" = "$(jq -S -c . <<<"$js")" ]
	run -0 k -n get-out get deployments -o name
	[ "$output" = $'deployment.apps/dep\ndeployment.apps/fresh' ]
	run -0 k -n get-out get deployment dep -o jsonpath='{.metadata.uid} {.spec.replicas} {.spec.template.spec.containers[*].image}'
	[ "$output" = "$(jq -r '.metadata.uid' <<<"$js") 3 nginx:1.25 busybox:1.36" ]
	run -0 k -n get-out get deployments -o custom-columns='NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image,READY:.status.readyReplicas'
	[ "$(header)" = "NAME | REPLICAS | IMAGE | READY" ]
	[ "$(cells dep)" = "dep|3|nginx:1.25|2" ]
	[ "$(cells fresh)" = "fresh|1|c:1|<none>" ]
}

@test "kubectl get --show-labels, -L, --sort-by (includeObject=Object) and -A (NAMESPACE column)" {
	make_namespace get-sel
	post /api/v1/namespaces/get-sel/pods "$(pod_json zeta '' '"labels":{"app":"web","tier":"front"}')"
	post /api/v1/namespaces/get-sel/pods "$(pod_json alpha '' '"labels":{"app":"db"}')"
	post /api/v1/namespaces/get-sel/pods "$(pod_json mid '' '"labels":{"app":"cache","tier":"back"}')"
	run -0 k -n get-sel get pods --show-labels
	[ "$(header)" = "NAME | READY | STATUS | RESTARTS | AGE | LABELS" ]
	[ "$(cells zeta | cut -d'|' -f6)" = "app=web,tier=front" ]
	[ "$(cells alpha | cut -d'|' -f6)" = "app=db" ]
	run -0 k -n get-sel get pods -L tier -L app
	[ "$(header)" = "NAME | READY | STATUS | RESTARTS | AGE | TIER | APP" ]
	[ "$(cells mid | cut -d'|' -f6-)" = "back|cache" ]
	[ "$(cells alpha | cut -d'|' -f6-)" = "|db" ]
	run -0 --separate-stderr k -n get-sel get pods --sort-by='{.metadata.labels.app}' -v=6
	[ "$(awk 'NR > 1 { print $1 }' <<<"$output" | tr '\n' ' ')" = "mid alpha zeta " ]
	grep -q "GET https://127.0.0.1:$C8S_PORT/api/v1/namespaces/get-sel/pods?includeObject=Object" <<<"$stderr"
	run -0 k -n get-sel get pods --sort-by=.metadata.name -o name
	[ "$output" = $'pod/alpha\npod/mid\npod/zeta' ]
	run -0 k get pods -A -l 'app in (web,db)'
	[ "$(header)" = "NAMESPACE | NAME | READY | STATUS | RESTARTS | AGE" ]
	[ "$(cells zeta 2 | cut -d'|' -f1-4)" = "get-sel|zeta|0/1|Pending" ]
	[ "$(cells alpha 2 | cut -d'|' -f1-2)" = "get-sel|alpha" ]
	[ "$(awk 'NR > 1' <<<"$output" | wc -l)" = 2 ]
}
