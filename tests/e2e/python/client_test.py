#!/usr/bin/python3
"""The official Kubernetes Python client against a c8s server.

Run by tests/e2e/python_client.bats with /usr/bin/python3 (Debian's
python3-kubernetes) and KUBECONFIG pointing at the server's admin
kubeconfig; each test method can be run alone:

    /usr/bin/python3 client_test.py ClientTest.test_pods_crud

Every test works in its own namespace and checks the values the server
returns, not only that calls succeed.
"""

import json
import os
import threading
import time
import unittest
import warnings

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def pod_body(name, labels=None, image="busybox:1.36"):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": image,
                                 "env": [{"name": "MODE", "value": "fast"}]}]},
    }


def deployment_body(name, replicas=2, image="nginx:1.25"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": image,
                     "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "value": "1"}]},
                    {"name": "log", "image": "busybox:1.36"}]},
            },
        },
    }


class merge_patch:
    """Within the block, PATCH requests of API object `api` are JSON merge
    patches (the client sends strategic merge patches for dicts)."""

    def __init__(self, api):
        self.api_client = api.api_client

    def __enter__(self):
        self.api_client.select_header_content_type = \
            lambda types: "application/merge-patch+json"

    def __exit__(self, *exc):
        del self.api_client.select_header_content_type


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the client leaves pooled TLS sockets open at exit
        warnings.simplefilter("ignore", ResourceWarning)
        config.load_kube_config(config_file=os.environ["KUBECONFIG"])
        cls.core = client.CoreV1Api()
        cls.apps = client.AppsV1Api()

    def namespace(self, name):
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name}})
        return name

    def assertApiError(self, status, reason, fn, *args, **kwargs):
        with self.assertRaises(ApiException) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.status, status, cm.exception.body)
        body = json.loads(cm.exception.body)
        self.assertEqual([body.get(k) for k in ("kind", "status", "code", "reason")],
                         ["Status", "Failure", status, reason], body)
        return body

    # -- pods ---------------------------------------------------------------

    def test_pods_crud(self):
        """list, create, read, merge and strategic patch, delete pods"""
        ns = self.namespace("py-pods")
        created = self.core.create_namespaced_pod(ns, pod_body("p1", {"app": "x"}))
        self.assertIsInstance(created, client.V1Pod)
        self.assertEqual(created.metadata.namespace, ns)
        self.assertTrue(created.metadata.uid)
        self.assertEqual(created.spec.containers[0].image, "busybox:1.36")
        # defaults filled by the server
        self.assertEqual(created.spec.restart_policy, "Always")
        self.assertEqual(created.spec.containers[0].image_pull_policy, "IfNotPresent")
        self.assertEqual(created.status.phase, "Pending")
        self.core.create_namespaced_pod(ns, pod_body("p2", {"app": "y"}))

        pods = self.core.list_namespaced_pod(ns)
        self.assertEqual(sorted(p.metadata.name for p in pods.items), ["p1", "p2"])
        self.assertTrue(pods.metadata.resource_version)
        only = self.core.list_namespaced_pod(ns, label_selector="app=x")
        self.assertEqual([p.metadata.name for p in only.items], ["p1"])
        by_field = self.core.list_namespaced_pod(ns, field_selector="metadata.name=p2")
        self.assertEqual([p.metadata.name for p in by_field.items], ["p2"])
        everywhere = self.core.list_pod_for_all_namespaces(label_selector="app=y")
        self.assertEqual([(p.metadata.namespace, p.metadata.name) for p in everywhere.items],
                         [(ns, "p2")])

        got = self.core.read_namespaced_pod("p1", ns)
        self.assertEqual(got.metadata.uid, created.metadata.uid)

        # strategic merge patch (the client's default for a dict): the
        # container is found by name, its other fields are kept
        patched = self.core.patch_namespaced_pod("p1", ns, {
            "metadata": {"labels": {"tier": "web"}},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.37"}]}})
        self.assertEqual(patched.metadata.labels, {"app": "x", "tier": "web"})
        self.assertEqual(patched.spec.containers[0].image, "busybox:1.37")
        self.assertEqual([(e.name, e.value) for e in patched.spec.containers[0].env],
                         [("MODE", "fast")])
        # a pod's other spec fields cannot change: 422 Invalid
        self.assertApiError(422, "Invalid", self.core.patch_namespaced_pod, "p1", ns, {
            "spec": {"containers": [{"name": "app", "env": [{"name": "EXTRA", "value": "1"}]}]}})
        # merge patch: a list is replaced, null deletes a key
        with merge_patch(self.core):
            patched = self.core.patch_namespaced_pod("p1", ns, {
                "metadata": {"labels": {"tier": None}, "annotations": {"note": "merged"}}})
        self.assertEqual(patched.metadata.labels, {"app": "x"})
        self.assertEqual(patched.metadata.annotations, {"note": "merged"})
        self.assertGreater(int(patched.metadata.resource_version),
                           int(got.metadata.resource_version))
        # a JSON patch (a list body)
        patched = self.core.patch_namespaced_pod("p1", ns, [
            {"op": "add", "path": "/metadata/labels/json", "value": "yes"}])
        self.assertEqual(patched.metadata.labels, {"app": "x", "json": "yes"})

        self.core.delete_namespaced_pod("p1", ns)
        self.assertApiError(404, "NotFound", self.core.read_namespaced_pod, "p1", ns)
        self.core.delete_collection_namespaced_pod(ns, label_selector="app=y")
        self.assertEqual(self.core.list_namespaced_pod(ns).items, [])

    # -- deployments --------------------------------------------------------

    def test_deployments_crud(self):
        """create, list, patch (strategic and merge), scale, delete deployments"""
        ns = self.namespace("py-deploy")
        d = self.apps.create_namespaced_deployment(ns, deployment_body("web"))
        self.assertIsInstance(d, client.V1Deployment)
        self.assertEqual(d.spec.replicas, 2)
        self.assertEqual(d.spec.strategy.type, "RollingUpdate")
        self.assertEqual(d.spec.strategy.rolling_update.max_surge, "25%")
        self.assertEqual(d.spec.revision_history_limit, 10)
        self.assertEqual(d.metadata.generation, 1)

        lst = self.apps.list_namespaced_deployment(ns)
        self.assertEqual([x.metadata.name for x in lst.items], ["web"])

        # strategic: one container's image by name, the other kept
        d = self.apps.patch_namespaced_deployment("web", ns, {
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}})
        self.assertEqual([(c.name, c.image) for c in d.spec.template.spec.containers],
                         [("web", "nginx:1.26"), ("log", "busybox:1.36")])
        self.assertEqual(d.spec.template.spec.containers[0].ports[0].container_port, 80)
        self.assertEqual(d.metadata.generation, 2)
        # strategic $patch: delete on a container
        d = self.apps.patch_namespaced_deployment("web", ns, {
            "spec": {"template": {"spec": {"containers": [{"name": "log", "$patch": "delete"}]}}}})
        self.assertEqual([c.name for c in d.spec.template.spec.containers], ["web"])
        # merge patch replaces the containers list
        with merge_patch(self.apps):
            d = self.apps.patch_namespaced_deployment("web", ns, {
                "spec": {"template": {"spec": {"containers": [{"name": "solo", "image": "busybox:1.37"}]}}}})
        self.assertEqual([(c.name, c.image) for c in d.spec.template.spec.containers],
                         [("solo", "busybox:1.37")])

        # the scale subresource
        scale = self.apps.read_namespaced_deployment_scale("web", ns)
        self.assertIsInstance(scale, client.V1Scale)
        self.assertEqual((scale.spec.replicas, scale.status.selector), (2, "app=web"))
        with merge_patch(self.apps):
            scale = self.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})
        self.assertEqual(scale.spec.replicas, 5)
        self.assertEqual(self.apps.read_namespaced_deployment("web", ns).spec.replicas, 5)

        # replace with the read object (optimistic concurrency on resourceVersion)
        cur = self.apps.read_namespaced_deployment("web", ns)
        cur.spec.replicas = 1
        rep = self.apps.replace_namespaced_deployment("web", ns, cur)
        self.assertEqual(rep.spec.replicas, 1)

        self.apps.delete_namespaced_deployment("web", ns, propagation_policy="Background")
        self.assertApiError(404, "NotFound", self.apps.read_namespaced_deployment, "web", ns)

    # -- watch --------------------------------------------------------------

    def watch_changes(self, list_fn, ns, changes, stop_when):
        """Start a watch from the current list resourceVersion in a thread,
        make the changes, and return the (type, name) events it saw."""
        rv = list_fn(ns).metadata.resource_version
        seen, w = [], watch.Watch()
        done = threading.Event()

        def run():
            try:
                for ev in w.stream(list_fn, ns, resource_version=rv, timeout_seconds=30):
                    seen.append((ev["type"], ev["object"].metadata.name, ev["object"]))
                    if stop_when(seen):
                        break
            finally:
                done.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        changes()
        self.assertTrue(done.wait(30), "watch saw only %r" % [(a, b) for a, b, _ in seen])
        w.stop()
        return seen

    def test_watch_pods(self):
        """a pod watch sees ADDED, MODIFIED and DELETED for the script's changes"""
        ns = self.namespace("py-watch")

        def changes():
            self.core.create_namespaced_pod(ns, pod_body("w1"))
            self.core.patch_namespaced_pod("w1", ns, {"metadata": {"labels": {"step": "two"}}})
            self.core.delete_namespaced_pod("w1", ns)

        seen = self.watch_changes(self.core.list_namespaced_pod, ns, changes,
                                  lambda s: s[-1][0] == "DELETED")
        self.assertEqual([(t, n) for t, n, _ in seen],
                         [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")])
        # the objects are typed, and each carries its own resourceVersion
        self.assertIsInstance(seen[1][2], client.V1Pod)
        self.assertEqual(seen[1][2].metadata.labels, {"step": "two"})
        rvs = [int(o.metadata.resource_version) for _, _, o in seen]
        self.assertEqual(rvs, sorted(set(rvs)))

    def test_watch_deployments(self):
        """a deployment watch sees ADDED, MODIFIED (a scale) and DELETED"""
        ns = self.namespace("py-watchd")

        def changes():
            self.apps.create_namespaced_deployment(ns, deployment_body("wd", replicas=1))
            with merge_patch(self.apps):
                self.apps.patch_namespaced_deployment_scale("wd", ns, {"spec": {"replicas": 3}})
            self.apps.delete_namespaced_deployment("wd", ns)

        seen = self.watch_changes(self.apps.list_namespaced_deployment, ns, changes,
                                  lambda s: s[-1][0] == "DELETED")
        types = [t for t, _, _ in seen]
        self.assertEqual(types[0], "ADDED")
        self.assertEqual(types[-1], "DELETED")
        self.assertIn("MODIFIED", types)
        modified = [o for t, _, o in seen if t == "MODIFIED"]
        self.assertEqual(modified[0].spec.replicas, 3)
        self.assertEqual({n for _, n, _ in seen}, {"wd"})

    # -- errors -------------------------------------------------------------

    def test_errors(self):
        """errors surface as ApiException with the status: 404, 409, 422"""
        ns = self.namespace("py-errors")
        st = self.assertApiError(404, "NotFound", self.core.read_namespaced_pod, "nope", ns)
        self.assertEqual(st["message"], 'pods "nope" not found')
        self.assertEqual((st["details"]["name"], st["details"]["kind"]), ("nope", "pods"))
        self.assertApiError(404, "NotFound", self.apps.read_namespaced_deployment, "nope", ns)
        self.assertApiError(404, "NotFound", self.core.create_namespaced_pod, "no-such-ns", pod_body("x"))

        self.core.create_namespaced_pod(ns, pod_body("dup"))
        st = self.assertApiError(409, "AlreadyExists", self.core.create_namespaced_pod, ns, pod_body("dup"))
        self.assertEqual(st["message"], 'pods "dup" already exists')
        # a stale resourceVersion on replace
        old = self.core.read_namespaced_pod("dup", ns)
        self.core.patch_namespaced_pod("dup", ns, {"metadata": {"labels": {"v": "2"}}})
        old.metadata.labels = {"v": "stale"}
        st = self.assertApiError(409, "Conflict", self.core.replace_namespaced_pod, "dup", ns, old)
        self.assertIn("the object has been modified", st["message"])
        self.assertEqual(self.core.read_namespaced_pod("dup", ns).metadata.labels, {"v": "2"})

        st = self.assertApiError(422, "Invalid", self.core.create_namespaced_pod, ns, pod_body("Bad_Name"))
        self.assertEqual(st["details"]["causes"][0]["field"], "metadata.name")
        bad = deployment_body("neg")
        bad["spec"]["replicas"] = -1
        st = self.assertApiError(422, "Invalid", self.apps.create_namespaced_deployment, ns, bad)
        self.assertEqual([c["field"] for c in st["details"]["causes"]], ["spec.replicas"])
        # a JSON patch whose path is missing
        self.assertApiError(422, "Invalid", self.core.patch_namespaced_pod, "dup", ns,
                            [{"op": "replace", "path": "/spec/nope/x", "value": 1}])
        # a strategic merge patch whose list item lacks the merge key
        self.assertApiError(400, "BadRequest", self.core.patch_namespaced_pod, "dup", ns,
                            {"spec": {"containers": [{"image": "x"}]}})
        self.assertEqual(self.core.read_namespaced_pod("dup", ns).spec.containers[0].image, "busybox:1.36")

    # -- reading every kind -------------------------------------------------

    def test_list_every_kind(self):
        """the client's typed models read every list the server serves"""
        ns = self.namespace("py-kinds")
        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"k": "v"}})
        self.core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
        self.core.create_namespaced_service(ns, {"metadata": {"name": "svc"},
                                                 "spec": {"type": "NodePort", "selector": {"app": "x"},
                                                          "ports": [{"port": 80, "targetPort": 8080}]}})
        self.apps.create_namespaced_deployment(ns, deployment_body("d"))
        sec = self.core.read_namespaced_secret("s", ns)
        self.assertEqual(sec.data, {"k": "dg=="})
        svc = self.core.read_namespaced_service("svc", ns)
        self.assertEqual((svc.spec.type, svc.spec.ports[0].port, svc.spec.ports[0].target_port), ("NodePort", 80, 8080))
        self.assertTrue(30000 <= svc.spec.ports[0].node_port <= 32767)
        lists = {
            "namespaces": self.core.list_namespace(),
            "nodes": self.core.list_node(),
            "pods": self.core.list_pod_for_all_namespaces(),
            "services": self.core.list_service_for_all_namespaces(),
            "endpoints": self.core.list_endpoints_for_all_namespaces(),
            "events": self.core.list_event_for_all_namespaces(),
            "configmaps": self.core.list_config_map_for_all_namespaces(),
            "secrets": self.core.list_secret_for_all_namespaces(),
            "serviceaccounts": self.core.list_service_account_for_all_namespaces(),
            "deployments": self.apps.list_deployment_for_all_namespaces(),
            "replicasets": self.apps.list_replica_set_for_all_namespaces(),
            "leases": client.CoordinationV1Api().list_lease_for_all_namespaces(),
            "endpointslices": client.DiscoveryV1Api().list_endpoint_slice_for_all_namespaces(),
        }
        for name, lst in lists.items():
            self.assertTrue(lst.metadata.resource_version, name)
        names = {n.metadata.name for n in lists["namespaces"].items}
        self.assertTrue({"default", "kube-system", ns} <= names)
        self.assertIn(("default", "kubernetes"),
                      {(s.metadata.namespace, s.metadata.name) for s in lists["services"].items})
        self.assertIn((ns, "d"), {(d.metadata.namespace, d.metadata.name) for d in lists["deployments"].items})
        # the server's Created event for the deployment, read through both event APIs
        deadline = time.time() + 20
        while True:
            evs = self.core.list_namespaced_event(
                ns, field_selector="involvedObject.kind=Deployment,involvedObject.name=d").items
            if evs or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual([(e.reason, e.type, e.involved_object.name) for e in evs], [("Created", "Normal", "d")])
        # events.k8s.io/v1 serves the same event; read untyped, because this
        # client's EventsV1Event insists on an eventTime that core events
        # (upstream's too) do not have
        raw = client.EventsV1Api().list_namespaced_event(ns, _preload_content=False)
        evs2 = json.loads(raw.data)["items"]
        self.assertIn(("Created", "d", "Deployment"),
                      {(e["reason"], e["regarding"]["name"], e["regarding"]["kind"]) for e in evs2})


if __name__ == "__main__":
    unittest.main(verbosity=2)
