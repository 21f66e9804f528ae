/* SPDX-License-Identifier: Apache-2.0 */
/* Pods: defaults, the pod spec rules, update rules and status rules. */
#include "registry_harness.h"

static const char pod_base[] =
    "{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':'default'},"
    "'spec':{'containers':[{'name':'c','image':'nginx:1.25'}]}}";

/* JSON Patch shorthands for the first container. */
#define C0		 "/spec/containers/0"
#define ADD(path, value) "{'op':'add','path':'" path "','value':" value "}"
#define REMOVE(path)	 "{'op':'remove','path':'" path "'}"

/* ---- defaults ---------------------------------------------------------- */

static void test_pod_defaults(void **state)
{
	static const struct dcase cases[] = {
		{ "pod spec", NULL,
		  "spec.restartPolicy='Always';spec.dnsPolicy='ClusterFirst';"
		  "spec.schedulerName='default-scheduler';spec.terminationGracePeriodSeconds=30;"
		  "spec.securityContext={};spec.enableServiceLinks=true;"
		  "spec.serviceAccountName='default';spec.serviceAccount='default'" },
		{ "container", NULL,
		  "spec.containers[0].terminationMessagePath='/dev/termination-log';"
		  "spec.containers[0].terminationMessagePolicy='File';"
		  "spec.containers[0].imagePullPolicy='IfNotPresent';spec.containers[0].resources={"
		  "}" },
		{ "untagged image pulls always", "[" ADD(C0 "/image", "'nginx'") "]",
		  "spec.containers[0].imagePullPolicy='Always'" },
		{ "latest pulls always", "[" ADD(C0 "/image", "'nginx:latest'") "]",
		  "spec.containers[0].imagePullPolicy='Always'" },
		{ "registry port is not a tag", "[" ADD(C0 "/image", "'localhost:5000/app'") "]",
		  "spec.containers[0].imagePullPolicy='Always'" },
		{ "registry port and tag", "[" ADD(C0 "/image", "'localhost:5000/app:v1'") "]",
		  "spec.containers[0].imagePullPolicy='IfNotPresent'" },
		{ "digest only", "[" ADD(C0 "/image", "'nginx@sha256:0123'") "]",
		  "spec.containers[0].imagePullPolicy='IfNotPresent'" },
		{ "explicit pull policy kept",
		  "[" ADD(C0 "/image", "'nginx'") "," ADD(C0 "/imagePullPolicy", "'Never'") "]",
		  "spec.containers[0].imagePullPolicy='Never'" },
		{ "port protocol", "[" ADD(C0 "/ports", "[{'containerPort':80}]") "]",
		  "spec.containers[0].ports[0].protocol='TCP';spec.containers[0].ports[0].hostPort="
		  "absent" },
		{ "host network ports",
		  "{'spec':{'hostNetwork':true,'containers':[{'name':'c','image':'x:1',"
		  "'ports':[{'containerPort':8080}]}]}}",
		  "spec.containers[0].ports[0].hostPort=8080" },
		{ "limits copied to requests",
		  "[" ADD(C0 "/resources",
			  "{'limits':{'cpu':'1','memory':'1Gi'},'requests':{'cpu':'500m'}}") "]",
		  "spec.containers[0].resources.requests={'cpu':'500m','memory':'1Gi'}" },
		{ "probe",
		  "[" ADD(C0 "/livenessProbe", "{'httpGet':{'port':80},'periodSeconds':0}") "]",
		  "spec.containers[0].livenessProbe.timeoutSeconds=1;"
		  "spec.containers[0].livenessProbe.periodSeconds=10;"
		  "spec.containers[0].livenessProbe.successThreshold=1;"
		  "spec.containers[0].livenessProbe.failureThreshold=3;"
		  "spec.containers[0].livenessProbe.httpGet.path='/';"
		  "spec.containers[0].livenessProbe.httpGet.scheme='HTTP'" },
		{ "grpc probe service", "[" ADD(C0 "/readinessProbe", "{'grpc':{'port':9000}}") "]",
		  "spec.containers[0].readinessProbe.grpc.service=''" },
		{ "lifecycle httpGet",
		  "[" ADD(C0 "/lifecycle", "{'preStop':{'httpGet':{'port':80}}}") "]",
		  "spec.containers[0].lifecycle.preStop.httpGet.path='/';"
		  "spec.containers[0].lifecycle.preStop.httpGet.scheme='HTTP'" },
		{ "env fieldRef apiVersion",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'N','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}}]") "]",
		  "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion='v1'" },
		{ "volumes",
		  "{'spec':{'volumes':[{'name':'a'},{'name':'b','configMap':{'name':'cm'}},"
		  "{'name':'c','secret':{'secretName':'s'}},{'name':'d','hostPath':{'path':'/x'}},"
		  "{'name':'e','projected':{'sources':[{'serviceAccountToken':{'path':'t'}}]}},"
		  "{'name':'f','downwardAPI':{'items':[{'path':'n','fieldRef':{'fieldPath':'"
		  "metadata.name'}}]}}]}}",
		  "spec.volumes[0].emptyDir={};spec.volumes[1].configMap.defaultMode=420;"
		  "spec.volumes[2].secret.defaultMode=420;spec.volumes[3].hostPath.type='';"
		  "spec.volumes[4].projected.defaultMode=420;"
		  "spec.volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds=3600;"
		  "spec.volumes[5].downwardAPI.items[0].fieldRef.apiVersion='v1'" },
		{ "deprecated serviceAccount", "{'spec':{'serviceAccount':'robot'}}",
		  "spec.serviceAccountName='robot';spec.serviceAccount='robot'" },
		{ "serviceAccountName wins",
		  "{'spec':{'serviceAccount':'old','serviceAccountName':'new'}}",
		  "spec.serviceAccountName='new';spec.serviceAccount='new'" },
		{ "no spec at all", "{'spec':null}", "spec.restartPolicy='Always'" },
	};
	RUN_DEFAULTS(resource_pods, pod_base, cases);
}

/* ---- the pod spec on create -------------------------------------------- */

static void test_pod_containers(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "no containers", "{'spec':{'containers':[]}}", NULL, "spec.containers=Required" },
		{ "unnamed", "[" REMOVE(C0 "/name") "]", NULL, "spec.containers[0].name=Required" },
		{ "bad name", "[" ADD(C0 "/name", "'Web_1'") "]", NULL,
		  "spec.containers[0].name=Invalid~RFC 1123 label" },
		{ "duplicate name", "[" ADD("/spec/containers/-", "{'name':'c','image':'x:1'}") "]",
		  NULL, "spec.containers[1].name=Duplicate" },
		{ "init container clashes with container",
		  "{'spec':{'initContainers':[{'name':'c','image':'x:1'}]}}", NULL,
		  "spec.initContainers[0].name=Duplicate" },
		{ "no image", "[" REMOVE(C0 "/image") "]", NULL,
		  "spec.containers[0].image=Required" },
		{ "image with spaces", "[" ADD(C0 "/image", "' nginx'") "]", NULL,
		  "spec.containers[0].image=Invalid~whitespace" },
		{ "pull policy", "[" ADD(C0 "/imagePullPolicy", "'Sometimes'") "]", NULL,
		  "spec.containers[0].imagePullPolicy=NotSupported" },
		{ "termination message policy",
		  "[" ADD(C0 "/terminationMessagePolicy", "'Maybe'") "]", NULL,
		  "spec.containers[0].terminationMessagePolicy=NotSupported" },
		{ "restartPolicy on a regular container",
		  "[" ADD(C0 "/restartPolicy", "'Always'") "]", NULL,
		  "spec.containers[0].restartPolicy=Forbidden" },
		{ "init restartPolicy",
		  "{'spec':{'initContainers':[{'name':'i','image':'x:1','restartPolicy':'OnFailure'"
		  "}]}}",
		  NULL, "spec.initContainers[0].restartPolicy=NotSupported" },
		{ "probe on a plain init container",
		  "{'spec':{'initContainers':[{'name':'i','image':'x:1','livenessProbe':{'exec':{'"
		  "command':['true']}}}]}}",
		  NULL, "spec.initContainers[0].livenessProbe=Forbidden" },
		{ "probe on a sidecar",
		  "{'spec':{'initContainers':[{'name':'i','image':'x:1','restartPolicy':'Always',"
		  "'livenessProbe':{'exec':{'command':['true']}}}]}}",
		  NULL, "" },
		{ "ephemeral containers on create",
		  "{'spec':{'ephemeralContainers':[{'name':'e','image':'x:1'}]}}", NULL,
		  "spec.ephemeralContainers=Forbidden" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_ports(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "[" ADD(C0 "/ports", "[{'name':'http','containerPort':80},{'containerPort':53,'"
				       "protocol':'UDP'}]") "]",
		  NULL, "" },
		{ "containerPort required", "[" ADD(C0 "/ports", "[{'name':'http'}]") "]", NULL,
		  "spec.containers[0].ports[0].containerPort=Required" },
		{ "containerPort zero", "[" ADD(C0 "/ports", "[{'containerPort':0}]") "]", NULL,
		  "spec.containers[0].ports[0].containerPort=Required" },
		{ "containerPort range", "[" ADD(C0 "/ports", "[{'containerPort':70000}]") "]",
		  NULL, "spec.containers[0].ports[0].containerPort=Invalid~between 1 and 65535" },
		{ "hostPort range",
		  "[" ADD(C0 "/ports", "[{'containerPort':80,'hostPort':-1}]") "]", NULL,
		  "spec.containers[0].ports[0].hostPort=Invalid" },
		{ "protocol", "[" ADD(C0 "/ports", "[{'containerPort':80,'protocol':'ICMP'}]") "]",
		  NULL,
		  "spec.containers[0].ports[0].protocol=NotSupported~\"SCTP\", \"TCP\", \"UDP\"" },
		{ "IANA name", "[" ADD(C0 "/ports", "[{'name':'http_web','containerPort':80}]") "]",
		  NULL, "spec.containers[0].ports[0].name=Invalid" },
		{ "name too long",
		  "[" ADD(C0 "/ports", "[{'name':'abcdefghijklmnop','containerPort':80}]") "]",
		  NULL, "spec.containers[0].ports[0].name=Invalid~15" },
		{ "name without a letter",
		  "[" ADD(C0 "/ports", "[{'name':'8080','containerPort':80}]") "]", NULL,
		  "spec.containers[0].ports[0].name=Invalid~letter" },
		{ "duplicate names",
		  "[" ADD(
		      C0 "/ports",
		      "[{'name':'web','containerPort':80},{'name':'web','containerPort':81}]") "]",
		  NULL, "spec.containers[0].ports[1].name=Duplicate" },
		{ "host port clash across containers",
		  "{'spec':{'containers':[{'name':'a','image':'x:1','ports':[{'containerPort':80,'"
		  "hostPort':8080}]},"
		  "{'name':'b','image':'x:1','ports':[{'containerPort':81,'hostPort':8080}]}]}}",
		  NULL, "spec.containers[1].ports[0].hostPort=Duplicate~TCP//8080" },
		{ "same host port, other protocol",
		  "{'spec':{'containers':[{'name':'a','image':'x:1','ports':[{'containerPort':80,'"
		  "hostPort':53}]},"
		  "{'name':'b','image':'x:1','ports':[{'containerPort':81,'hostPort':53,'protocol':"
		  "'UDP'}]}]}}",
		  NULL, "" },
		{ "host network: hostPort must equal containerPort",
		  "{'spec':{'hostNetwork':true,'containers':[{'name':'c','image':'x:1','ports':[{'"
		  "containerPort':80,'hostPort':81}]}]}}",
		  NULL, "spec.containers[0].ports[0].hostPort=Invalid~hostNetwork" },
		{ "host network: hostPort defaulted",
		  "{'spec':{'hostNetwork':true,'containers':[{'name':'c','image':'x:1','ports':[{'"
		  "containerPort':80}]}]}}",
		  NULL, "" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_env(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'A_B','value':'1'},{'name':'my.env-name'},"
		      "{'name':'POD','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}},"
		      "{'name':'APP','valueFrom':{'fieldRef':{'fieldPath':'metadata.labels[`app`]'}"
		      "}},"
		      "{'name':'CPU','valueFrom':{'resourceFieldRef':{'resource':'limits.cpu','"
		      "divisor':'1m'}}},"
		      "{'name':'K','valueFrom':{'configMapKeyRef':{'name':'cm','key':'k'}}},"
		      "{'name':'S','valueFrom':{'secretKeyRef':{'name':'s','key':'k.1'}}}]") "]",
		  NULL, "" },
		{ "name required", "[" ADD(C0 "/env", "[{'value':'1'}]") "]", NULL,
		  "spec.containers[0].env[0].name=Required" },
		{ "name starts with a digit", "[" ADD(C0 "/env", "[{'name':'1X'}]") "]", NULL,
		  "spec.containers[0].env[0].name=Invalid" },
		{ "name with a space", "[" ADD(C0 "/env", "[{'name':'A B'}]") "]", NULL,
		  "spec.containers[0].env[0].name=Invalid" },
		{ "valueFrom empty", "[" ADD(C0 "/env", "[{'name':'A','valueFrom':{}}]") "]", NULL,
		  "spec.containers[0].env[0].valueFrom=Invalid~must specify one of" },
		{ "valueFrom and value",
		  "[" ADD(C0 "/env", "[{'name':'A','value':'x','valueFrom':{'fieldRef':{'fieldPath'"
				     ":'metadata.name'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom=Invalid~`value`" },
		{ "two sources",
		  "[" ADD(C0 "/env",
			  "[{'name':'A','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'},"
			  "'secretKeyRef':{'name':'s','key':'k'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom=Invalid~more than one" },
		{ "unknown field path",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'A','valueFrom':{'fieldRef':{'fieldPath':'spec.nothing'}}}]") "]",
		  NULL,
		  "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath=Invalid~not supported" },
		{ "field path not for env",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'A','valueFrom':{'fieldRef':{'fieldPath':'status.phase'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath=NotSupported" },
		{ "subscript on a plain field",
		  "[" ADD(C0 "/env", "[{'name':'A','valueFrom':{'fieldRef':{'fieldPath':'metadata."
				     "name[`x`]'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom.fieldRef=Invalid~subscript" },
		{ "fieldRef apiVersion",
		  "[" ADD(C0 "/env", "[{'name':'A','valueFrom':{'fieldRef':{'apiVersion':'v2','"
				     "fieldPath':'metadata.name'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath=Invalid" },
		{ "resource name",
		  "[" ADD(C0 "/env", "[{'name':'A','valueFrom':{'resourceFieldRef':{'resource':'"
				     "limits.gpu'}}}]") "]",
		  NULL,
		  "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource=NotSupported" },
		{ "cpu divisor",
		  "[" ADD(C0 "/env", "[{'name':'A','valueFrom':{'resourceFieldRef':{'resource':'"
				     "limits.cpu','divisor':'1Mi'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor=Invalid" },
		{ "key selector",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'A','valueFrom':{'configMapKeyRef':{'name':'','key':''}}}]") "]",
		  NULL,
		  "spec.containers[0].env[0].valueFrom.configMapKeyRef.name=Invalid;"
		  "spec.containers[0].env[0].valueFrom.configMapKeyRef.key=Required" },
		{ "bad key",
		  "[" ADD(
		      C0 "/env",
		      "[{'name':'A','valueFrom':{'secretKeyRef':{'name':'s','key':'a/b'}}}]") "]",
		  NULL, "spec.containers[0].env[0].valueFrom.secretKeyRef.key=Invalid" },
		{ "envFrom valid",
		  "[" ADD(C0 "/envFrom", "[{'configMapRef':{'name':'cm'}},{'prefix':'S_','"
					 "secretRef':{'name':'sec-'}}]") "]",
		  NULL, "" },
		{ "envFrom without a source", "[" ADD(C0 "/envFrom", "[{'prefix':'P_'}]") "]", NULL,
		  "spec.containers[0].envFrom=Invalid~configMapRef" },
		{ "envFrom with two sources",
		  "[" ADD(C0 "/envFrom",
			  "[{'configMapRef':{'name':'a'},'secretRef':{'name':'b'}}]") "]",
		  NULL, "spec.containers[0].envFrom=Invalid~more than one" },
		{ "envFrom prefix and name",
		  "[" ADD(C0 "/envFrom", "[{'prefix':'1P','configMapRef':{'name':''}}]") "]", NULL,
		  "spec.containers[0].envFrom[0].prefix=Invalid;spec.containers[0].envFrom[0]."
		  "configMapRef.name=Required" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_volumes(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "{'spec':{'volumes':[{'name':'data'},{'name':'cfg','configMap':{'name':'cm','"
		  "items':[{'key':'a','path':'dir/a','mode':384}]}},"
		  "{'name':'host','hostPath':{'path':'/var/log','type':'Directory'}},"
		  "{'name':'sec','secret':{'secretName':'s','defaultMode':256}},"
		  "{'name':'claim','persistentVolumeClaim':{'claimName':'pvc'}},"
		  "{'name':'dw','downwardAPI':{'items':[{'path':'labels','fieldRef':{'fieldPath':'"
		  "metadata.labels'}}]}},"
		  "{'name':'proj','projected':{'sources':[{'configMap':{'name':'a'}},{'"
		  "serviceAccountToken':{'path':'token'}}]}}],"
		  "'containers':[{'name':'c','image':'x:1','volumeMounts':[{'name':'data','"
		  "mountPath':'/data'},"
		  "{'name':'cfg','mountPath':'/etc/cfg','subPath':'dir'}]}]}}",
		  NULL, "" },
		{ "volume name required", "{'spec':{'volumes':[{'emptyDir':{}}]}}", NULL,
		  "spec.volumes[0].name=Required" },
		{ "volume name", "{'spec':{'volumes':[{'name':'Data'}]}}", NULL,
		  "spec.volumes[0].name=Invalid" },
		{ "duplicate volume", "{'spec':{'volumes':[{'name':'a'},{'name':'a'}]}}", NULL,
		  "spec.volumes[1].name=Duplicate" },
		{ "two sources",
		  "{'spec':{'volumes':[{'name':'a','emptyDir':{},'hostPath':{'path':'/x'}}]}}",
		  NULL, "spec.volumes[0].hostPath=Forbidden~1 volume type" },
		{ "hostPath path", "{'spec':{'volumes':[{'name':'a','hostPath':{'path':''}}]}}",
		  NULL, "spec.volumes[0].hostPath.path=Required" },
		{ "hostPath backsteps",
		  "{'spec':{'volumes':[{'name':'a','hostPath':{'path':'/a/../b'}}]}}", NULL,
		  "spec.volumes[0].hostPath.path=Invalid~'..'" },
		{ "hostPath type",
		  "{'spec':{'volumes':[{'name':'a','hostPath':{'path':'/a','type':'Dir'}}]}}", NULL,
		  "spec.volumes[0].hostPath.type=NotSupported" },
		{ "configMap name", "{'spec':{'volumes':[{'name':'a','configMap':{}}]}}", NULL,
		  "spec.volumes[0].configMap.name=Required" },
		{ "secret name", "{'spec':{'volumes':[{'name':'a','secret':{'optional':true}}]}}",
		  NULL, "spec.volumes[0].secret.secretName=Required" },
		{ "defaultMode",
		  "{'spec':{'volumes':[{'name':'a','secret':{'secretName':'s','defaultMode':512}}]}"
		  "}",
		  NULL, "spec.volumes[0].secret.defaultMode=Invalid~0777" },
		{ "items",
		  "{'spec':{'volumes':[{'name':'a','configMap':{'name':'c','items':["
		  "{'key':'','path':'ok'},{'key':'k','path':'/abs'},{'key':'k','path':'a/../b'},"
		  "{'key':'k','path':'..hidden'},{'key':'k','path':''},{'key':'k','path':'m','mode'"
		  ":-1}]}}]}}",
		  NULL,
		  "spec.volumes[0].configMap.items[0].key=Required;"
		  "spec.volumes[0].configMap.items[1].path=Invalid~relative;"
		  "spec.volumes[0].configMap.items[2].path=Invalid~'..';"
		  "spec.volumes[0].configMap.items[3].path=Invalid~start with;"
		  "spec.volumes[0].configMap.items[4].path=Required;"
		  "spec.volumes[0].configMap.items[5].mode=Invalid" },
		{ "claim name",
		  "{'spec':{'volumes':[{'name':'a','persistentVolumeClaim':{'readOnly':true}}]}}",
		  NULL, "spec.volumes[0].persistentVolumeClaim.claimName=Required" },
		{ "nfs path",
		  "{'spec':{'volumes':[{'name':'a','nfs':{'server':'s','path':'rel'}}]}}", NULL,
		  "spec.volumes[0].nfs.path=Invalid~absolute" },
		{ "downward API field path",
		  "{'spec':{'volumes':[{'name':'a','downwardAPI':{'items':[{'path':'n','fieldRef':{"
		  "'fieldPath':'spec.nodeName'}}]}}]}}",
		  NULL, "spec.volumes[0].downwardAPI.fieldRef.fieldPath=NotSupported" },
		{ "projected source with two kinds",
		  "{'spec':{'volumes':[{'name':'a','projected':{'sources':[{'configMap':{'name':'a'"
		  "},'secret':{'name':'b'}}]}}]}}",
		  NULL, "spec.volumes[0].projected.sources[0]=Forbidden" },
		{ "projected token lifetime",
		  "{'spec':{'volumes':[{'name':'a','projected':{'sources':[{'serviceAccountToken':{"
		  "'path':'t','expirationSeconds':60}}]}}]}}",
		  NULL,
		  "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds="
		  "Invalid" },
		{ "mount of an unknown volume",
		  "[" ADD(C0 "/volumeMounts", "[{'name':'nope','mountPath':'/x'}]") "]", NULL,
		  "spec.containers[0].volumeMounts[0].name=NotFound" },
		{ "mount of an invalid volume",
		  "{'spec':{'volumes':[{'name':'a','hostPath':{'path':''}}],'containers':[{'name':'"
		  "c','image':'x:1',"
		  "'volumeMounts':[{'name':'a','mountPath':'/a'}]}]}}",
		  NULL,
		  "spec.volumes[0].hostPath.path=Required;spec.containers[0].volumeMounts[0].name="
		  "NotFound" },
		{ "mount paths",
		  "{'spec':{'volumes':[{'name':'a'},{'name':'b'}],'containers':[{'name':'c','image'"
		  ":'x:1',"
		  "'volumeMounts':[{'name':'a','mountPath':'/m'},{'name':'b','mountPath':'/"
		  "m'},{'name':'b'}]}]}}",
		  NULL,
		  "spec.containers[0].volumeMounts[1].mountPath=Invalid~unique;"
		  "spec.containers[0].volumeMounts[2].mountPath=Required" },
		{ "subPath",
		  "{'spec':{'volumes':[{'name':'a'}],'containers':[{'name':'c','image':'x:1',"
		  "'volumeMounts':[{'name':'a','mountPath':'/m','subPath':'../"
		  "up'},{'name':'a','mountPath':'/n','subPath':'/abs'}]}]}}",
		  NULL,
		  "spec.containers[0].volumeMounts.subPath=Invalid~'..';"
		  "spec.containers[0].volumeMounts.subPath=Invalid~relative" },
		{ "subPath and subPathExpr",
		  "{'spec':{'volumes':[{'name':'a'}],'containers':[{'name':'c','image':'x:1',"
		  "'volumeMounts':[{'name':'a','mountPath':'/"
		  "m','subPath':'x','subPathExpr':'$(POD)'}]}]}}",
		  NULL, "spec.containers[0].volumeMounts[0].subPathExpr=Invalid~exclusive" },
		{ "bidirectional propagation needs privilege",
		  "{'spec':{'volumes':[{'name':'a'}],'containers':[{'name':'c','image':'x:1',"
		  "'volumeMounts':[{'name':'a','mountPath':'/"
		  "m','mountPropagation':'Bidirectional'}]}]}}",
		  NULL, "spec.containers[0].volumeMounts.mountPropagation=Forbidden" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_resources(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "[" ADD(C0 "/resources",
			  "{'limits':{'cpu':'2','memory':'1Gi','example.com/gpu':'1'},"
			  "'requests':{'cpu':'500m','memory':'512Mi','example.com/gpu':'1'}}") "]",
		  NULL, "" },
		{ "request above limit",
		  "[" ADD(C0 "/resources", "{'limits':{'cpu':'1'},'requests':{'cpu':'1500m'}}") "]",
		  NULL,
		  "spec.containers[0].resources.requests=Invalid~less than or equal to cpu limit" },
		{ "negative", "[" ADD(C0 "/resources", "{'requests':{'memory':'-1Mi'}}") "]", NULL,
		  "spec.containers[0].resources.requests[memory]=Invalid~greater than or equal to "
		  "0" },
		{ "unknown resource", "[" ADD(C0 "/resources", "{'requests':{'gpu':'1'}}") "]",
		  NULL,
		  "spec.containers[0].resources.requests[gpu]=Invalid~fully qualified;"
		  "spec.containers[0].resources.requests[gpu]=Invalid~for containers" },
		{ "not a container resource",
		  "[" ADD(C0 "/resources", "{'limits':{'pods':'1'}}") "]", NULL,
		  "spec.containers[0].resources.limits[pods]=Invalid~for containers;"
		  "spec.containers[0].resources.requests[pods]=Invalid~for containers" },
		{ "extended resource must be whole",
		  "[" ADD(C0 "/resources", "{'limits':{'example.com/gpu':'500m'}}") "]", NULL,
		  "spec.containers[0].resources.limits[example.com/gpu]=Invalid~integer;"
		  "spec.containers[0].resources.requests[example.com/gpu]=Invalid~integer" },
		{ "extended resource may not overcommit",
		  "[" ADD(
		      C0 "/resources",
		      "{'limits':{'example.com/gpu':'2'},'requests':{'example.com/gpu':'1'}}") "]",
		  NULL,
		  "spec.containers[0].resources.requests=Invalid~equal to example.com/gpu limit" },
		{ "extended resource needs a limit",
		  "[" ADD(C0 "/resources", "{'requests':{'example.com/gpu':'1'}}") "]", NULL,
		  "spec.containers[0].resources.limits=Required" },
		{ "hugepages need cpu or memory",
		  "[" ADD(C0 "/resources", "{'limits':{'hugepages-2Mi':'4Mi'}}") "]", NULL,
		  "spec.containers[0].resources=Forbidden" },
		{ "claims",
		  "{'spec':{'resourceClaims':[{'name':'gpu','resourceClaimName':'c'}],'containers':"
		  "[{'name':'c','image':'x:1',"
		  "'resources':{'claims':[{'name':'gpu'},{'name':'other'}]}}]}}",
		  NULL, "spec.containers[0].resources.claims[1]=NotFound" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_probes(void **state)
{
	/* clang-format off */
	static const struct vcase cases[] = {
		{ "valid",
		  "[" ADD(C0 "/livenessProbe", "{'httpGet':{'path':'/healthz','port':'http',"
						"'httpHeaders':[{'name':'X-A','value':'1'}]}}") ","
		      ADD(C0 "/readinessProbe", "{'tcpSocket':{'port':8080},'successThreshold':3}") ","
		      ADD(C0 "/startupProbe", "{'grpc':{'port':9000},'terminationGracePeriodSeconds':5}") ","
		      ADD(C0 "/lifecycle", "{'postStart':{'exec':{'command':['true']}},"
					   "'preStop':{'sleep':{'seconds':5}}}") "]",
		  NULL, "" },
		{ "no handler", "[" ADD(C0 "/livenessProbe", "{'periodSeconds':5}") "]", NULL,
		  "spec.containers[0].livenessProbe=Required~handler" },
		{ "two handlers",
		  "[" ADD(C0 "/livenessProbe", "{'exec':{'command':['true']},'httpGet':{'port':80}}") "]",
		  NULL, "spec.containers[0].livenessProbe.httpGet=Forbidden" },
		{ "exec command", "[" ADD(C0 "/readinessProbe", "{'exec':{}}") "]", NULL,
		  "spec.containers[0].readinessProbe.exec.command=Required" },
		{ "negative numbers",
		  "[" ADD(C0 "/readinessProbe", "{'exec':{'command':['x']},'periodSeconds':-1,"
						 "'initialDelaySeconds':-5,'failureThreshold':-1}") "]",
		  NULL,
		  "spec.containers[0].readinessProbe.periodSeconds=Invalid;"
		  "spec.containers[0].readinessProbe.initialDelaySeconds=Invalid;"
		  "spec.containers[0].readinessProbe.failureThreshold=Invalid" },
		{ "liveness success threshold",
		  "[" ADD(C0 "/livenessProbe", "{'exec':{'command':['x']},'successThreshold':2}") "]", NULL,
		  "spec.containers[0].livenessProbe.successThreshold=Invalid~must be 1" },
		{ "startup success threshold",
		  "[" ADD(C0 "/startupProbe", "{'exec':{'command':['x']},'successThreshold':3}") "]", NULL,
		  "spec.containers[0].startupProbe.successThreshold=Invalid~must be 1" },
		{ "readiness grace period",
		  "[" ADD(C0 "/readinessProbe", "{'exec':{'command':['x']},"
						 "'terminationGracePeriodSeconds':10}") "]",
		  NULL, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds=Invalid~readinessProbes" },
		{ "http port and scheme",
		  "[" ADD(C0 "/livenessProbe", "{'httpGet':{'port':0,'scheme':'FTP'}}") "]", NULL,
		  "spec.containers[0].livenessProbe.httpGet.port=Invalid;"
		  "spec.containers[0].livenessProbe.httpGet.scheme=NotSupported" },
		{ "http header name",
		  "[" ADD(C0 "/livenessProbe", "{'httpGet':{'port':80,"
						"'httpHeaders':[{'name':'Bad Header','value':'x'}]}}") "]",
		  NULL, "spec.containers[0].livenessProbe.httpGet.httpHeaders=Invalid" },
		{ "tcp port name", "[" ADD(C0 "/livenessProbe", "{'tcpSocket':{'port':'no_such'}}") "]", NULL,
		  "spec.containers[0].livenessProbe.tcpSocket.port=Invalid" },
		{ "grpc port", "[" ADD(C0 "/livenessProbe", "{'grpc':{'port':70000}}") "]", NULL,
		  "spec.containers[0].livenessProbe.grpc.port=Invalid" },
		{ "lifecycle without handler", "[" ADD(C0 "/lifecycle", "{'preStop':{}}") "]", NULL,
		  "spec.containers[0].lifecycle.preStop=Required" },
		{ "sleep longer than the grace period",
		  "[" ADD(C0 "/lifecycle", "{'preStop':{'sleep':{'seconds':40}}}") "]", NULL,
		  "spec.containers[0].lifecycle.preStop.sleep=Invalid~terminationGracePeriodSeconds (30)" },
		{ "lifecycle has no grpc", "[" ADD(C0 "/lifecycle", "{'postStart':{'grpc':{'port':1}}}") "]", NULL,
		  "spec.containers[0].lifecycle.postStart=Required" },
	};
	/* clang-format on */
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_security(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "{'spec':{'securityContext':{'runAsUser':1000,'runAsGroup':1000,'fsGroup':2000,'"
		  "supplementalGroups':[3000],"
		  "'sysctls':[{'name':'net.ipv4.ip_local_port_range','value':'1024 "
		  "65000'}],'seccompProfile':{'type':'RuntimeDefault'}},"
		  "'containers':[{'name':'c','image':'x:1','securityContext':{'runAsNonRoot':true,'"
		  "allowPrivilegeEscalation':false,"
		  "'capabilities':{'add':['NET_ADMIN'],'drop':['ALL']},'seccompProfile':{'type':'"
		  "Localhost','localhostProfile':'prof.json'}}}]}}",
		  NULL, "" },
		{ "container runAsUser", "[" ADD(C0 "/securityContext", "{'runAsUser':-1}") "]",
		  NULL, "spec.containers[0].securityContext.runAsUser=Invalid" },
		{ "pod runAsUser and groups",
		  "{'spec':{'securityContext':{'runAsUser':-1,'supplementalGroups':[-2]}}}", NULL,
		  "spec.securityContext.runAsUser=Invalid;spec.securityContext.supplementalGroups["
		  "0]=Invalid" },
		{ "privileged without escalation",
		  "[" ADD(C0 "/securityContext",
			  "{'privileged':true,'allowPrivilegeEscalation':false}") "]",
		  NULL, "spec.containers[0].securityContext=Invalid~privileged" },
		{ "CAP_SYS_ADMIN without escalation",
		  "[" ADD(C0 "/securityContext", "{'allowPrivilegeEscalation':false,'capabilities':"
						 "{'add':['CAP_SYS_ADMIN']}}") "]",
		  NULL, "spec.containers[0].securityContext=Invalid~CAP_SYS_ADMIN" },
		{ "unmasked proc needs a user namespace",
		  "[" ADD(C0 "/securityContext", "{'procMount':'Unmasked'}") "]", NULL,
		  "spec.containers[0].securityContext.procMount=Invalid~hostUsers" },
		{ "seccomp localhost without profile",
		  "[" ADD(C0 "/securityContext", "{'seccompProfile':{'type':'Localhost'}}") "]",
		  NULL,
		  "spec.containers[0].securityContext.seccompProfile.localhostProfile=Required" },
		{ "seccomp type",
		  "{'spec':{'securityContext':{'seccompProfile':{'type':'Strict'}}}}", NULL,
		  "spec.securityContext.seccompProfile.type=NotSupported" },
		{ "sysctl name",
		  "{'spec':{'securityContext':{'sysctls':[{'name':'Kernel.X','value':'1'}]}}}",
		  NULL, "spec.securityContext.sysctls[0].name=Invalid" },
		{ "net sysctl with host network",
		  "{'spec':{'hostNetwork':true,'securityContext':{'sysctls':[{'name':'net.core."
		  "somaxconn','value':'1'}]}}}",
		  NULL, "spec.securityContext.sysctls[0].name=Invalid~hostNetwork" },
		{ "shared PID namespace and host PID",
		  "{'spec':{'hostPID':true,'shareProcessNamespace':true}}", NULL,
		  "spec.securityContext.shareProcessNamespace=Invalid" },
		{ "user namespace with host network",
		  "{'spec':{'hostUsers':false,'hostNetwork':true}}", NULL,
		  "spec.hostNetwork=Forbidden" },
		{ "windows pod",
		  "{'spec':{'os':{'name':'windows'},'securityContext':{'runAsUser':5}}}", NULL,
		  "spec.securityContext.runAsUser=Forbidden" },
		{ "linux pod with windows options",
		  "{'spec':{'os':{'name':'linux'},'securityContext':{'windowsOptions':{'"
		  "runAsUserName':'x'}}}}",
		  NULL, "spec.securityContext.windowsOptions=Forbidden" },
		{ "os name", "{'spec':{'os':{'name':'plan9'}}}", NULL, "spec.os=NotSupported" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_spec_fields(void **state)
{
	static const struct vcase cases[] = {
		{ "restartPolicy", "{'spec':{'restartPolicy':'Sometimes'}}", NULL,
		  "spec.restartPolicy=NotSupported" },
		{ "dnsPolicy", "{'spec':{'dnsPolicy':'Cluster'}}", NULL,
		  "spec.dnsPolicy=NotSupported" },
		{ "dnsPolicy None needs dnsConfig", "{'spec':{'dnsPolicy':'None'}}", NULL,
		  "spec.dnsConfig=Required" },
		{ "dnsPolicy None needs a nameserver",
		  "{'spec':{'dnsPolicy':'None','dnsConfig':{'searches':['a.b']}}}", NULL,
		  "spec.dnsConfig.nameservers=Required" },
		{ "dnsConfig valid",
		  "{'spec':{'dnsPolicy':'None','dnsConfig':{'nameservers':['1.1.1.1','2001:db8::1']"
		  ",'searches':['ns.svc.cluster.local.','_srv.example.com','.'],"
		  "'options':[{'name':'ndots','value':'2'}]}}}",
		  NULL, "" },
		{ "dnsConfig limits",
		  "{'spec':{'dnsConfig':{'nameservers':['1.1.1.1','1.1.1.2','1.1.1.3','not-an-ip'],"
		  "'searches':['Bad..name'],'options':[{'value':'1'}]}}}",
		  NULL,
		  "spec.dnsConfig.nameservers=Invalid~3;spec.dnsConfig.nameservers[3]=Invalid;"
		  "spec.dnsConfig.searches[0]=Invalid;spec.dnsConfig.options[0]=Required" },
		{ "nodeSelector", "{'spec':{'nodeSelector':{'bad key':'v','ok':'bad value!'}}}",
		  NULL, "spec.nodeSelector=Invalid;spec.nodeSelector=Invalid" },
		{ "hostname and subdomain", "{'spec':{'hostname':'Host_1','subdomain':'a.b'}}",
		  NULL, "spec.hostname=Invalid;spec.subdomain=Invalid~dots" },
		{ "activeDeadlineSeconds", "{'spec':{'activeDeadlineSeconds':0}}", NULL,
		  "spec.activeDeadlineSeconds=Invalid" },
		{ "terminationGracePeriodSeconds", "{'spec':{'terminationGracePeriodSeconds':-1}}",
		  NULL, "spec.terminationGracePeriodSeconds=Invalid" },
		{ "serviceAccountName", "{'spec':{'serviceAccountName':'Robot'}}", NULL,
		  "spec.serviceAccountName=Invalid" },
		{ "nodeName", "{'spec':{'nodeName':'node_1'}}", NULL, "spec.nodeName=Invalid" },
		{ "nodeName with scheduling gates",
		  "{'spec':{'nodeName':'n1','schedulingGates':[{'name':'example.com/wait'}]}}",
		  NULL, "spec.nodeName=Forbidden" },
		{ "scheduling gates",
		  "{'spec':{'schedulingGates':[{'name':'a'},{'name':'a'},{'name':'b c'}]}}", NULL,
		  "spec.schedulingGates[1]=Duplicate;spec.schedulingGates[2]=Invalid" },
		{ "readiness gates",
		  "{'spec':{'readinessGates':[{'conditionType':'example.com/"
		  "ok'},{'conditionType':'no good'}]}}",
		  NULL, "spec.readinessGates[1].conditionType=Invalid" },
		{ "host aliases",
		  "{'spec':{'hostAliases':[{'ip':'10.0.0.1','hostnames':['a.local','Bad_Name']},{'"
		  "ip':'x'}]}}",
		  NULL, "spec.hostAliases[0].hostnames[1]=Invalid;spec.hostAliases[1].ip=Invalid" },
		{ "priority class and preemption",
		  "{'spec':{'priorityClassName':'High','preemptionPolicy':'Always'}}", NULL,
		  "spec.priorityClassName=Invalid;spec.preemptionPolicy=NotSupported" },
		{ "image pull secrets", "{'spec':{'imagePullSecrets':[{'name':'reg'}]}}", NULL,
		  "" },
		{ "pod deletion cost",
		  "{'metadata':{'annotations':{'controller.kubernetes.io/"
		  "pod-deletion-cost':'many'}}}",
		  NULL,
		  "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]=Invalid" },
		{ "mirror pod needs a node",
		  "{'metadata':{'annotations':{'kubernetes.io/config.mirror':'x'}}}", NULL,
		  "metadata.annotations[kubernetes.io/config.mirror]=Invalid" },
		{ "topology spread",
		  "{'spec':{'topologySpreadConstraints':[{'maxSkew':0,'topologyKey':'','"
		  "whenUnsatisfiable':'Maybe'},"
		  "{'maxSkew':1,'topologyKey':'zone','whenUnsatisfiable':'DoNotSchedule','"
		  "labelSelector':{'matchLabels':{'a':'b'}}},"
		  "{'maxSkew':1,'topologyKey':'zone','whenUnsatisfiable':'DoNotSchedule','"
		  "minDomains':0}]}}",
		  NULL,
		  "spec.topologySpreadConstraints[0].maxSkew=Invalid;spec."
		  "topologySpreadConstraints[0].topologyKey=Required;"
		  "spec.topologySpreadConstraints[0].whenUnsatisfiable=NotSupported;"
		  "spec.topologySpreadConstraints[1].{topologyKey, whenUnsatisfiable}=Duplicate;"
		  "spec.topologySpreadConstraints[2].minDomains=Invalid" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

static void test_pod_affinity_tolerations(void **state)
{
	static const struct vcase cases[] = {
		{ "valid affinity",
		  "{'spec':{'affinity':{'nodeAffinity':{'"
		  "requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':["
		  "{'matchExpressions':[{'key':'zone','operator':'In','values':['a']},{'key':'gpu',"
		  "'operator':'Exists'},"
		  "{'key':'cores','operator':'Gt','values':['4']}],'matchFields':[{'key':'metadata."
		  "name','operator':'In','values':['n1']}]}]},"
		  "'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':10,'preference':{'"
		  "matchExpressions':[{'key':'a','operator':'NotIn','values':['b']}]}}]},"
		  "'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':[{'"
		  "labelSelector':{'matchLabels':{'app':'web'}},'topologyKey':'kubernetes.io/"
		  "hostname'}]}}}}",
		  NULL, "" },
		{ "no required terms",
		  "{'spec':{'affinity':{'nodeAffinity':{'"
		  "requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[]}}}}}",
		  NULL,
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms=Required" },
		{ "requirement operators",
		  "{'spec':{'affinity':{'nodeAffinity':{'"
		  "requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[{'"
		  "matchExpressions':["
		  "{'key':'a','operator':'Near','values':['x']},{'key':'b','operator':'In'},{'key':"
		  "'c','operator':'Exists','values':['x']},"
		  "{'key':'d','operator':'Lt','values':['1','2']},{'key':'bad "
		  "key','operator':'Exists'}]}]}}}}}",
		  NULL,
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[0].operator=Invalid;"
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[1].values=Required;"
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[2].values=Forbidden;"
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[3].values=Required;"
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchExpressions[4].key=Invalid" },
		{ "field selector key",
		  "{'spec':{'affinity':{'nodeAffinity':{'"
		  "requiredDuringSchedulingIgnoredDuringExecution':{'nodeSelectorTerms':[{'"
		  "matchFields':["
		  "{'key':'metadata.uid','operator':'In','values':['x']}]}]}}}}}",
		  NULL,
		  "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
		  "nodeSelectorTerms[0].matchFields[0].key=Invalid" },
		{ "preferred weight",
		  "{'spec':{'affinity':{'nodeAffinity':{'"
		  "preferredDuringSchedulingIgnoredDuringExecution':[{'weight':0,'preference':{}}]}"
		  "}}}",
		  NULL,
		  "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]."
		  "weight=Invalid~1-100" },
		{ "pod affinity topology key",
		  "{'spec':{'affinity':{'podAffinity':{'"
		  "requiredDuringSchedulingIgnoredDuringExecution':[{'labelSelector':{'matchLabels'"
		  ":{'a':'b'}}}]}}}}",
		  NULL,
		  "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
		  "topologyKey=Required;"
		  "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
		  "topologyKey=Invalid" },
		{ "pod affinity selector",
		  "{'spec':{'affinity':{'podAntiAffinity':{'"
		  "preferredDuringSchedulingIgnoredDuringExecution':[{'weight':101,"
		  "'podAffinityTerm':{'topologyKey':'zone','labelSelector':{'matchExpressions':[{'"
		  "key':'a','operator':'In'}]}}}]}}}}",
		  NULL,
		  "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
		  ".weight=Invalid;"
		  "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
		  ".podAffinityTerm.labelSelector.matchExpressions[0].values=Required" },
		{ "valid tolerations",
		  "{'spec':{'tolerations':[{'operator':'Exists'},{'key':'k','operator':'Equal','"
		  "value':'v','effect':'NoSchedule'},"
		  "{'key':'node.kubernetes.io/"
		  "not-ready','operator':'Exists','effect':'NoExecute','tolerationSeconds':300}]}}",
		  NULL, "" },
		{ "Exists with a value",
		  "{'spec':{'tolerations':[{'key':'k','operator':'Exists','value':'v'}]}}", NULL,
		  "spec.tolerations[0].operator=Invalid~'Exists'" },
		{ "empty key needs Exists",
		  "{'spec':{'tolerations':[{'operator':'Equal','value':'v'}]}}", NULL,
		  "spec.tolerations[0].operator=Invalid~key" },
		{ "tolerationSeconds needs NoExecute",
		  "{'spec':{'tolerations':[{'key':'k','operator':'Exists','effect':'NoSchedule','"
		  "tolerationSeconds':5}]}}",
		  NULL, "spec.tolerations[0].effect=Invalid~NoExecute" },
		{ "operator and effect",
		  "{'spec':{'tolerations':[{'key':'k','operator':'Like','effect':'Evict'}]}}", NULL,
		  "spec.tolerations[0].operator=NotSupported;spec.tolerations[0].effect="
		  "NotSupported" },
		{ "toleration key", "{'spec':{'tolerations':[{'key':'a b','operator':'Exists'}]}}",
		  NULL, "spec.tolerations[0].key=Invalid" },
	};
	RUN_CASES(resource_pods, pod_base, V_CREATE, cases);
}

/* ---- updates ----------------------------------------------------------- */

static void test_pod_update(void **state)
{
	static const struct vcase cases[] = {
		{ "no change", NULL, NULL, "" },
		{ "image", "[" ADD(C0 "/image", "'nginx:1.26'") "]", NULL, "" },
		{ "image removed", "[" REMOVE(C0 "/image") "]", NULL,
		  "spec.containers[0].image=Required;spec.containers[0].image=Required" },
		{ "container added",
		  "[" ADD("/spec/containers/-", "{'name':'d','image':'x:1'}") "]", NULL,
		  "spec.containers=Forbidden~add or remove" },
		{ "container renamed", "[" ADD(C0 "/name", "'d'") "]", NULL,
		  "spec=Forbidden~may not change fields" },
		{ "restartPolicy", "{'spec':{'restartPolicy':'Never'}}", NULL, "spec=Forbidden" },
		{ "nodeName set", "{'spec':{'nodeName':'n1'}}", NULL, "spec=Forbidden" },
		{ "nodeName changed", "{'spec':{'nodeName':'n2'}}", "{'spec':{'nodeName':'n1'}}",
		  "spec=Forbidden" },
		{ "nodeName kept", "{'spec':{'nodeName':'n1'}}", "{'spec':{'nodeName':'n1'}}", "" },
		{ "activeDeadlineSeconds set", "{'spec':{'activeDeadlineSeconds':60}}", NULL, "" },
		{ "activeDeadlineSeconds lowered", "{'spec':{'activeDeadlineSeconds':30}}",
		  "{'spec':{'activeDeadlineSeconds':60}}", "" },
		{ "activeDeadlineSeconds raised", "{'spec':{'activeDeadlineSeconds':90}}",
		  "{'spec':{'activeDeadlineSeconds':60}}",
		  "spec.activeDeadlineSeconds=Invalid~previous value" },
		{ "activeDeadlineSeconds removed", NULL, "{'spec':{'activeDeadlineSeconds':60}}",
		  "spec.activeDeadlineSeconds=Invalid~nil" },
		{ "toleration added",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Exists'},{'key':'b','operator':'"
		  "Exists'}]}}",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Exists'}]}}", "" },
		{ "toleration changed",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Equal','value':'x'}]}}",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Exists'}]}}",
		  "spec.tolerations=Forbidden" },
		{ "tolerationSeconds changed",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Exists','effect':'NoExecute','"
		  "tolerationSeconds':10}]}}",
		  "{'spec':{'tolerations':[{'key':'a','operator':'Exists','effect':'NoExecute','"
		  "tolerationSeconds':300}]}}",
		  "" },
		{ "scheduling gate removed", "{'spec':{'schedulingGates':[{'name':'a'}]}}",
		  "{'spec':{'schedulingGates':[{'name':'a'},{'name':'b'}]}}", "" },
		{ "scheduling gate added",
		  "{'spec':{'schedulingGates':[{'name':'a'},{'name':'c'}]}}",
		  "{'spec':{'schedulingGates':[{'name':'a'}]}}",
		  "spec.schedulingGates[1].name=Forbidden~'c'" },
		{ "gated pod gains a node selector",
		  "{'spec':{'schedulingGates':[{'name':'a'}],'nodeSelector':{'zone':'a','disk':'"
		  "ssd'}}}",
		  "{'spec':{'schedulingGates':[{'name':'a'}],'nodeSelector':{'zone':'a'}}}", "" },
		{ "gated pod changes its node selector",
		  "{'spec':{'schedulingGates':[{'name':'a'}],'nodeSelector':{'zone':'b'}}}",
		  "{'spec':{'schedulingGates':[{'name':'a'}],'nodeSelector':{'zone':'a'}}}",
		  "spec.nodeSelector=Invalid" },
		{ "ungated pod gains a node selector", "{'spec':{'nodeSelector':{'zone':'a'}}}",
		  NULL, "spec=Forbidden" },
		{ "grace period from negative to 1", "{'spec':{'terminationGracePeriodSeconds':1}}",
		  "{'spec':{'terminationGracePeriodSeconds':-1}}", "" },
		{ "grace period changed", "{'spec':{'terminationGracePeriodSeconds':5}}", NULL,
		  "spec=Forbidden" },
		{ "mirror annotation removed", NULL,
		  "{'metadata':{'annotations':{'kubernetes.io/"
		  "config.mirror':'x'}},'spec':{'nodeName':'n1'}}",
		  "metadata.annotations[kubernetes.io/config.mirror]=Forbidden;spec=Forbidden" },
	};
	RUN_CASES(resource_pods, pod_base, V_UPDATE, cases);
}

static void test_pod_status(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "{'status':{'phase':'Running','qosClass':'BestEffort','podIP':'10.1.0.5','podIPs'"
		  ":[{'ip':'10.1.0.5'},{'ip':'fd00::5'}],"
		  "'hostIP':'192.168.1.2','hostIPs':[{'ip':'192.168.1.2'}],"
		  "'conditions':[{'type':'Ready','status':'True'},{'type':'example.com/"
		  "gate','status':'True'}]}}",
		  NULL, "" },
		{ "phase", "{'status':{'phase':'Sleeping'}}", NULL, "status.phase=NotSupported" },
		{ "pod IP", "{'status':{'podIPs':[{'ip':'10.1.0.300'}]}}", NULL,
		  "status.podIPs[0]=Invalid" },
		{ "two IPv4 pod IPs", "{'status':{'podIPs':[{'ip':'10.1.0.5'},{'ip':'10.1.0.6'}]}}",
		  NULL, "status.podIPs=Invalid~IP family" },
		{ "host IPs",
		  "{'status':{'hostIP':'192.168.1.2','hostIPs':[{'ip':'192.168.1.3'}]}}", NULL,
		  "status.hostIPs[0].ip=Invalid" },
		{ "qos class", "{'status':{'qosClass':'Guaranteed'}}",
		  "{'status':{'qosClass':'BestEffort'}}", "status.qosClass=Invalid~immutable" },
		{ "custom condition",
		  "{'status':{'conditions':[{'type':'not valid','status':'True'}]}}", NULL,
		  "metadata.conditions[0].Type=Invalid" },
		{ "terminated container restarted",
		  "{'status':{'containerStatuses':[{'name':'c','state':{'running':{}}}]}}",
		  "{'spec':{'restartPolicy':'Never'},'status':{'containerStatuses':[{'name':'c','"
		  "state':{'terminated':{'exitCode':1}}}]}}",
		  "status.containerStatuses[0].state=Forbidden" },
		{ "failed container restarted on failure",
		  "{'status':{'containerStatuses':[{'name':'c','state':{'running':{}}}]}}",
		  "{'spec':{'restartPolicy':'OnFailure'},'status':{'containerStatuses':[{'name':'c'"
		  ",'state':{'terminated':{'exitCode':1}}}]}}",
		  "" },
	};
	RUN_CASES(resource_pods, pod_base, V_STATUS, cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_defaults),
		cmocka_unit_test(test_pod_containers),
		cmocka_unit_test(test_pod_ports),
		cmocka_unit_test(test_pod_env),
		cmocka_unit_test(test_pod_volumes),
		cmocka_unit_test(test_pod_resources),
		cmocka_unit_test(test_pod_probes),
		cmocka_unit_test(test_pod_security),
		cmocka_unit_test(test_pod_spec_fields),
		cmocka_unit_test(test_pod_affinity_tolerations),
		cmocka_unit_test(test_pod_update),
		cmocka_unit_test(test_pod_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
