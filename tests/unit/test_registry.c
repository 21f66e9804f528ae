/* SPDX-License-Identifier: Apache-2.0 */
/* Defaults and validation of the served kinds other than pods (see
 * test_registry_pods.c): services, workloads, nodes, endpoints, config
 * maps, secrets, events, leases and namespaces. */
#include "registry_harness.h"

/* ---- services ---------------------------------------------------------- */

static const char svc_base[] =
    "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'default'},"
    "'spec':{'selector':{'app':'web'},'ports':[{'port':80}]}}";

static void test_service_defaults(void **state)
{
	static const struct dcase cases[] = {
		{ "cluster IP service", NULL,
		  "spec.type='ClusterIP';spec.sessionAffinity='None';spec.ports[0].protocol='TCP';"
		  "spec.ports[0].targetPort=80;spec.internalTrafficPolicy='Cluster';spec."
		  "ipFamilies=['IPv4'];"
		  "spec.ipFamilyPolicy='SingleStack';spec.externalTrafficPolicy=absent;"
		  "spec.allocateLoadBalancerNodePorts=absent;status.loadBalancer={}" },
		{ "named target port kept", "{'spec':{'ports':[{'port':80,'targetPort':'http'}]}}",
		  "spec.ports[0].targetPort='http'" },
		{ "empty target port", "{'spec':{'ports':[{'port':80,'targetPort':''}]}}",
		  "spec.ports[0].targetPort=80" },
		{ "node port", "{'spec':{'type':'NodePort'}}",
		  "spec.externalTrafficPolicy='Cluster'" },
		{ "external IPs", "{'spec':{'externalIPs':['192.0.2.1']}}",
		  "spec.externalTrafficPolicy='Cluster'" },
		{ "load balancer", "{'spec':{'type':'LoadBalancer'}}",
		  "spec.allocateLoadBalancerNodePorts=true;spec.externalTrafficPolicy='Cluster';"
		  "spec.internalTrafficPolicy='Cluster'" },
		{ "client IP affinity", "{'spec':{'sessionAffinity':'ClientIP'}}",
		  "spec.sessionAffinityConfig={'clientIP':{'timeoutSeconds':10800}}" },
		{ "no affinity drops its config",
		  "{'spec':{'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':60}}}}",
		  "spec.sessionAffinityConfig=absent" },
		{ "external name",
		  "{'spec':{'type':'ExternalName','externalName':'db.example.com'}}",
		  "spec.ipFamilies=absent;spec.ipFamilyPolicy=absent;spec.internalTrafficPolicy="
		  "absent" },
		{ "cluster IP given", "{'spec':{'clusterIP':'10.96.0.10'}}",
		  "spec.clusterIPs=['10.96.0.10']" },
		{ "load balancer ingress",
		  "{'spec':{'type':'LoadBalancer'},'status':{'loadBalancer':{'ingress':[{'ip':'192."
		  "0.2.9'}]}}}",
		  "status.loadBalancer.ingress[0].ipMode='VIP'" },
	};
	RUN_DEFAULTS(resource_services, svc_base, cases);
}

static void test_service_create(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "valid, several ports",
		  "{'spec':{'ports':[{'name':'http','port':80,'targetPort':'web'},{'name':'dns','"
		  "port':53,'protocol':'UDP'},"
		  "{'name':'dns-tcp','port':53,'appProtocol':'kubernetes.io/h2c'}]}}",
		  NULL, "" },
		{ "no ports", "{'spec':{'ports':null}}", NULL, "spec.ports=Required" },
		{ "headless without ports", "{'spec':{'clusterIP':'None','ports':null}}", NULL,
		  "" },
		{ "external name without ports",
		  "{'spec':{'type':'ExternalName','externalName':'db.example.com.','ports':null}}",
		  NULL, "" },
		{ "unnamed ports", "{'spec':{'ports':[{'port':80},{'port':81}]}}", NULL,
		  "spec.ports[0].name=Required;spec.ports[1].name=Required" },
		{ "port name", "{'spec':{'ports':[{'name':'Web','port':80}]}}", NULL,
		  "spec.ports[0].name=Invalid" },
		{ "duplicate port names",
		  "{'spec':{'ports':[{'name':'a','port':80},{'name':'a','port':81}]}}", NULL,
		  "spec.ports[1].name=Duplicate" },
		{ "port range", "{'spec':{'ports':[{'port':70000}]}}", NULL,
		  "spec.ports[0].port=Invalid;spec.ports[0].targetPort=Invalid" },
		{ "protocol", "{'spec':{'ports':[{'port':80,'protocol':'ICMP'}]}}", NULL,
		  "spec.ports[0].protocol=NotSupported" },
		{ "target port name", "{'spec':{'ports':[{'port':80,'targetPort':'no_such'}]}}",
		  NULL, "spec.ports[0].targetPort=Invalid" },
		{ "app protocol", "{'spec':{'ports':[{'port':80,'appProtocol':'a b'}]}}", NULL,
		  "spec.ports[0].appProtocol=Invalid" },
		{ "duplicate port and protocol",
		  "{'spec':{'ports':[{'name':'a','port':80},{'name':'b','port':80}]}}", NULL,
		  "spec.ports[1]=Duplicate" },
		{ "node port on a cluster IP service",
		  "{'spec':{'ports':[{'port':80,'nodePort':30080}]}}", NULL,
		  "spec.ports[0].nodePort=Forbidden" },
		{ "duplicate node ports",
		  "{'spec':{'type':'NodePort','ports':[{'name':'a','port':80,'nodePort':30080},{'"
		  "name':'b','port':81,'nodePort':30080}]}}",
		  NULL, "spec.ports[1].nodePort=Duplicate" },
		{ "type", "{'spec':{'type':'Magic'}}", NULL, "spec.type=NotSupported" },
		{ "session affinity", "{'spec':{'sessionAffinity':'Sticky'}}", NULL,
		  "spec.sessionAffinity=NotSupported" },
		{ "affinity timeout",
		  "{'spec':{'sessionAffinity':'ClientIP','sessionAffinityConfig':{'clientIP':{'"
		  "timeoutSeconds':86401}}}}",
		  NULL, "spec.sessionAffinityConfig.clientIP.timeoutSeconds=Invalid" },
		{ "external name required", "{'spec':{'type':'ExternalName'}}", NULL,
		  "spec.externalName=Required" },
		{ "external name syntax",
		  "{'spec':{'type':'ExternalName','externalName':'Bad_Name'}}", NULL,
		  "spec.externalName=Invalid" },
		{ "external name with a cluster IP",
		  "{'spec':{'type':'ExternalName','externalName':'db.example.com','clusterIP':'10."
		  "96.0.10'}}",
		  NULL, "spec.clusterIPs=Forbidden" },
		{ "cluster IP syntax", "{'spec':{'clusterIP':'10.96.0.300'}}", NULL,
		  "spec.clusterIPs[0]=Invalid" },
		{ "cluster IPs disagree",
		  "{'spec':{'clusterIP':'10.96.0.10','clusterIPs':['10.96.0.11']}}", NULL,
		  "spec.clusterIPs=Invalid~first value" },
		{ "cluster IPs without cluster IP", "{'spec':{'clusterIPs':['10.96.0.11']}}", NULL,
		  "spec.clusterIPs=Invalid~empty" },
		{ "cluster IP family", "{'spec':{'clusterIP':'fd00::10'}}", NULL,
		  "spec.clusterIPs[0]=Invalid~IPv4" },
		{ "headless load balancer", "{'spec':{'type':'LoadBalancer','clusterIP':'None'}}",
		  NULL, "spec.clusterIPs[0]=Invalid~LoadBalancer" },
		{ "headless node port", "{'spec':{'type':'NodePort','clusterIP':'None'}}", NULL,
		  "spec.clusterIPs[0]=Invalid~NodePort" },
		{ "families", "{'spec':{'ipFamilies':['IPv4','IPv4'],'ipFamilyPolicy':'Whatever'}}",
		  NULL, "spec.ipFamilies[1]=Duplicate;spec.ipFamilyPolicy=NotSupported" },
		{ "external IPs",
		  "{'spec':{'externalIPs':['192.0.2.1','nope','127.0.0.1','0.0.0.0']}}", NULL,
		  "spec.externalIPs[1]=Invalid;spec.externalIPs[2]=Invalid~loopback;spec."
		  "externalIPs[3]=Invalid~unspecified" },
		{ "source ranges on a cluster IP service",
		  "{'spec':{'loadBalancerSourceRanges':['10.0.0.0/8']}}", NULL,
		  "spec.LoadBalancerSourceRanges=Forbidden" },
		{ "source ranges",
		  "{'spec':{'type':'LoadBalancer','loadBalancerSourceRanges':[' 10.0.0.0/8 "
		  "','10.0.0.0/33','x']}}",
		  NULL,
		  "spec.LoadBalancerSourceRanges[1]=Invalid;spec.LoadBalancerSourceRanges[2]="
		  "Invalid" },
		{ "external traffic policy on an internal service",
		  "{'spec':{'externalTrafficPolicy':'Local'}}", NULL,
		  "spec.externalTrafficPolicy=Invalid~externally-accessible" },
		{ "external traffic policy value",
		  "{'spec':{'type':'NodePort','externalTrafficPolicy':'Both'}}", NULL,
		  "spec.externalTrafficPolicy=NotSupported" },
		{ "health check port without Local",
		  "{'spec':{'type':'NodePort','healthCheckNodePort':30000}}", NULL,
		  "spec.healthCheckNodePort=Invalid" },
		{ "health check port with Local",
		  "{'spec':{'type':'LoadBalancer','externalTrafficPolicy':'Local','"
		  "healthCheckNodePort':30000}}",
		  NULL, "" },
		{ "load balancer fields elsewhere",
		  "{'spec':{'allocateLoadBalancerNodePorts':false,'loadBalancerClass':'example.com/"
		  "lb'}}",
		  NULL,
		  "spec.allocateLoadBalancerNodePorts=Forbidden;spec.loadBalancerClass=Forbidden" },
		{ "load balancer class",
		  "{'spec':{'type':'LoadBalancer','loadBalancerClass':'a b'}}", NULL,
		  "spec.loadBalancerClass=Invalid" },
		{ "internal traffic policy", "{'spec':{'internalTrafficPolicy':'Node'}}", NULL,
		  "spec.internalTrafficPolicy=NotSupported" },
		{ "traffic distribution", "{'spec':{'trafficDistribution':'Anywhere'}}", NULL,
		  "spec.trafficDistribution=NotSupported" },
		{ "selector", "{'spec':{'selector':{'app':'bad value!'}}}", NULL,
		  "spec.selector=Invalid" },
	};
	RUN_CASES(resource_services, svc_base, V_CREATE, cases);
}

static void test_service_update(void **state)
{
	static const struct vcase cases[] = {
		{ "no change", "{'spec':{'clusterIP':'10.96.0.10'}}",
		  "{'spec':{'clusterIP':'10.96.0.10'}}", "" },
		{ "allocated IP kept when left out", NULL, "{'spec':{'clusterIP':'10.96.0.10'}}",
		  "" },
		{ "cluster IP changed", "{'spec':{'clusterIP':'10.96.0.11'}}",
		  "{'spec':{'clusterIP':'10.96.0.10'}}",
		  "spec.clusterIPs[0]=Invalid~may not change" },
		{ "to ExternalName",
		  "{'spec':{'type':'ExternalName','externalName':'db.example.com','clusterIP':'10."
		  "96.0.10','ports':null}}",
		  "{'spec':{'clusterIP':'10.96.0.10'}}", "" },
		{ "from ExternalName", NULL,
		  "{'spec':{'type':'ExternalName','externalName':'db.example.com'}}", "" },
		{ "node port kept when left out", "{'spec':{'type':'NodePort'}}",
		  "{'spec':{'type':'NodePort','ports':[{'port':80,'nodePort':30080}]}}", "" },
		{ "node ports dropped with the type", NULL,
		  "{'spec':{'type':'NodePort','ports':[{'port':80,'nodePort':30080}]}}", "" },
		{ "load balancer class changed",
		  "{'spec':{'type':'LoadBalancer','loadBalancerClass':'example.com/b'}}",
		  "{'spec':{'type':'LoadBalancer','loadBalancerClass':'example.com/a'}}",
		  "spec.loadBalancerClass=Invalid" },
		{ "health check port changed",
		  "{'spec':{'type':'LoadBalancer','externalTrafficPolicy':'Local','"
		  "healthCheckNodePort':30001}}",
		  "{'spec':{'type':'LoadBalancer','externalTrafficPolicy':'Local','"
		  "healthCheckNodePort':30000}}",
		  "spec.healthCheckNodePort=Forbidden" },
	};
	RUN_CASES(resource_services, svc_base, V_UPDATE, cases);
}

static void test_service_status(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "{'status':{'loadBalancer':{'ingress':[{'ip':'192.0.2.9'},{'hostname':'lb."
		  "example.com'}]}}}",
		  "{'spec':{'type':'LoadBalancer'}}", "" },
		{ "not a load balancer",
		  "{'status':{'loadBalancer':{'ingress':[{'ip':'192.0.2.9'}]}}}", NULL,
		  "status.loadBalancer.ingress=Forbidden" },
		{ "bad ingress",
		  "{'status':{'loadBalancer':{'ingress':[{'ip':'nope','ipMode':'VIP'},{'hostname':'"
		  "192.0.2.1'},{'hostname':'x.io','ipMode':'VIP'},"
		  "{'ip':'192.0.2.2','ipMode':'Direct'}]}}}",
		  "{'spec':{'type':'LoadBalancer'}}",
		  "status.loadBalancer.ingress[0].ip=Invalid;status.loadBalancer.ingress[1]."
		  "hostname=Invalid~not an IP;"
		  "status.loadBalancer.ingress[2].ipMode=Forbidden;status.loadBalancer.ingress[3]."
		  "ipMode=NotSupported" },
	};
	RUN_CASES(resource_services, svc_base, V_STATUS, cases);
}

/* ---- deployments and replica sets --------------------------------------- */

static const char deploy_base[] =
    "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','namespace':'default'},"
    "'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':{'labels':{'app':'web'"
    "}},"
    "'spec':{'containers':[{'name':'c','image':'nginx:1.25'}]}}}}";

static const char rs_base[] =
    "{'apiVersion':'apps/v1','kind':'ReplicaSet','metadata':{'name':'web-1','namespace':'default'},"
    "'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':{'labels':{'app':'web'"
    "}},"
    "'spec':{'containers':[{'name':'c','image':'nginx:1.25'}]}}}}";

static void test_deployment_defaults(void **state)
{
	static const struct dcase cases[] = {
		{ "deployment", NULL,
		  "spec.replicas=1;spec.strategy={'type':'RollingUpdate','rollingUpdate':{'"
		  "maxUnavailable':'25%','maxSurge':'25%'}};"
		  "spec.revisionHistoryLimit=10;spec.progressDeadlineSeconds=600" },
		{ "template", NULL,
		  "spec.template.spec.restartPolicy='Always';spec.template.spec.dnsPolicy='"
		  "ClusterFirst';"
		  "spec.template.spec.terminationGracePeriodSeconds=30;spec.template.spec."
		  "schedulerName='default-scheduler';"
		  "spec.template.spec.securityContext={};spec.template.spec.containers[0]."
		  "imagePullPolicy='IfNotPresent';"
		  "spec.template.spec.serviceAccountName=absent;spec.template.spec."
		  "enableServiceLinks=absent" },
		{ "templates keep requests as given",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'c','image':'x:1','resources'"
		  ":{'limits':{'cpu':'1'}}}]}}}}",
		  "spec.template.spec.containers[0].resources={'limits':{'cpu':'1'}}" },
		{ "recreate", "{'spec':{'strategy':{'type':'Recreate'}}}",
		  "spec.strategy={'type':'Recreate'}" },
		{ "partial rolling update",
		  "{'spec':{'strategy':{'rollingUpdate':{'maxSurge':1}}}}",
		  "spec.strategy.rollingUpdate={'maxSurge':1,'maxUnavailable':'25%'}" },
		{ "replicas kept", "{'spec':{'replicas':0}}", "spec.replicas=0" },
	};
	RUN_DEFAULTS(resource_deployments, deploy_base, cases);
	static const struct dcase rs_cases[] = {
		{ "replica set", NULL,
		  "spec.replicas=1;spec.template.spec.restartPolicy='Always'" },
	};
	RUN_DEFAULTS(resource_replicasets, rs_base, rs_cases);
}

static void test_deployment_create(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "valid, paused, expressions",
		  "{'spec':{'paused':true,'replicas':0,'minReadySeconds':5,'selector':{'"
		  "matchLabels':null,"
		  "'matchExpressions':[{'key':'app','operator':'In','values':['web','api']}]}}}",
		  NULL, "" },
		{ "no selector", "{'spec':{'selector':null}}", NULL,
		  "spec.selector=Required;spec.template.metadata.labels=Invalid" },
		{ "empty selector", "{'spec':{'selector':{'matchLabels':null}}}", NULL,
		  "spec.selector=Invalid~empty selector is invalid for deployment" },
		{ "selector does not match", "{'spec':{'selector':{'matchLabels':{'app':'api'}}}}",
		  NULL, "spec.template.metadata.labels=Invalid~does not match" },
		{ "selector operator",
		  "{'spec':{'selector':{'matchExpressions':[{'key':'app','operator':'Like','values'"
		  ":['web']}]}}}",
		  NULL,
		  "spec.selector.matchExpressions[0].operator=Invalid;spec.selector=Invalid~"
		  "invalid label selector" },
		{ "selector values",
		  "{'spec':{'selector':{'matchExpressions':[{'key':'app','operator':'In','values':["
		  "'no good']}]}}}",
		  NULL,
		  "spec.selector.matchExpressions[0].values[0]=Invalid;spec.selector=Invalid~"
		  "invalid label selector" },
		{ "replicas", "{'spec':{'replicas':-1}}", NULL, "spec.replicas=Invalid" },
		{ "template labels",
		  "{'spec':{'template':{'metadata':{'labels':{'app':'web','tier':'bad value!'}}}}}",
		  NULL, "spec.template.labels=Invalid" },
		{ "template restart policy",
		  "{'spec':{'template':{'spec':{'restartPolicy':'Never'}}}}", NULL,
		  "spec.template.spec.restartPolicy=NotSupported" },
		{ "template deadline",
		  "{'spec':{'template':{'spec':{'activeDeadlineSeconds':10}}}}", NULL,
		  "spec.template.spec.activeDeadlineSeconds=Forbidden" },
		{ "template container",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'Bad','image':'x:1'}]}}}}",
		  NULL, "spec.template.spec.containers[0].name=Invalid" },
		{ "template ephemeral containers",
		  "{'spec':{'template':{'spec':{'ephemeralContainers':[{'name':'e','image':'x:1'}]}"
		  "}}}",
		  NULL, "spec.template.spec.ephemeralContainers=Forbidden" },
		{ "template host network may leave hostPort unset",
		  "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'c','"
		  "image':'x:1','ports':[{'containerPort':80}]}]}}}}",
		  NULL, "" },
		{ "template host network port mismatch",
		  "{'spec':{'template':{'spec':{'hostNetwork':true,'containers':[{'name':'c','"
		  "image':'x:1','ports':[{'containerPort':80,'hostPort':81}]}]}}}}",
		  NULL, "spec.template.spec.containers[0].ports[0].hostPort=Invalid" },
		{ "recreate with rolling update",
		  "{'spec':{'strategy':{'type':'Recreate','rollingUpdate':{'maxSurge':1}}}}", NULL,
		  "spec.strategy.rollingUpdate=Forbidden" },
		{ "strategy type", "{'spec':{'strategy':{'type':'BlueGreen'}}}", NULL,
		  "spec.strategy=NotSupported" },
		{ "both zero",
		  "{'spec':{'strategy':{'rollingUpdate':{'maxSurge':0,'maxUnavailable':'0%'}}}}",
		  NULL, "spec.strategy.rollingUpdate.maxUnavailable=Invalid~maxSurge" },
		{ "over 100%", "{'spec':{'strategy':{'rollingUpdate':{'maxUnavailable':'110%'}}}}",
		  NULL, "spec.strategy.rollingUpdate.maxUnavailable=Invalid~100%" },
		{ "surge may exceed 100%",
		  "{'spec':{'strategy':{'rollingUpdate':{'maxSurge':'200%'}}}}", NULL, "" },
		{ "not a percentage", "{'spec':{'strategy':{'rollingUpdate':{'maxSurge':'ten'}}}}",
		  NULL, "spec.strategy.rollingUpdate.maxSurge=Invalid~percent" },
		{ "negative count", "{'spec':{'strategy':{'rollingUpdate':{'maxUnavailable':-1}}}}",
		  NULL, "spec.strategy.rollingUpdate.maxUnavailable=Invalid" },
		{ "revision history", "{'spec':{'revisionHistoryLimit':-1}}", NULL,
		  "spec.revisionHistoryLimit=Invalid" },
		{ "progress deadline",
		  "{'spec':{'minReadySeconds':30,'progressDeadlineSeconds':30}}", NULL,
		  "spec.progressDeadlineSeconds=Invalid~minReadySeconds" },
		{ "min ready", "{'spec':{'minReadySeconds':-1}}", NULL,
		  "spec.minReadySeconds=Invalid" },
	};
	RUN_CASES(resource_deployments, deploy_base, V_CREATE, cases);
}

static void test_deployment_update(void **state)
{
	static const struct vcase cases[] = {
		{ "scale and new image",
		  "{'spec':{'replicas':5,'template':{'spec':{'containers':[{'name':'c','image':'"
		  "nginx:1.26'}]}}}}",
		  NULL, "" },
		{ "selector changed",
		  "{'spec':{'selector':{'matchLabels':{'app':'api'}},'template':{'metadata':{'"
		  "labels':{'app':'api'}}}}}",
		  NULL, "spec.selector=Invalid~immutable" },
	};
	RUN_CASES(resource_deployments, deploy_base, V_UPDATE, cases);
	static const struct vcase status_cases[] = {
		{ "valid",
		  "{'status':{'replicas':3,'updatedReplicas':3,'readyReplicas':2,'"
		  "availableReplicas':2,'observedGeneration':4}}",
		  NULL, "" },
		{ "counts",
		  "{'status':{'replicas':1,'updatedReplicas':2,'readyReplicas':-1,'"
		  "availableReplicas':1}}",
		  NULL,
		  "status.readyReplicas=Invalid;status.updatedReplicas=Invalid~status.replicas;"
		  "status.availableReplicas=Invalid~readyReplicas" },
		{ "collision count", "{'status':{'collisionCount':1}}",
		  "{'status':{'collisionCount':2}}", "status.collisionCount=Invalid~decremented" },
	};
	RUN_CASES(resource_deployments, deploy_base, V_STATUS, status_cases);
}

static void test_replicaset(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "empty selector", "{'spec':{'selector':{'matchLabels':null}}}", NULL,
		  "spec.selector=Invalid~empty selector" },
		{ "replicas", "{'spec':{'replicas':-2}}", NULL, "spec.replicas=Invalid" },
		{ "template restart policy",
		  "{'spec':{'template':{'spec':{'restartPolicy':'OnFailure'}}}}", NULL,
		  "spec.template.spec.restartPolicy=NotSupported" },
	};
	RUN_CASES(resource_replicasets, rs_base, V_CREATE, cases);
	static const struct vcase updates[] = {
		{ "selector changed",
		  "{'spec':{'selector':{'matchLabels':{'app':'web','v':'2'}},'template':{'metadata'"
		  ":{'labels':{'app':'web','v':'2'}}}}}",
		  NULL, "spec.selector=Invalid~immutable" },
	};
	RUN_CASES(resource_replicasets, rs_base, V_UPDATE, updates);
	static const struct vcase status[] = {
		{ "valid",
		  "{'status':{'replicas':2,'fullyLabeledReplicas':2,'readyReplicas':2,'"
		  "availableReplicas':1}}",
		  NULL, "" },
		{ "labeled above replicas", "{'status':{'replicas':1,'fullyLabeledReplicas':2}}",
		  NULL, "status.fullyLabeledReplicas=Invalid" },
	};
	RUN_CASES(resource_replicasets, rs_base, V_STATUS, status);
}

/* ---- nodes ------------------------------------------------------------- */

static const char node_base[] =
    "{'apiVersion':'v1','kind':'Node','metadata':{'name':'n1'},'spec':{}}";

static void test_nodes(void **state)
{
	static const struct dcase defaults[] = {
		{ "podCIDR", "{'spec':{'podCIDR':'10.244.1.0/24'}}",
		  "spec.podCIDRs=['10.244.1.0/24']" },
		{ "podCIDRs", "{'spec':{'podCIDRs':['10.244.1.0/24','fd00:1::/64']}}",
		  "spec.podCIDR='10.244.1.0/24'" },
		{ "allocatable", "{'status':{'capacity':{'cpu':'4','pods':'110'}}}",
		  "status.allocatable={'cpu':'4','pods':'110'}" },
	};
	RUN_DEFAULTS(resource_nodes, node_base, defaults);
	static const struct vcase cases[] = {
		{ "valid",
		  "{'spec':{'podCIDRs':['10.244.1.0/24','fd00:1::/"
		  "64'],'taints':[{'key':'dedicated','value':'gpu','effect':'NoSchedule'},"
		  "{'key':'dedicated','value':'gpu','effect':'NoExecute'}]},'status':{'capacity':{'"
		  "cpu':'4','memory':'8Gi'}}}",
		  NULL, "" },
		{ "taint effect required", "{'spec':{'taints':[{'key':'k'}]}}", NULL,
		  "metadata.taints[0].effect=Required" },
		{ "taint fields",
		  "{'spec':{'taints':[{'key':'bad key','value':'bad value!','effect':'Evict'}]}}",
		  NULL,
		  "metadata.taints[0].key=Invalid;metadata.taints[0].value=Invalid;metadata.taints["
		  "0].effect=NotSupported" },
		{ "duplicate taint",
		  "{'spec':{'taints':[{'key':'k','value':'a','effect':'NoSchedule'},{'key':'k','"
		  "value':'b','effect':'NoSchedule'}]}}",
		  NULL, "metadata.taints[1]=Duplicate" },
		{ "pod CIDR", "{'spec':{'podCIDRs':['10.244.1.0/33']}}", NULL,
		  "spec.podCIDRs[0]=Invalid" },
		{ "two IPv4 pod CIDRs", "{'spec':{'podCIDRs':['10.244.1.0/24','10.244.1.0/24']}}",
		  NULL, "spec.podCIDRs=Invalid~family;spec.podCIDRs[1]=Duplicate" },
		{ "capacity", "{'status':{'capacity':{'cpu':'-1'},'allocatable':{'cpu':'1'}}}",
		  NULL, "status.capacity.cpu=Invalid" },
	};
	RUN_CASES(resource_nodes, node_base, V_CREATE, cases);
	static const struct vcase updates[] = {
		{ "cordon",
		  "{'spec':{'unschedulable':true,'taints':[{'key':'node.kubernetes.io/"
		  "unschedulable','effect':'NoSchedule'}]}}",
		  NULL, "" },
		{ "pod CIDR assigned", "{'spec':{'podCIDR':'10.244.1.0/24'}}", NULL, "" },
		{ "pod CIDR changed", "{'spec':{'podCIDR':'10.244.2.0/24','podCIDRs':null}}",
		  "{'spec':{'podCIDR':'10.244.1.0/24'}}", "spec.podCIDRs=Forbidden" },
		{ "provider ID changed", "{'spec':{'providerID':'b'}}",
		  "{'spec':{'providerID':'a'}}", "spec.providerID=Forbidden" },
		{ "provider ID set", "{'spec':{'providerID':'a'}}", NULL, "" },
		{ "external ID", "{'spec':{'externalID':'x'}}", NULL, "spec.externalID=Forbidden" },
	};
	RUN_CASES(resource_nodes, node_base, V_UPDATE, updates);
	static const struct vcase status[] = {
		{ "addresses",
		  "{'status':{'addresses':[{'type':'InternalIP','address':'10.0.0.1'},{'type':'"
		  "Hostname','address':'n1'}]}}",
		  NULL, "" },
		{ "duplicate address",
		  "{'status':{'addresses':[{'type':'InternalIP','address':'10.0.0.1'},{'type':'"
		  "InternalIP','address':'10.0.0.1'}]}}",
		  NULL, "status.addresses[1]=Duplicate" },
	};
	RUN_CASES(resource_nodes, node_base, V_STATUS, status);
}

/* ---- endpoints and endpoint slices --------------------------------------- */

static const char ep_base[] =
    "{'apiVersion':'v1','kind':'Endpoints','metadata':{'name':'web','namespace':'default'},"
    "'subsets':[{'addresses':[{'ip':'10.1.0.5'}],'ports':[{'port':80}]}]}";

static const char eps_base[] =
    "{'apiVersion':'discovery.k8s.io/"
    "v1','kind':'EndpointSlice','metadata':{'name':'web-x','namespace':'default'},"
    "'addressType':'IPv4','endpoints':[{'addresses':['10.1.0.5']}],'ports':[{'name':'http','port':"
    "80}]}";

static void test_endpoints(void **state)
{
	static const struct dcase defaults[] = {
		{ "port protocol", NULL, "subsets[0].ports[0].protocol='TCP'" },
	};
	RUN_DEFAULTS(resource_endpoints, ep_base, defaults);
	static const struct vcase cases[] = {
		{ "valid",
		  "{'subsets':[{'addresses':[{'ip':'10.1.0.5','hostname':'web-0','nodeName':'n1'}],"
		  "'notReadyAddresses':[{'ip':'fd00::5'}],"
		  "'ports':[{'name':'http','port':80},{'name':'dns','port':53,'protocol':'UDP'}]}]"
		  "}",
		  NULL, "" },
		{ "headless without ports",
		  "{'subsets':[{'addresses':[{'ip':'10.1.0.5'}],'ports':null}]}", NULL, "" },
		{ "no addresses", "{'subsets':[{'ports':[{'port':80}]}]}", NULL,
		  "subsets[0]=Required" },
		{ "bad IP", "{'subsets':[{'addresses':[{'ip':'10.1.0'}]}]}", NULL,
		  "subsets[0].addresses[0].ip=Invalid~e.g.;subsets[0].addresses[0].ip=Invalid" },
		{ "special IPs",
		  "{'subsets':[{'addresses':[{'ip':'127.0.0.1'},{'ip':'169.254.1.1'}],'"
		  "notReadyAddresses':[{'ip':'::'}]}]}",
		  NULL,
		  "subsets[0].addresses[0].ip=Invalid~loopback;subsets[0].addresses[1].ip=Invalid~"
		  "link-local;"
		  "subsets[0].notReadyAddresses[0].ip=Invalid~unspecified" },
		{ "hostname and node",
		  "{'subsets':[{'addresses':[{'ip':'10.1.0.5','hostname':'a.b','nodeName':'N1'}]}]"
		  "}",
		  NULL,
		  "subsets[0].addresses[0].hostname=Invalid;subsets[0].addresses[0].nodeName="
		  "Invalid" },
		{ "ports",
		  "{'subsets':[{'addresses':[{'ip':'10.1.0.5'}],'ports':[{'port':0},{'port':81,'"
		  "protocol':'ICMP'}]}]}",
		  NULL,
		  "subsets[0].ports[0].name=Required;subsets[0].ports[0].port=Invalid;subsets[0]."
		  "ports[1].name=Required;"
		  "subsets[0].ports[1].protocol=NotSupported" },
	};
	RUN_CASES(resource_endpoints, ep_base, V_CREATE, cases);

	static const struct dcase slice_defaults[] = {
		{ "ports", "{'ports':[{'port':80}]}", "ports[0].protocol='TCP';ports[0].name=''" },
	};
	RUN_DEFAULTS(resource_endpointslices, eps_base, slice_defaults);
	static const struct vcase slices[] = {
		{ "valid", NULL, NULL, "" },
		{ "FQDN",
		  "{'addressType':'FQDN','endpoints':[{'addresses':['db.example.com.']},{'"
		  "addresses':['localhost']}]}",
		  NULL, "endpoints[1].addresses[0]=Invalid~two segments" },
		{ "address type required", "{'addressType':null}", NULL, "addressType=Required" },
		{ "deprecated address type", "{'addressType':'IP'}", NULL,
		  "addressType=NotSupported" },
		{ "wrong family", "{'endpoints':[{'addresses':['fd00::1']}]}", NULL,
		  "endpoints[0].addresses[0]=Invalid~IPv4" },
		{ "no addresses", "{'endpoints':[{'addresses':[]}]}", NULL,
		  "endpoints[0].addresses=Required" },
		{ "ports",
		  "{'ports':[{'name':'http','port':80},{'name':'http','port':81},{'port':82,'"
		  "protocol':'ICMP'}]}",
		  NULL, "ports[1].name=Duplicate;ports[2].protocol=NotSupported" },
		{ "hostname", "{'endpoints':[{'addresses':['10.1.0.5'],'hostname':'Web'}]}", NULL,
		  "endpoints[0].hostname=Invalid" },
	};
	RUN_CASES(resource_endpointslices, eps_base, V_CREATE, slices);
	static const struct vcase slice_updates[] = {
		{ "address type changed",
		  "{'addressType':'IPv6','endpoints':[{'addresses':['fd00::1']}]}", NULL,
		  "addressType=Invalid~immutable" },
		{ "legacy address type kept", "{'addressType':'IP'}", "{'addressType':'IP'}", "" },
	};
	RUN_CASES(resource_endpointslices, eps_base, V_UPDATE, slice_updates);
}

/* ---- config maps and secrets --------------------------------------------- */

static const char cm_base[] = "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cfg','"
			      "namespace':'default'},'data':{'a':'1'}}";
static const char secret_base[] = "{'apiVersion':'v1','kind':'Secret','metadata':{'name':'sec','"
				  "namespace':'default'},'data':{'a':'MQ=='}}";

/* base with a value of n bytes ('A's, valid base64 when n % 4 == 0) at key
 * "big" of the map m. */
static json_t *with_big_value(const char *base, const char *m, size_t n)
{
	json_t *obj = tj(base);
	char *v = xmalloc(n + 1);
	memset(v, 'A', n);
	v[n] = 0;
	json_object_set_new(json_object_get(obj, m), "big", json_string(v));
	free(v);
	return obj;
}

static void test_configmaps(void **state)
{
	static const struct vcase cases[] = {
		{ "valid",
		  "{'data':{'app.properties':'x=1','KEY_2':'y'},'binaryData':{'logo.png':'iVBORw=='"
		  "}}",
		  NULL, "" },
		{ "keys", "{'data':{'a/b':'1','..':'2'},'binaryData':{'x y':'MQ=='}}", NULL,
		  "data[a/b]=Invalid;data[..]=Invalid;binaryData[x y]=Invalid" },
		{ "key in both maps", "{'binaryData':{'a':'MQ=='}}", NULL,
		  "data[a]=Invalid~binaryData" },
	};
	RUN_CASES(resource_configmaps, cm_base, V_CREATE, cases);
	static const struct vcase updates[] = {
		{ "mutable", "{'data':{'a':'2'}}", NULL, "" },
		{ "made immutable", "{'immutable':true}", NULL, "" },
		{ "immutable unchanged", "{'immutable':true}", "{'immutable':true}", "" },
		{ "immutable data", "{'immutable':true,'data':{'a':'2'},'binaryData':{'b':'MQ=='}}",
		  "{'immutable':true}", "data=Forbidden;binaryData=Forbidden" },
		{ "immutable reverted", "{'immutable':false}", "{'immutable':true}",
		  "immutable=Forbidden" },
	};
	RUN_CASES(resource_configmaps, cm_base, V_UPDATE, updates);

	/* At most 1 MiB of values in all. */
	struct api_ctx ctx = test_ctx(&resource_configmaps);
	static const size_t sizes[] = { 1024 * 1024 - 1, 1024 * 1024 };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_json_ json_t *obj = with_big_value(cm_base, "data", sizes[i]);
		struct field_errors fe = { 0 };
		resource_configmaps.validate(&ctx, obj, NULL, &fe);
		expect_errors("ConfigMap size", &fe, i ? "=TooLong" : "");
		field_errors_release(&fe);
	}
}

static void test_secrets(void **state)
{
	static const struct dcase defaults[] = {
		{ "type", NULL, "type='Opaque'" },
		{ "stringData", "{'stringData':{'b':'hello'}}",
		  "data={'a':'MQ==','b':'aGVsbG8=' };stringData=absent" },
	};
	RUN_DEFAULTS(resource_secrets, secret_base, defaults);
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "keys", "{'data':{'a b':'MQ=='}}", NULL, "data[a b]=Invalid" },
		{ "tls", "{'type':'kubernetes.io/tls'}", NULL,
		  "data[tls.crt]=Required;data[tls.key]=Required" },
		{ "tls complete",
		  "{'type':'kubernetes.io/tls','data':{'tls.crt':'MQ==','tls.key':'MQ=='}}", NULL,
		  "" },
		{ "docker config json", "{'type':'kubernetes.io/dockerconfigjson'}", NULL,
		  "data[.dockerconfigjson]=Required" },
		{ "docker config json content",
		  "{'type':'kubernetes.io/"
		  "dockerconfigjson','data':{'.dockerconfigjson':'bm90IGpzb24='}}",
		  NULL, "data[.dockerconfigjson]=Invalid~redacted" },
		{ "docker config json valid",
		  "{'type':'kubernetes.io/dockerconfigjson','data':{'.dockerconfigjson':'e30='}}",
		  NULL, "" },
		{ "dockercfg", "{'type':'kubernetes.io/dockercfg'}", NULL,
		  "data[.dockercfg]=Required" },
		{ "basic auth", "{'type':'kubernetes.io/basic-auth'}", NULL,
		  "data[username]=Required;data[password]=Required" },
		{ "basic auth, password only",
		  "{'type':'kubernetes.io/basic-auth','data':{'password':''}}", NULL, "" },
		{ "ssh auth", "{'type':'kubernetes.io/ssh-auth','data':{'ssh-privatekey':''}}",
		  NULL, "data[ssh-privatekey]=Required" },
		{ "service account token", "{'type':'kubernetes.io/service-account-token'}", NULL,
		  "metadata.annotations[kubernetes.io/service-account.name]=Required" },
		{ "service account token named",
		  "{'type':'kubernetes.io/"
		  "service-account-token','metadata':{'annotations':{'kubernetes.io/"
		  "service-account.name':'default'}}}",
		  NULL, "" },
		{ "custom type", "{'type':'example.com/thing'}", NULL, "" },
	};
	RUN_CASES(resource_secrets, secret_base, V_CREATE, cases);
	static const struct vcase updates[] = {
		{ "data", "{'data':{'a':'Mg=='}}", NULL, "" },
		{ "type", "{'type':'example.com/other'}", NULL, "type=Invalid~immutable" },
		{ "immutable data", "{'immutable':true,'data':{'a':'Mg=='}}", "{'immutable':true}",
		  "data=Forbidden" },
		{ "immutable reverted", NULL, "{'immutable':true}", "immutable=Forbidden" },
	};
	RUN_CASES(resource_secrets, secret_base, V_UPDATE, updates);

	struct api_ctx ctx = test_ctx(&resource_secrets);
	/* 4/3 MiB of base64 is 1 MiB of data; 4 more characters are 3 more bytes. */
	static const size_t sizes[] = { 1024 * 1024 / 3 * 4, 1024 * 1024 / 3 * 4 + 4 };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_json_ json_t *obj = with_big_value(secret_base, "data", sizes[i]);
		struct field_errors fe = { 0 };
		resource_secrets.validate(&ctx, obj, NULL, &fe);
		expect_errors("Secret size", &fe, i ? "data=TooLong" : "");
		field_errors_release(&fe);
	}
}

/* ---- events, leases, namespaces, service accounts ------------------------ */

static const char event_base[] =
    "{'apiVersion':'v1','kind':'Event','metadata':{'name':'p.1','namespace':'default'},"
    "'involvedObject':{'kind':'Pod','name':'p','namespace':'default'},'reason':'Started','message':"
    "'m',"
    "'type':'Normal','source':{'component':'kubelet'}}";

static void test_events(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", NULL, NULL, "" },
		{ "any type", "{'type':'Curious'}", NULL, "" },
		{ "namespace mismatch", "{'involvedObject':{'namespace':'other'}}", NULL,
		  "involvedObject.namespace=Invalid" },
		{ "cluster object",
		  "{'involvedObject':{'kind':'Node','name':'n1','namespace':null}}", NULL, "" },
		{ "cluster object elsewhere",
		  "{'metadata':{'namespace':'kube-system'},'involvedObject':{'kind':'Node','name':'"
		  "n1','namespace':null}}",
		  NULL, "involvedObject.namespace=Invalid" },
		{ "new-style event",
		  "{'eventTime':'2024-01-01T00:00:00.000000Z','reportingComponent':'example.com/"
		  "ctrl','reportingInstance':'ctrl-1',"
		  "'action':'Sync'}",
		  NULL, "" },
		{ "new-style event fields",
		  "{'eventTime':'2024-01-01T00:00:00.000000Z','reason':null}", NULL,
		  "reportingComponent=Required;reportingComponent=Invalid;reportingInstance="
		  "Required;action=Required;reason=Required" },
		{ "new-style cluster event",
		  "{'eventTime':'2024-01-01T00:00:00.000000Z','reportingComponent':'k','"
		  "reportingInstance':'i','action':'a',"
		  "'metadata':{'namespace':'kube-system'},'involvedObject':{'namespace':null}}",
		  NULL, "" },
	};
	RUN_CASES(resource_events, event_base, V_CREATE, cases);
}

static const char lease_base[] =
    "{'apiVersion':'coordination.k8s.io/"
    "v1','kind':'Lease','metadata':{'name':'n1','namespace':'kube-node-lease'},"
    "'spec':{'holderIdentity':'n1','leaseDurationSeconds':40}}";

static void test_leases(void **state)
{
	static const struct vcase cases[] = {
		{ "valid", "{'spec':{'leaseTransitions':3}}", NULL, "" },
		{ "duration", "{'spec':{'leaseDurationSeconds':0}}", NULL,
		  "spec.leaseDurationSeconds=Invalid" },
		{ "transitions", "{'spec':{'leaseTransitions':-1}}", NULL,
		  "spec.leaseTransitions=Invalid" },
		{ "strategy", "{'spec':{'strategy':'Newest'}}", NULL,
		  "spec.strategy=NotSupported" },
		{ "preferred holder needs a strategy", "{'spec':{'preferredHolder':'n2'}}", NULL,
		  "spec.preferredHolder=Forbidden" },
		{ "preferred holder",
		  "{'spec':{'preferredHolder':'n2','strategy':'OldestEmulationVersion'}}", NULL,
		  "" },
	};
	RUN_CASES(resource_leases, lease_base, V_CREATE, cases);
}

static const char ns_base[] = "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'team-a'}}";

static void test_namespaces(void **state)
{
	static const struct dcase defaults[] = {
		{ "name label and phase", NULL,
		  "metadata.labels={'kubernetes.io/"
		  "metadata.name':'team-a'};status.phase='Active'" },
	};
	RUN_DEFAULTS(resource_namespaces, ns_base, defaults);
	static const struct vcase create[] = { { "valid", NULL, NULL, "" } };
	RUN_CASES(resource_namespaces, ns_base, V_CREATE, create);
	static const struct vcase finalize[] = {
		{ "finalizers",
		  "{'spec':{'finalizers':['kubernetes','example.com/cleanup','cleanup','a b/c']}}",
		  NULL, "spec.finalizers[2]=Invalid~standard;spec.finalizers[3]=Invalid" },
		{ "no new finalizers while deleting",
		  "{'spec':{'finalizers':['kubernetes','example.com/x']}}",
		  "{'metadata':{'deletionTimestamp':'2024-01-01T00:00:00Z'},'spec':{'finalizers':['"
		  "kubernetes']}}",
		  "spec.finalizers=Forbidden" },
	};
	RUN_CASES(resource_namespaces, ns_base, V_SUBRESOURCE, finalize);
	static const struct vcase status[] = {
		{ "active", "{'status':{'phase':'Active'}}", NULL, "" },
		{ "terminating too early", "{'status':{'phase':'Terminating'}}", NULL,
		  "status.Phase=Invalid" },
		{ "still active while deleting", "{'status':{'phase':'Active'}}",
		  "{'metadata':{'deletionTimestamp':'2024-01-01T00:00:00Z'}}",
		  "status.Phase=Invalid~Terminating" },
	};
	RUN_CASES(resource_namespaces, ns_base, V_STATUS, status);
}

static void test_service_accounts(void **state)
{
	/* Only the object metadata (meta.c) is checked for service accounts. */
	assert_null(resource_serviceaccounts.validate);
	assert_null(resource_serviceaccounts.defaults);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_defaults),
		cmocka_unit_test(test_service_create),
		cmocka_unit_test(test_service_update),
		cmocka_unit_test(test_service_status),
		cmocka_unit_test(test_deployment_defaults),
		cmocka_unit_test(test_deployment_create),
		cmocka_unit_test(test_deployment_update),
		cmocka_unit_test(test_replicaset),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_configmaps),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_leases),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_service_accounts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
