/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "apiserver/schema.h"
#include "lib/json.h"
#include "lib/strbuf.h"

static const char test_def[] =
    "# Test types: a subset of the Kubernetes API, plus one type of every kind.\n"
    "package io.k8s.apimachinery.pkg.apis.meta.v1\n"
    "type ObjectMeta \"Standard object metadata.\"\n"
    "  name                       string 1 \"Unique name within the namespace.\"\n"
    "  generateName               string 2 \"Prefix for a server-generated name.\"\n"
    "  namespace                  string 3 \"Namespace of the object.\"\n"
    "  uid                        string 5 ro \"Unique id.\"\n"
    "  resourceVersion            string 6 ro \"Version for optimistic concurrency.\"\n"
    "  generation                 int64  7 ro \"Generation of the desired state.\"\n"
    "  creationTimestamp          time   8 ro \"When the object was created.\"\n"
    "  deletionTimestamp          time   9 ro \"When the object will be deleted.\"\n"
    "  deletionGracePeriodSeconds int64  10 opt ro \"Grace period for deletion.\"\n"
    "  labels                     map[string] 11 \"Labels.\"\n"
    "  annotations                map[string] 12 \"Annotations.\"\n"
    "  ownerReferences            []OwnerReference 13 merge=uid listmap=uid \"Owners.\"\n"
    "  finalizers                 []string 14 set \"Finalizers.\"\n"
    "  managedFields              []ManagedFieldsEntry 17 atomic \"Field ownership.\"\n"
    "\n"
    "type LabelSelector \"A label query.\"\n"
    "  matchLabels      map[string] 1 \"Exact matches.\"\n"
    "  matchExpressions []LabelSelectorRequirement 2 atomic \"Expressions.\"\n"
    "type LabelSelectorRequirement \"One selector expression.\"\n"
    "  key      string 1 req \"Label key.\"\n"
    "  operator string 2 req enum=In|NotIn|Exists|DoesNotExist \"Operator.\"\n"
    "  values   []string 3 atomic \"Values.\"\n"
    "type OwnerReference \"An owner of an object.\"\n"
    "  apiVersion         string 5 req \"API version of the owner.\"\n"
    "  kind               string 1 req \"Kind of the owner.\"\n"
    "  name               string 3 req \"Name of the owner.\"\n"
    "  uid                string 4 req \"UID of the owner.\"\n"
    "  controller         bool 6 opt \"Whether the owner is the managing controller.\"\n"
    "  blockOwnerDeletion bool 7 opt \"Whether the owner's deletion waits for this object.\"\n"
    "type ManagedFieldsEntry \"Fields a manager owns.\"\n"
    "  manager    string 1 \"Manager.\"\n"
    "  operation  string 2 \"Operation.\"\n"
    "  apiVersion string 3 \"Version.\"\n"
    "  time       time 4 \"When.\"\n"
    "  fieldsType string 6 \"Format of fieldsV1.\"\n"
    "  fieldsV1   object 7 \"The fields.\"\n"
    "\n"
    "package io.k8s.api.core.v1\n"
    "type Namespace \"A scope for names.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  spec       NamespaceSpec 2 \"Desired state.\"\n"
    "  status     NamespaceStatus 3 ro \"Observed state.\"\n"
    "type NamespaceSpec \"What a namespace is.\"\n"
    "  finalizers []string 1 set \"Finalizers.\"\n"
    "type NamespaceStatus \"What a namespace is doing.\"\n"
    "  phase string 1 enum=Active|Terminating \"Phase.\"\n"
    "type ConfigMap \"Configuration data.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  immutable  bool 4 opt \"Whether data can change.\"\n"
    "  data       map[string] 2 \"UTF-8 data.\"\n"
    "  binaryData map[bytes] 3 \"Binary data.\"\n"
    "type PodTemplateSpec \"A pod to create.\"\n"
    "  metadata ObjectMeta 1 \"Metadata.\"\n"
    "  spec     PodSpec 2 \"Pod spec.\"\n"
    "type PodSpec \"What a pod runs.\"\n"
    "  containers                    []Container 2 req merge=name listmap=name \"Containers.\"\n"
    "  restartPolicy                 string 3 enum=Always|OnFailure|Never \"Restart policy.\"\n"
    "  terminationGracePeriodSeconds int64 4 opt \"Grace period.\"\n"
    "  dnsPolicy                     string 6 \"DNS policy.\"\n"
    "  nodeSelector                  map[string] 7 \"Node labels.\"\n"
    "  schedulerName                 string 19 \"Scheduler.\"\n"
    "type Container \"A container.\"\n"
    "  name                     string 1 req \"Name.\"\n"
    "  image                    string 2 \"Image.\"\n"
    "  command                  []string 3 atomic \"Entrypoint.\"\n"
    "  args                     []string 4 atomic \"Arguments.\"\n"
    "  ports                    []ContainerPort 6 merge=containerPort "
    "listmap=containerPort,protocol \"Ports.\"\n"
    "  resources                ResourceRequirements 8 \"Resources.\"\n"
    "  terminationMessagePath   string 13 \"Message path.\"\n"
    "  terminationMessagePolicy string 20 \"Message policy.\"\n"
    "  imagePullPolicy          string 14 enum=Always|Never|IfNotPresent \"Pull policy.\"\n"
    "type ContainerPort \"A port.\"\n"
    "  name          string 1 \"Port name.\"\n"
    "  hostPort      int32 2 \"Host port.\"\n"
    "  containerPort int32 3 req \"Container port.\"\n"
    "  protocol      string 4 enum=TCP|UDP|SCTP \"Protocol.\"\n"
    "  hostIP        string 5 \"Host IP.\"\n"
    "type ResourceRequirements \"Compute resources.\"\n"
    "  limits   map[quantity] 1 \"Limits.\"\n"
    "  requests map[quantity] 2 \"Requests.\"\n"
    "type Service \"A network service.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  spec       ServiceSpec 2 \"Spec.\"\n"
    "type ServiceSpec \"What a service is.\"\n"
    "  ports     []ServicePort 1 merge=port listmap=port,protocol \"Ports.\"\n"
    "  selector  map[string] 2 \"Selector.\"\n"
    "  clusterIP string 3 \"Cluster IP.\"\n"
    "  type      string 4 \"Type.\"\n"
    "type ServicePort \"A service port.\"\n"
    "  name       string 1 \"Name.\"\n"
    "  protocol   string 2 \"Protocol.\"\n"
    "  port       int32 3 req \"Port.\"\n"
    "  targetPort intorstring 4 \"Target port.\"\n"
    "  nodePort   int32 5 \"Node port.\"\n"
    "type ResourceQuota \"Limits per namespace.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  spec       ResourceQuotaSpec 2 \"Spec.\"\n"
    "type ResourceQuotaSpec \"Hard limits.\"\n"
    "  hard map[quantity] 1 \"Hard limits.\"\n"
    "\n"
    "package io.k8s.api.apps.v1\n"
    "type Deployment \"Replicated pods, rolled out.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  spec       DeploymentSpec 2 \"Spec.\"\n"
    "  status     DeploymentStatus 3 ro \"Status.\"\n"
    "type DeploymentSpec \"Desired deployment.\"\n"
    "  replicas                int32 1 opt \"Desired pods.\"\n"
    "  selector                LabelSelector 2 req \"Pod selector.\"\n"
    "  template                PodTemplateSpec 3 req \"Pod template.\"\n"
    "  strategy                DeploymentStrategy 4 retainkeys \"Strategy.\"\n"
    "  minReadySeconds         int32 5 \"Minimum ready time.\"\n"
    "  revisionHistoryLimit    int32 6 opt \"Old ReplicaSets kept.\"\n"
    "  paused                  bool 7 \"Paused.\"\n"
    "  progressDeadlineSeconds int32 9 opt \"Progress deadline.\"\n"
    "type DeploymentStrategy \"How to replace pods.\"\n"
    "  type          string 1 enum=Recreate|RollingUpdate \"Type.\"\n"
    "  rollingUpdate RollingUpdateDeployment 2 \"Rolling update parameters.\"\n"
    "type RollingUpdateDeployment \"Rolling update parameters.\"\n"
    "  maxUnavailable intorstring 1 opt \"Max unavailable.\"\n"
    "  maxSurge       intorstring 2 opt \"Max surge.\"\n"
    "type DeploymentStatus \"Observed deployment.\"\n"
    "  observedGeneration int64 1 \"Observed generation.\"\n"
    "  replicas           int32 2 \"Pods.\"\n"
    "  updatedReplicas    int32 3 \"Updated pods.\"\n"
    "  readyReplicas      int32 7 \"Ready pods.\"\n"
    "  availableReplicas  int32 4 \"Available pods.\"\n"
    "  conditions         []DeploymentCondition 6 merge=type listmap=type \"Conditions.\"\n"
    "  collisionCount     int32 8 opt \"Collisions.\"\n"
    "type DeploymentCondition \"A condition.\"\n"
    "  type               string 1 req \"Type.\"\n"
    "  status             string 2 req \"Status.\"\n"
    "  lastUpdateTime     time 6 \"Last update.\"\n"
    "  lastTransitionTime time 7 \"Last transition.\"\n"
    "  reason             string 4 \"Reason.\"\n"
    "  message            string 5 \"Message.\"\n"
    "\n"
    "package io.k8s.api.policy.v1\n"
    "type PodDisruptionBudget \"Limits voluntary disruption.\"\n"
    "  apiVersion string - \"Schema version.\"\n"
    "  kind       string - \"Kind.\"\n"
    "  metadata   ObjectMeta 1 \"Metadata.\"\n"
    "  spec       PodDisruptionBudgetSpec 2 \"Spec.\"\n"
    "type PodDisruptionBudgetSpec \"Budget.\"\n"
    "  minAvailable   intorstring 1 opt \"Minimum available.\"\n"
    "  selector       LabelSelector 2 \"Selector.\"\n"
    "  maxUnavailable intorstring 3 opt \"Maximum unavailable.\"\n"
    "\n"
    "package io.c8s.test.v1\n"
    "type Kitchen openapi=io.c8s.test.Sink go=test.Sink \"Every kind: \\\"all\\\" of them \\\\ "
    "here.\"\n"
    "  s      string 1 \"String.\"\n"
    "  i32    int32 2 \"Int32.\"\n"
    "  i64    int64 3 \"Int64.\"\n"
    "  b      bool 4 \"Bool.\"\n"
    "  d      double 5 \"Double.\"\n"
    "  raw    bytes 6 \"Bytes.\"\n"
    "  t      time 7 \"Time.\"\n"
    "  mt     microtime 8 \"MicroTime.\"\n"
    "  dur    duration 9 \"Duration.\"\n"
    "  q      quantity 10 \"Quantity.\"\n"
    "  ios    intorstring 11 \"IntOrString.\"\n"
    "  obj    object 12 \"Free-form.\"\n"
    "  next   Kitchen 13 opt \"Recursion.\"\n"
    "  ls     []string 14 \"Strings.\"\n"
    "  li     []int32 15 \"Int32s.\"\n"
    "  lm     []map[string] 16 \"Maps.\"\n"
    "  ml     map[[]string] 17 \"Lists.\"\n"
    "  mq     map[quantity] 18 \"Quantities.\"\n"
    "  oi     int32 19 opt \"Optional int32.\"\n"
    "  os     string 20 opt \"Optional string.\"\n"
    "  ob     bool 21 opt \"Optional bool.\"\n"
    "  ld     []double 22 \"Doubles.\"\n"
    "  lt     []time 23 \"Times.\"\n"
    "  mk     map[Kitchen] 24 \"Structs.\"\n"
    "  lk     []Kitchen 25 \"Struct list.\"\n"
    "  ll     [][]int64 26 \"Nested lists.\"\n";

static struct schema *test_schema;

static int setup(void **state)
{
	_cleanup_free_ char *err = NULL;
	int r = schema_parse(test_def, &test_schema, &err);
	if (r < 0)
		fprintf(stderr, "test schema: %s\n", err);
	return r < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	schema_free(test_schema);
	return 0;
}

static const struct schema_type *T(const char *name)
{
	const struct schema_type *t = schema_find_type(test_schema, name);
	assert_non_null(t);
	return t;
}

/* Compare a JSON value with expected JSON text, keys in order. */
static void assert_json(const json_t *v, const char *expected)
{
	_cleanup_free_ char *got = json_dump_compact(v, NULL);
	json_error_t jerr;
	_cleanup_json_ json_t *e = json_loads(expected, JSON_DECODE_ANY, &jerr);
	if (!e)
		fail_msg("bad expected JSON %s: %s", expected, jerr.text);
	_cleanup_free_ char *want = json_dump_compact(e, NULL);
	assert_string_equal(got, want);
}

static json_t *J(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	return v;
}

/* ---- parser ---- */

static void test_parse_types(void **state)
{
	const struct schema_type *om = T("ObjectMeta");
	assert_string_equal(om->openapi_name, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	assert_string_equal(om->go_name, "v1.ObjectMeta");
	assert_string_equal(om->description, "Standard object metadata.");
	assert_int_equal(om->nfields, 14);
	assert_string_equal(om->fields[0].name, "name");
	assert_string_equal(om->fields[13].name, "managedFields");

	/* Forward reference: OwnerReference is defined after ObjectMeta. */
	const struct schema_field *f = schema_field_by_name(om, "ownerReferences");
	assert_non_null(f);
	assert_int_equal(f->proto, 13);
	assert_int_equal(f->ref.kind, SK_LIST);
	assert_int_equal(f->ref.elem->kind, SK_STRUCT);
	assert_ptr_equal(f->ref.elem->type, T("OwnerReference"));
	assert_string_equal(f->merge_key, "uid");
	assert_true(f->flags & SF_LIST_MAP);
	assert_string_equal(f->listmap[0], "uid");
	assert_null(f->listmap[1]);

	f = schema_field_by_name(om, "labels");
	assert_int_equal(f->ref.kind, SK_MAP);
	assert_int_equal(f->ref.elem->kind, SK_STRING);
	f = schema_field_by_name(om, "deletionGracePeriodSeconds");
	assert_int_equal(f->flags, SF_OPTIONAL | SF_READONLY);
	assert_int_equal(f->ref.kind, SK_INT64);
	assert_true(schema_field_by_name(om, "finalizers")->flags & SF_LIST_SET);
	assert_true(schema_field_by_name(om, "managedFields")->flags & SF_LIST_ATOMIC);
	assert_null(schema_field_by_name(om, "nope"));
	assert_null(schema_field_by_name(om, ""));
	assert_null(schema_field_by_name(om, "Name"));

	/* Every field is found by name and by number. */
	for (size_t i = 0; i < om->nfields; i++) {
		assert_ptr_equal(schema_field_by_name(om, om->fields[i].name), &om->fields[i]);
		assert_ptr_equal(schema_field_by_proto(om, om->fields[i].proto), &om->fields[i]);
	}
	assert_null(schema_field_by_proto(om, 4));
	assert_null(schema_field_by_proto(om, 0));
	assert_null(schema_field_by_proto(om, -1));
	assert_null(schema_field_by_proto(om, 1000));

	const struct schema_type *ns = T("Namespace");
	f = schema_field_by_name(ns, "kind");
	assert_int_equal(f->flags, SF_NO_PROTO);
	assert_int_equal(f->proto, 0);
	assert_ptr_equal(schema_field_by_proto(ns, 1), schema_field_by_name(ns, "metadata"));

	f = schema_field_by_name(T("LabelSelectorRequirement"), "operator");
	assert_true(f->flags & SF_REQUIRED);
	assert_string_equal(f->enums[0], "In");
	assert_string_equal(f->enums[3], "DoesNotExist");
	assert_null(f->enums[4]);
	assert_true(schema_field_by_name(T("DeploymentSpec"), "strategy")->flags & SF_RETAIN_KEYS);

	/* openapi= and go= overrides; escapes in descriptions. */
	const struct schema_type *k = T("Kitchen");
	assert_string_equal(k->openapi_name, "io.c8s.test.Sink");
	assert_string_equal(k->go_name, "test.Sink");
	assert_string_equal(k->description, "Every kind: \"all\" of them \\ here.");
	f = schema_field_by_name(k, "ml");
	assert_int_equal(f->ref.kind, SK_MAP);
	assert_int_equal(f->ref.elem->kind, SK_LIST);
	assert_int_equal(f->ref.elem->elem->kind, SK_STRING);
	f = schema_field_by_name(k, "lm");
	assert_int_equal(f->ref.kind, SK_LIST);
	assert_int_equal(f->ref.elem->kind, SK_MAP);
	f = schema_field_by_name(k, "mk");
	assert_ptr_equal(f->ref.elem->type, k);
	assert_ptr_equal(schema_field_by_name(k, "next")->ref.type, k);
	assert_string_equal(schema_field_by_name(T("ContainerPort"), "containerPort")->description,
			    "Container port.");

	/* Iteration in definition order. */
	assert_ptr_equal(schema_type_at(test_schema, 0), om);
	size_t n = 0;
	while (schema_type_at(test_schema, n))
		n++;
	assert_ptr_equal(schema_type_at(test_schema, n - 1), k);
	assert_null(schema_find_type(test_schema, "Nope"));
	assert_null(schema_find_type(test_schema, "string"));
}

static void test_parse_sparse_proto(void **state)
{
	struct schema *s = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(schema_parse("package a.v2\n"
				      "type Big \"Sparse numbers.\"\n"
				      "  x string 1000 \"X.\"\n"
				      "  y string 7 \"Y.\"\n"
				      "  z string 536870911 \"Z.\"\n"
				      "  w string - \"W.\"\n"
				      "type Empty \"No fields.\"\n",
				      &s, &err),
			 0);
	const struct schema_type *t = schema_find_type(s, "Big");
	assert_string_equal(t->go_name, "v2.Big");
	assert_string_equal(t->openapi_name, "a.v2.Big");
	assert_string_equal(schema_field_by_proto(t, 1000)->name, "x");
	assert_string_equal(schema_field_by_proto(t, 7)->name, "y");
	assert_string_equal(schema_field_by_proto(t, 536870911)->name, "z");
	assert_null(schema_field_by_proto(t, 8));
	assert_null(schema_field_by_proto(t, 999));
	assert_null(schema_field_by_proto(t, 0));
	t = schema_find_type(s, "Empty");
	assert_int_equal(t->nfields, 0);
	assert_null(schema_field_by_name(t, "x"));
	assert_null(schema_field_by_proto(t, 1));
	schema_free(s);

	assert_int_equal(schema_parse("", &s, &err), 0);
	assert_null(schema_type_at(s, 0));
	schema_free(s);
	schema_free(NULL);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "package a.v1\ntype A \"a\"\n  x string 1 bogus \"x\"\n",
		  "line 3: unknown flag \"bogus\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"x\"\n\n# c\ntype A \"again\"\n",
		  "line 6: duplicate type \"A\" (first defined on line 2)" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"x\"\n  y int32 2 \"y\"\n  x bool 3 "
		  "\"x\"\n",
		  "line 5: duplicate field \"x\" in type \"A\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"x\"\n  y int32 2 \"y\"\n  z bool 1 "
		  "\"z\"\n",
		  "line 5: duplicate proto number 1 in type \"A\" (\"x\" and \"z\")" },
		{ "package a.v1\ntype A \"a\"\n  x string 1000 \"x\"\n  z bool 1000 \"z\"\n",
		  "line 4: duplicate proto number 1000 in type \"A\" (\"x\" and \"z\")" },
		{ "package a.v1\ntype A \"a\"\n  x B 1 \"x\"\ntype C \"c\"\n  y []D 1 \"y\"\n",
		  "line 3: undefined type \"B\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"x\"\n  y map[[]Nope] 2 \"y\"\n",
		  "line 4: undefined type \"Nope\"" },
		{ "  x string 1 \"x\"\n", "line 1: field line outside a type" },
		{ "package a.v1\ntype A \"a\"\npackage b.v1\n  x string 1 \"x\"\n",
		  "line 4: field line outside a type" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"unterminated\n",
		  "line 3: unterminated description" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"bad \\n escape\"\n",
		  "line 3: bad escape in description (only \\\" and \\\\)" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 \"x\" trailing\n",
		  "line 3: unexpected text after the description" },
		{ "package a.v1\ntype A \"a\"\n  x string 1\n",
		  "line 3: field \"x\" has no description" },
		{ "package a.v1\ntype A \"a\"\n  x string \"x\"\n",
		  "line 3: a field needs a name, a type and a proto number" },
		{ "package a.v1\ntype A \"a\"\n  x string 0 \"x\"\n",
		  "line 3: bad proto number \"0\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1x \"x\"\n",
		  "line 3: bad proto number \"1x\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 536870912 \"x\"\n",
		  "line 3: bad proto number \"536870912\"" },
		{ "package a.v1\ntype A \"a\"\n  x map[string 1 \"x\"\n",
		  "line 3: bad type \"map[string\"" },
		{ "package a.v1\ntype A \"a\"\n  x [] 1 \"x\"\n", "line 3: bad type \"[]\"" },
		{ "package a.v1\ntype A \"a\"\n  x 9lives 1 \"x\"\n",
		  "line 3: bad type \"9lives\"" },
		{ "package a.v1\ntype A \"a\"\n  x []string 1 enum=A||B \"x\"\n",
		  "line 3: empty value in \"enum=A||B\"" },
		{ "package a.v1\ntype A \"a\"\n  x []string 1 merge= \"x\"\n",
		  "line 3: empty value in \"merge=\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 set \"x\"\n",
		  "line 3: merge=, listmap= and set apply to lists only" },
		{ "type A \"a\"\n", "line 1: type \"A\" before any package line" },
		{ "package a.v1\ntype A\n", "line 2: type \"A\" has no description" },
		{ "package a.v1\ntype A bogus=1 \"a\"\n",
		  "line 2: unknown type attribute \"bogus=1\"" },
		{ "package a.v1\ntype string \"a\"\n", "line 2: type name \"string\" is reserved" },
		{ "package a.v1\ntype A-B \"a\"\n", "line 2: bad type name \"A-B\"" },
		{ "package\n", "line 1: expected \"package <name>\"" },
		{ "package a.\n", "line 1: bad package name \"a.\"" },
		{ "struct A \"a\"\n", "line 1: unknown directive \"struct\"" },
		{ "package a.v1\ntype A \"a\"\n  x string 1 enum=\"A\" \"x\"\n",
		  "line 3: unexpected '\"' in \"enum=\"\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct schema *s = (struct schema *)0x1;
		char *err = NULL;
		int r = schema_parse(cases[i].text, &s, &err);
		if (r != -EINVAL || !err || strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu: r=%d err=%s, want %s", i, r, err ? err : "(null)",
				 cases[i].err);
		assert_ptr_equal(s, (struct schema *)0x1); /* untouched on failure */
		free(err);
	}
}

static void test_parse_comments_crlf(void **state)
{
	struct schema *s = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(schema_parse("# leading comment\r\n"
				      "package a.v1\r\n"
				      "type A \"a\"   \r\n"
				      "\r\n"
				      "  # indented comment\r\n"
				      "\tx\tstring\t1\topt\t\"tabs\"\r\n"
				      "  y string 2 \"\"",
				      &s, &err),
			 0);
	const struct schema_type *t = schema_find_type(s, "A");
	assert_int_equal(t->nfields, 2);
	assert_string_equal(t->fields[0].description, "tabs");
	assert_int_equal(t->fields[0].flags, SF_OPTIONAL);
	assert_string_equal(t->fields[1].description, "");
	schema_free(s);
}

/* ---- schema_check ---- */

static int check(const char *type, json_t *v, struct schema_report *rep)
{
	return schema_check(T(type), v, rep);
}

static void test_check_prune_unknown(void **state)
{
	_cleanup_json_ json_t *v =
	    J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	      "\"bogus\":1,"
	      "\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"},"
	      "\"nmae\":\"x\"},"
	      "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":["
	      "{\"name\":\"a\",\"image\":\"nginx\"},"
	      "{\"name\":\"b\",\"imagePullPolcy\":\"Always\",\"ports\":["
	      "{\"containerPort\":80,\"extra\":{\"deep\":1}}]}]}}}}");
	struct schema_report rep = { 0 };
	assert_int_equal(check("Deployment", v, &rep), 0);
	assert_null(rep.error);
	assert_int_equal(rep.nunknown, 4);
	assert_string_equal(rep.unknown[0], "bogus");
	assert_string_equal(rep.unknown[1], "metadata.nmae");
	assert_string_equal(rep.unknown[2], "spec.template.spec.containers[1].imagePullPolcy");
	assert_string_equal(rep.unknown[3], "spec.template.spec.containers[1].ports[0].extra");
	assert_null(rep.unknown[4]);
	assert_json(v, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
		       "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":["
		       "{\"name\":\"a\",\"image\":\"nginx\"},"
		       "{\"name\":\"b\",\"ports\":[{\"containerPort\":80}]}]}}}}");
	schema_report_release(&rep);
	assert_null(rep.unknown);
	assert_int_equal(rep.nunknown, 0);

	/* Unknown fields inside map values of struct type, and in nested lists. */
	_cleanup_json_ json_t *k = J("{\"mk\":{\"one\":{\"s\":\"x\",\"zz\":1}},"
				     "\"lk\":[{},{\"next\":{\"yy\":true}}]}");
	assert_int_equal(check("Kitchen", k, &rep), 0);
	assert_int_equal(rep.nunknown, 2);
	assert_string_equal(rep.unknown[0], "mk.one.zz");
	assert_string_equal(rep.unknown[1], "lk[1].next.yy");
	assert_json(k, "{\"mk\":{\"one\":{\"s\":\"x\"}},\"lk\":[{},{\"next\":{}}]}");
	schema_report_release(&rep);
}

static void test_check_type_errors(void **state)
{
	static const struct {
		const char *type, *json, *err;
	} cases[] = {
		{ "Deployment", "{\"spec\":{\"replicas\":\"3\"}}",
		  "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas "
		  "of "
		  "type int32" },
		{ "Deployment", "{\"spec\":{\"replicas\":3000000000}}",
		  "json: cannot unmarshal number 3000000000 into Go struct field "
		  "DeploymentSpec.spec.replicas of type int32" },
		{ "Deployment", "{\"spec\":{\"replicas\":-2147483649}}",
		  "json: cannot unmarshal number -2147483649 into Go struct field "
		  "DeploymentSpec.spec.replicas of type int32" },
		{ "Deployment", "{\"spec\":{\"replicas\":1.5}}",
		  "json: cannot unmarshal number 1.5 into Go struct field "
		  "DeploymentSpec.spec.replicas "
		  "of type int32" },
		{ "Deployment", "{\"spec\":{\"replicas\":1e300}}",
		  "json: cannot unmarshal number 1e+300 into Go struct field "
		  "DeploymentSpec.spec.replicas of type int32" },
		{ "Deployment", "{\"spec\":{\"paused\":\"yes\"}}",
		  "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused "
		  "of "
		  "type bool" },
		{ "Deployment", "{\"metadata\":{\"name\":5}}",
		  "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of "
		  "type "
		  "string" },
		{ "Deployment", "{\"metadata\":{\"labels\":{\"a\":true}}}",
		  "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of "
		  "type "
		  "string" },
		{ "Deployment", "{\"metadata\":{\"labels\":[]}}",
		  "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of "
		  "type map[string]string" },
		{ "Deployment", "{\"spec\":{\"template\":{\"spec\":{\"containers\":{}}}}}",
		  "json: cannot unmarshal object into Go struct field "
		  "PodSpec.spec.template.spec.containers of type []v1.Container" },
		{ "Deployment",
		  "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"},"
		  "{\"image\":[1]}]}}}}",
		  "json: cannot unmarshal array into Go struct field "
		  "Container.spec.template.spec.containers.image of type string" },
		{ "Deployment", "{\"spec\":{\"template\":\"x\"}}",
		  "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template "
		  "of "
		  "type v1.PodTemplateSpec" },
		{ "Deployment", "[]",
		  "json: cannot unmarshal array into Go value of type v1.Deployment" },
		{ "Deployment", "{\"metadata\":{\"generation\":1.0}}",
		  "json: cannot unmarshal number 1 into Go struct field "
		  "ObjectMeta.metadata.generation "
		  "of type int64" },
		{ "Deployment", "{\"metadata\":{\"finalizers\":[\"a\",2]}}",
		  "json: cannot unmarshal number into Go struct field "
		  "ObjectMeta.metadata.finalizers "
		  "of type string" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":5}}",
		  "json: cannot unmarshal number into Go struct field "
		  "ObjectMeta.metadata.creationTimestamp of type string" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"yesterday\"}}",
		  "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse "
		  "\"yesterday\" as \"2006\"" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"2024-13-01T00:00:00Z\"}}",
		  "parsing time \"2024-13-01T00:00:00Z\": month out of range" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"2023-02-29T00:00:00Z\"}}",
		  "parsing time \"2023-02-29T00:00:00Z\": day out of range" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"2024-01-01 00:00:00Z\"}}",
		  "parsing time \"2024-01-01 00:00:00Z\" as \"2006-01-02T15:04:05Z07:00\": cannot "
		  "parse \" 00:00:00Z\" as \"T\"" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"2024-01-01T00:00:00\"}}",
		  "parsing time \"2024-01-01T00:00:00\" as \"2006-01-02T15:04:05Z07:00\": cannot "
		  "parse \"\" as \"Z07:00\"" },
		{ "Deployment",
		  "{\"metadata\":{\"creationTimestamp\":\"2024-01-01T00:00:00Zjunk\"}}",
		  "parsing time \"2024-01-01T00:00:00Zjunk\": extra text: \"junk\"" },
		{ "Deployment", "{\"metadata\":{\"creationTimestamp\":\"2024-01-01T25:00:00Z\"}}",
		  "parsing time \"2024-01-01T25:00:00Z\": hour out of range" },
		{ "Kitchen", "{\"mt\":\"2024-01-01T00:00:00Z\"}",
		  "parsing time \"2024-01-01T00:00:00Z\" as \"2006-01-02T15:04:05.000000Z07:00\": "
		  "cannot parse \"Z\" as \".000000\"" },
		{ "Kitchen", "{\"dur\":\"5 minutes\"}",
		  "time: unknown unit \" minutes\" in duration \"5 minutes\"" },
		{ "Kitchen", "{\"dur\":\"5\"}", "time: missing unit in duration \"5\"" },
		{ "Kitchen", "{\"dur\":\"\"}", "time: invalid duration \"\"" },
		{ "Kitchen", "{\"dur\":\"99999999999h\"}",
		  "time: invalid duration \"99999999999h\"" },
		{ "Kitchen", "{\"dur\":30}",
		  "json: cannot unmarshal number into Go struct field Sink.dur of type string" },
		{ "Kitchen", "{\"raw\":\"aGVsbG8\"}", "illegal base64 data at input byte 4" },
		{ "Kitchen", "{\"raw\":\"aGV*bG8=\"}", "illegal base64 data at input byte 3" },
		{ "Kitchen", "{\"raw\":\"aGVsbG8=x\"}", "illegal base64 data at input byte 8" },
		{ "Kitchen", "{\"raw\":\"YQ==\\nYg==\"}", "illegal base64 data at input byte 5" },
		{ "Kitchen", "{\"raw\":\"YQ=\"}", "illegal base64 data at input byte 3" },
		{ "Kitchen", "{\"raw\":\"Y===\"}", "illegal base64 data at input byte 1" },
		{ "Kitchen", "{\"raw\":1}",
		  "json: cannot unmarshal number into Go struct field Sink.raw of type []uint8" },
		{ "Kitchen", "{\"q\":\"1mi\"}", "unable to parse quantity's suffix" },
		{ "Kitchen", "{\"q\":\"1e\"}", "unable to parse quantity's suffix" },
		{ "Kitchen", "{\"q\":\"1e99999999999999999999\"}",
		  "unable to parse quantity's suffix" },
		{ "Kitchen", "{\"q\":\"1Gb\"}",
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "Kitchen", "{\"q\":\"one\"}",
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "Kitchen", "{\"q\":true}",
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "Kitchen", "{\"mq\":{\"cpu\":\"\"}}",
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
		{ "Kitchen", "{\"ios\":true}",
		  "json: cannot unmarshal bool into Go struct field Sink.ios of type int32" },
		{ "Kitchen", "{\"ios\":4294967296}",
		  "json: cannot unmarshal number 4294967296 into Go struct field Sink.ios of type "
		  "int32" },
		{ "Kitchen", "{\"d\":\"1.5\"}",
		  "json: cannot unmarshal string into Go struct field Sink.d of type float64" },
		{ "Kitchen", "{\"next\":{\"next\":{\"li\":[1,\"2\"]}}}",
		  "json: cannot unmarshal string into Go struct field Sink.next.next.li of type "
		  "int32" },
		{ "Kitchen", "{\"ml\":{\"a\":[\"x\",{}]}}",
		  "json: cannot unmarshal object into Go struct field Sink.ml of type string" },
		{ "Kitchen", "{\"ml\":{\"a\":\"x\"}}",
		  "json: cannot unmarshal string into Go struct field Sink.ml of type []string" },
		{ "Kitchen", "{\"ll\":[[1],2]}",
		  "json: cannot unmarshal number into Go struct field Sink.ll of type []int64" },
		{ "Kitchen", "{\"mk\":{\"a\":{\"s\":\"x\",\"i32\":\"y\"}}}",
		  "json: cannot unmarshal string into Go struct field Sink.mk.i32 of type int32" },
		{ "Kitchen", "{\"lt\":[3]}",
		  "json: cannot unmarshal number into Go struct field Sink.lt of type string" },
		{ "Kitchen", "{\"lk\":7}",
		  "json: cannot unmarshal number into Go struct field Sink.lk of type "
		  "[]test.Sink" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *v = J(cases[i].json);
		struct schema_report rep = { 0 };
		int r = check(cases[i].type, v, &rep);
		if (r != -EINVAL || !rep.error || strcmp(rep.error, cases[i].err) != 0)
			fail_msg("case %zu (%s): r=%d\n got: %s\nwant: %s", i, cases[i].json, r,
				 rep.error ? rep.error : "(null)", cases[i].err);
		schema_report_release(&rep);
	}
}

static void test_check_valid_values(void **state)
{
	_cleanup_json_ json_t *v =
	    J("{\"s\":\"x\",\"i32\":-2147483648,\"i64\":9007199254740993,\"b\":false,"
	      "\"d\":1,\"raw\":\"aGVsbG8=\",\"t\":\"2024-02-29T23:59:59.5+01:00\","
	      "\"mt\":\"2024-01-01T00:00:00.123456Z\",\"dur\":\"1h2m3.5s\",\"q\":\" 100m \","
	      "\"ios\":\"50%\",\"obj\":{\"any\":[null,1,{\"x\":null}]},"
	      "\"ls\":[\"a\"],\"li\":[1,2],\"lm\":[{\"a\":\"b\"}],\"ml\":{\"k\":[\"v\"]},"
	      "\"mq\":{\"cpu\":2,\"memory\":\"1Gi\",\"x\":0.5,\"y\":1e3},"
	      "\"ld\":[1.5,2],\"lt\":[\"2024-01-01T00:00:00Z\"],\"ll\":[[1],[]]}");
	struct schema_report rep = { 0 };
	assert_int_equal(check("Kitchen", v, &rep), 0);
	assert_null(rep.error);
	assert_int_equal(rep.nunknown, 0);
	assert_json(v, "{\"s\":\"x\",\"i32\":-2147483648,\"i64\":9007199254740993,\"b\":false,"
		       "\"d\":1,\"raw\":\"aGVsbG8=\",\"t\":\"2024-02-29T23:59:59.5+01:00\","
		       "\"mt\":\"2024-01-01T00:00:00.123456Z\",\"dur\":\"1h2m3.5s\",\"q\":\"100m\","
		       "\"ios\":\"50%\",\"obj\":{\"any\":[null,1,{\"x\":null}]},"
		       "\"ls\":[\"a\"],\"li\":[1,2],\"lm\":[{\"a\":\"b\"}],\"ml\":{\"k\":[\"v\"]},"
		       "\"mq\":{\"cpu\":\"2\",\"memory\":\"1Gi\",\"x\":\"0.5\",\"y\":\"1000\"},"
		       "\"ld\":[1.5,2],\"lt\":[\"2024-01-01T00:00:00Z\"],\"ll\":[[1],[]]}");

	/* More accepted spellings. */
	static const char *const ok[] = {
		"{\"q\":\"+.5e-3\"}",
		"{\"q\":\"1E\"}",
		"{\"q\":\"-1.5Ki\"}",
		"{\"q\":\"0\"}",
		"{\"q\":\"12e+07\"}",
		"{\"dur\":\"0\"}",
		"{\"dur\":\"-1.5h\"}",
		"{\"dur\":\"1\\u00b5s\"}",
		"{\"dur\":\".5ms\"}",
		"{\"t\":\"1999-12-31T23:59:59-08:00\"}",
		"{\"t\":\"2024-01-01T1:00:00Z\"}",
		"{\"raw\":\"\"}",
		"{\"raw\":\"YWJj\\r\\nZGVm\"}",
		"{\"raw\":\"YWI=\"}",
		"{\"ios\":-5}",
		"{\"mt\":\"2024-01-01T00:00:00.000000+05:30\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		_cleanup_json_ json_t *x = J(ok[i]);
		if (check("Kitchen", x, &rep) != 0)
			fail_msg("%s: %s", ok[i], rep.error);
	}
	schema_report_release(&rep);
}

static void test_check_nulls(void **state)
{
	_cleanup_json_ json_t *v =
	    J("{\"metadata\":{\"name\":null,\"labels\":{\"a\":null,\"b\":\"c\"},"
	      "\"creationTimestamp\":null},\"spec\":null,\"status\":{\"conditions\":[null]}}");
	struct schema_report rep = { 0 };
	assert_int_equal(check("Deployment", v, &rep), 0);
	assert_json(v,
		    "{\"metadata\":{\"labels\":{\"b\":\"c\"}},\"status\":{\"conditions\":[{}]}}");

	/* A null list element becomes the element's zero value. */
	_cleanup_json_ json_t *k = J("{\"ls\":[null],\"li\":[null],\"mq\":{\"a\":null},"
				     "\"lt\":[null],\"obj\":null,\"next\":null}");
	assert_int_equal(check("Kitchen", k, &rep), 0);
	assert_json(k, "{\"ls\":[\"\"],\"li\":[0],\"mq\":{},\"lt\":[null]}");
	schema_report_release(&rep);
}

static void test_check_depth(void **state)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 300; i++)
		strbuf_addstr(&sb, "{\"next\":");
	strbuf_addstr(&sb, "{}");
	for (int i = 0; i < 300; i++)
		strbuf_addch(&sb, '}');
	_cleanup_json_ json_t *v = J(sb.buf);
	struct schema_report rep = { 0 };
	assert_int_equal(check("Kitchen", v, &rep), -EINVAL);
	assert_non_null(strstr(rep.error, "json: nesting deeper than 256 levels at next.next."));
	schema_report_release(&rep);

	/* A NULL report is allowed: the outcome only. */
	_cleanup_json_ json_t *ok = J("{\"next\":{\"zz\":1}}");
	assert_int_equal(schema_check(T("Kitchen"), ok, NULL), 0);
	assert_json(ok, "{\"next\":{}}");
	_cleanup_json_ json_t *bad = J("{\"s\":1}");
	assert_int_equal(schema_check(T("Kitchen"), bad, NULL), -EINVAL);
}

static void test_check_lists_and_maps(void **state)
{
	_cleanup_json_ json_t *v =
	    J("{\"spec\":{\"containers\":["
	      "{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":1,\"memory\":\"64Mi\"},"
	      "\"requests\":{\"cpu\":0.25}}},"
	      "{\"name\":\"b\",\"ports\":[{\"containerPort\":1},{\"containerPort\":2,"
	      "\"protocol\":\"UDP\"}]}]}}");
	struct schema_report rep = { 0 };
	assert_int_equal(check("PodTemplateSpec", v, &rep), 0);
	assert_json(v,
		    "{\"spec\":{\"containers\":["
		    "{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"64Mi\"},"
		    "\"requests\":{\"cpu\":\"0.25\"}}},"
		    "{\"name\":\"b\",\"ports\":[{\"containerPort\":1},{\"containerPort\":2,"
		    "\"protocol\":\"UDP\"}]}]}}");

	_cleanup_json_ json_t *bad = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":"
				       "{\"limits\":{\"cpu\":\"lots\"}}}]}}");
	assert_int_equal(check("PodTemplateSpec", bad, &rep), -EINVAL);
	assert_string_equal(rep.error, "quantities must match the regular expression "
				       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	schema_report_release(&rep);

	_cleanup_json_ json_t *bad2 = J("{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":"
					"[{\"containerPort\":70000.5}]}]}}");
	assert_int_equal(check("PodTemplateSpec", bad2, &rep), -EINVAL);
	assert_string_equal(rep.error,
			    "json: cannot unmarshal number 70000.5 into Go struct field "
			    "ContainerPort.spec.containers.ports.containerPort of type int32");
	schema_report_release(&rep);
}

/* ---- protobuf ---- */

/* kubectl 1.32 create namespace foo */
static const uint8_t kubectl_namespace[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61,
	0x6d, 0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1b, 0x0a, 0x13, 0x0a, 0x03, 0x66,
	0x6f, 0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
	0x42, 0x00, 0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
};
/* kubectl 1.32 create configmap x --from-literal=a=b */
static const uint8_t kubectl_configmap[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x43, 0x6f,
	0x6e, 0x66, 0x69, 0x67, 0x4d, 0x61, 0x70, 0x12, 0x1b, 0x0a, 0x11, 0x0a, 0x01, 0x78,
	0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00,
	0x12, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x62, 0x1a, 0x00, 0x22, 0x00,
};
/* kubectl 1.32 create deployment web --image=nginx:1.27 --replicas=3 --port=80 */
static const uint8_t kubectl_deployment[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x15, 0x0a, 0x07, 0x61, 0x70, 0x70, 0x73, 0x2f, 0x76, 0x31,
	0x12, 0x0a, 0x44, 0x65, 0x70, 0x6c, 0x6f, 0x79, 0x6d, 0x65, 0x6e, 0x74, 0x12, 0xbd, 0x01,
	0x0a, 0x1f, 0x0a, 0x03, 0x77, 0x65, 0x62, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00,
	0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x5a, 0x0a, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x03,
	0x77, 0x65, 0x62, 0x12, 0x8b, 0x01, 0x08, 0x03, 0x12, 0x0c, 0x0a, 0x0a, 0x0a, 0x03, 0x61,
	0x70, 0x70, 0x12, 0x03, 0x77, 0x65, 0x62, 0x1a, 0x71, 0x0a, 0x1c, 0x0a, 0x00, 0x12, 0x00,
	0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x5a, 0x0a, 0x0a,
	0x03, 0x61, 0x70, 0x70, 0x12, 0x03, 0x77, 0x65, 0x62, 0x12, 0x51, 0x12, 0x33, 0x0a, 0x05,
	0x6e, 0x67, 0x69, 0x6e, 0x78, 0x12, 0x0a, 0x6e, 0x67, 0x69, 0x6e, 0x78, 0x3a, 0x31, 0x2e,
	0x32, 0x37, 0x2a, 0x00, 0x32, 0x0a, 0x0a, 0x00, 0x10, 0x00, 0x18, 0x50, 0x22, 0x00, 0x2a,
	0x00, 0x42, 0x00, 0x6a, 0x00, 0x72, 0x00, 0x80, 0x01, 0x00, 0x88, 0x01, 0x00, 0x90, 0x01,
	0x00, 0xa2, 0x01, 0x00, 0x1a, 0x00, 0x32, 0x00, 0x42, 0x00, 0x4a, 0x00, 0x52, 0x00, 0x58,
	0x00, 0x60, 0x00, 0x68, 0x00, 0x82, 0x01, 0x00, 0x8a, 0x01, 0x00, 0x9a, 0x01, 0x00, 0xc2,
	0x01, 0x00, 0x22, 0x02, 0x0a, 0x00, 0x28, 0x00, 0x38, 0x00, 0x1a, 0x0c, 0x08, 0x00, 0x10,
	0x00, 0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x38, 0x00, 0x1a, 0x00, 0x22, 0x00,
};
/* kubectl 1.32 create service clusterip s --tcp=80:8080 */
static const uint8_t kubectl_service[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0d, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x07, 0x53, 0x65,
	0x72, 0x76, 0x69, 0x63, 0x65, 0x12, 0x63, 0x0a, 0x1b, 0x0a, 0x01, 0x73, 0x12, 0x00,
	0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x5a, 0x08,
	0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x01, 0x73, 0x12, 0x40, 0x0a, 0x1b, 0x0a, 0x07,
	0x38, 0x30, 0x2d, 0x38, 0x30, 0x38, 0x30, 0x12, 0x03, 0x54, 0x43, 0x50, 0x18, 0x50,
	0x22, 0x07, 0x08, 0x00, 0x10, 0x90, 0x3f, 0x1a, 0x00, 0x28, 0x00, 0x12, 0x08, 0x0a,
	0x03, 0x61, 0x70, 0x70, 0x12, 0x01, 0x73, 0x1a, 0x00, 0x22, 0x09, 0x43, 0x6c, 0x75,
	0x73, 0x74, 0x65, 0x72, 0x49, 0x50, 0x3a, 0x00, 0x42, 0x00, 0x52, 0x00, 0x5a, 0x00,
	0x60, 0x00, 0x68, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
};
/* kubectl 1.32 create quota q --hard=cpu=1,memory=1Gi,pods=2 */
static const uint8_t kubectl_quota[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x13, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x0d, 0x52, 0x65,
	0x73, 0x6f, 0x75, 0x72, 0x63, 0x65, 0x51, 0x75, 0x6f, 0x74, 0x61, 0x12, 0x41, 0x0a,
	0x11, 0x0a, 0x01, 0x71, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00,
	0x38, 0x00, 0x42, 0x00, 0x12, 0x2a, 0x0a, 0x0a, 0x0a, 0x03, 0x63, 0x70, 0x75, 0x12,
	0x03, 0x0a, 0x01, 0x31, 0x0a, 0x0f, 0x0a, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
	0x12, 0x05, 0x0a, 0x03, 0x31, 0x47, 0x69, 0x0a, 0x0b, 0x0a, 0x04, 0x70, 0x6f, 0x64,
	0x73, 0x12, 0x03, 0x0a, 0x01, 0x32, 0x1a, 0x00, 0x1a, 0x00, 0x22, 0x00,
};
/* kubectl 1.32 create poddisruptionbudget pdb --selector=app=x --min-available=50% */
static const uint8_t kubectl_pdb[] = {
	0x6b, 0x38, 0x73, 0x00, 0x0a, 0x20, 0x0a, 0x09, 0x70, 0x6f, 0x6c, 0x69, 0x63, 0x79, 0x2f,
	0x76, 0x31, 0x12, 0x13, 0x50, 0x6f, 0x64, 0x44, 0x69, 0x73, 0x72, 0x75, 0x70, 0x74, 0x69,
	0x6f, 0x6e, 0x42, 0x75, 0x64, 0x67, 0x65, 0x74, 0x12, 0x3a, 0x0a, 0x13, 0x0a, 0x03, 0x70,
	0x64, 0x62, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42,
	0x00, 0x12, 0x17, 0x0a, 0x09, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x03, 0x35, 0x30, 0x25, 0x12,
	0x0a, 0x0a, 0x08, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x01, 0x78, 0x1a, 0x0a, 0x08, 0x00,
	0x18, 0x00, 0x20, 0x00, 0x28, 0x00, 0x30, 0x00, 0x1a, 0x00, 0x22, 0x00,
};

static json_t *decode_ok(const char *type, const uint8_t *buf, size_t len)
{
	json_t *v = NULL;
	_cleanup_free_ char *err = NULL;
	int r = schema_proto_decode(T(type), buf, len, &v, &err);
	if (r < 0)
		fail_msg("decode %s: %d %s", type, r, err ? err : "(null)");
	return v;
}

static json_t *unwrap_decode(const char *type, const uint8_t *buf, size_t len,
			     const char *want_api_version, const char *want_kind)
{
	_cleanup_free_ char *av = NULL, *kind = NULL;
	const uint8_t *raw;
	size_t raw_len;
	assert_int_equal(k8s_protobuf_unwrap(buf, len, &av, &kind, &raw, &raw_len), 0);
	assert_string_equal(av, want_api_version);
	assert_string_equal(kind, want_kind);
	assert_true(raw >= buf && raw + raw_len <= buf + len);
	return decode_ok(type, raw, raw_len);
}

static void test_proto_kubectl_fixtures(void **state)
{
	_cleanup_json_ json_t *ns = unwrap_decode("Namespace", kubectl_namespace,
						  sizeof(kubectl_namespace), "v1", "Namespace");
	assert_json(ns, "{\"metadata\":{\"name\":\"foo\"},\"spec\":{},\"status\":{}}");

	_cleanup_json_ json_t *cm = unwrap_decode("ConfigMap", kubectl_configmap,
						  sizeof(kubectl_configmap), "v1", "ConfigMap");
	assert_json(cm, "{\"metadata\":{\"name\":\"x\"},\"data\":{\"a\":\"b\"}}");

	_cleanup_json_ json_t *d = unwrap_decode(
	    "Deployment", kubectl_deployment, sizeof(kubectl_deployment), "apps/v1", "Deployment");
	assert_json(d, "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
		       "\"spec\":{\"replicas\":3,"
		       "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		       "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\","
		       "\"ports\":[{\"containerPort\":80}],\"resources\":{}}]}},"
		       "\"strategy\":{}},"
		       "\"status\":{}}");

	_cleanup_json_ json_t *svc =
	    unwrap_decode("Service", kubectl_service, sizeof(kubectl_service), "v1", "Service");
	assert_json(svc, "{\"metadata\":{\"name\":\"s\",\"labels\":{\"app\":\"s\"}},"
			 "\"spec\":{\"ports\":[{\"name\":\"80-8080\",\"protocol\":\"TCP\","
			 "\"port\":80,\"targetPort\":8080}],"
			 "\"selector\":{\"app\":\"s\"},\"type\":\"ClusterIP\"}}");

	_cleanup_json_ json_t *q = unwrap_decode("ResourceQuota", kubectl_quota,
						 sizeof(kubectl_quota), "v1", "ResourceQuota");
	assert_json(q, "{\"metadata\":{\"name\":\"q\"},"
		       "\"spec\":{\"hard\":{\"cpu\":\"1\",\"memory\":\"1Gi\",\"pods\":\"2\"}}}");

	_cleanup_json_ json_t *pdb =
	    unwrap_decode("PodDisruptionBudget", kubectl_pdb, sizeof(kubectl_pdb), "policy/v1",
			  "PodDisruptionBudget");
	assert_json(pdb, "{\"metadata\":{\"name\":\"pdb\"},\"spec\":{\"minAvailable\":\"50%\","
			 "\"selector\":{\"matchLabels\":{\"app\":\"x\"}}}}");

	/* The decoded bodies type-check cleanly. */
	json_t *all[] = { ns, cm, d, svc, q, pdb };
	const char *types[] = { "Namespace", "ConfigMap",     "Deployment",
				"Service",   "ResourceQuota", "PodDisruptionBudget" };
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		struct schema_report rep = { 0 };
		assert_int_equal(check(types[i], all[i], &rep), 0);
		assert_int_equal(rep.nunknown, 0);
		schema_report_release(&rep);
	}
}

/* A tiny protobuf writer for hand-built messages. */
static void pb_varint(struct strbuf *sb, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		strbuf_addch(sb, (char)(b | (v ? 0x80 : 0)));
	} while (v);
}

static void pb_key(struct strbuf *sb, int num, int wt)
{
	pb_varint(sb, ((uint64_t)num << 3) | (uint64_t)wt);
}

static void pb_int(struct strbuf *sb, int num, int64_t v)
{
	pb_key(sb, num, 0);
	pb_varint(sb, (uint64_t)v);
}

static void pb_bytes(struct strbuf *sb, int num, const void *p, size_t n)
{
	pb_key(sb, num, 2);
	pb_varint(sb, n);
	strbuf_add(sb, p, n);
}

static void pb_str(struct strbuf *sb, int num, const char *s)
{
	pb_bytes(sb, num, s, strlen(s));
}

static void pb_msg(struct strbuf *sb, int num, struct strbuf *inner)
{
	pb_bytes(sb, num, strbuf_str(inner), inner->len);
	strbuf_reset(inner);
}

static void pb_double(struct strbuf *sb, int num, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	pb_key(sb, num, 1);
	for (int i = 0; i < 8; i++)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

static json_t *decode_sb(const char *type, const struct strbuf *sb)
{
	return decode_ok(type, (const uint8_t *)strbuf_str(sb), sb->len);
}

static void test_proto_deployment(void **state)
{
	_cleanup_strbuf_ struct strbuf m = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT,
				       c = STRBUF_INIT, top = STRBUF_INIT;

	/* metadata: name, labels, zero and non-zero times, explicit zeros. */
	pb_str(&a, 1, "web");
	pb_str(&a, 2, "");
	pb_int(&a, 7, 0);
	pb_int(&b, 1, 1700000000);
	pb_int(&b, 2, 999);
	pb_msg(&a, 8, &b); /* creationTimestamp */
	pb_int(&b, 1, -62135596800);
	pb_msg(&a, 9, &b); /* deletionTimestamp: the zero time */
	pb_int(&a, 10, 0); /* opt: kept */
	pb_str(&b, 1, "app");
	pb_str(&b, 2, "web");
	pb_msg(&a, 11, &b);
	pb_str(&b, 1, "tier");
	pb_msg(&a, 11, &b); /* no value: "" */
	pb_str(&a, 14, "f1");
	pb_str(&a, 14, "");
	pb_msg(&top, 1, &a);

	/* spec */
	pb_int(&a, 1, 0); /* replicas: opt, zero kept */
	pb_int(&a, 5, 0); /* minReadySeconds: not opt, zero dropped */
	pb_int(&a, 6, 10);
	pb_int(&a, 7, 0); /* paused false: dropped */
	/* template.spec.containers: two */
	pb_str(&c, 1, "a");
	pb_str(&c, 2, "img:1");
	pb_str(&c, 3, "sh");
	pb_str(&c, 3, "-c");
	pb_int(&b, 3, 8080);
	pb_str(&b, 4, "TCP");
	pb_msg(&c, 6, &b);
	pb_str(&b, 1, "cpu");
	{
		struct strbuf qv = STRBUF_INIT;
		pb_str(&qv, 1, "250m");
		pb_msg(&b, 2, &qv);
		strbuf_release(&qv);
	}
	{
		struct strbuf rr = STRBUF_INIT;
		pb_msg(&rr, 2, &b); /* requests[cpu] */
		pb_msg(&c, 8, &rr);
		strbuf_release(&rr);
	}
	pb_msg(&b, 2, &c);
	pb_str(&c, 1, "b");
	pb_msg(&b, 2, &c);
	pb_int(&b, 4, 30); /* terminationGracePeriodSeconds: opt */
	pb_msg(&m, 2, &b);
	pb_msg(&a, 3, &m);
	/* strategy.rollingUpdate: IntOrString both forms */
	pb_int(&c, 1, 0);
	pb_int(&c, 2, 0);
	pb_msg(&b, 1, &c); /* maxUnavailable: int 0 */
	pb_int(&c, 1, 1);
	pb_str(&c, 3, "25%");
	pb_msg(&b, 2, &c); /* maxSurge: "25%" */
	pb_msg(&m, 2, &b);
	pb_str(&m, 1, "RollingUpdate");
	pb_msg(&a, 4, &m);
	pb_msg(&top, 2, &a);

	/* status: a condition with a time */
	pb_str(&b, 1, "Available");
	pb_str(&b, 2, "True");
	pb_int(&c, 1, 0);
	pb_msg(&b, 6, &c); /* lastUpdateTime: seconds 0 is the zero time */
	pb_int(&c, 1, 951782400);
	pb_msg(&b, 7, &c);
	pb_msg(&a, 6, &b);
	pb_int(&a, 2, 0);
	pb_msg(&top, 3, &a);

	_cleanup_json_ json_t *v = decode_sb("Deployment", &top);
	assert_json(
	    v, "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\","
	       "\"deletionGracePeriodSeconds\":0,\"labels\":{\"app\":\"web\",\"tier\":\"\"},"
	       "\"finalizers\":[\"f1\",\"\"]},"
	       "\"spec\":{\"replicas\":0,\"template\":{\"spec\":{\"containers\":["
	       "{\"name\":\"a\",\"image\":\"img:1\",\"command\":[\"sh\",\"-c\"],"
	       "\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
	       "\"resources\":{\"requests\":{\"cpu\":\"250m\"}}},"
	       "{\"name\":\"b\"}],\"terminationGracePeriodSeconds\":30}},"
	       "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":0,"
	       "\"maxSurge\":\"25%\"}},\"revisionHistoryLimit\":10},"
	       "\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\","
	       "\"lastTransitionTime\":\"2000-02-29T00:00:00Z\"}]}}");
}

static void test_proto_kinds(void **state)
{
	_cleanup_strbuf_ struct strbuf k = STRBUF_INIT, b = STRBUF_INIT, c = STRBUF_INIT;

	pb_str(&k, 1, "caf\xc3\xa9 \xff!"); /* invalid UTF-8 byte becomes U+FFFD */
	pb_int(&k, 2, -1);		    /* int32 -1: ten-byte varint */
	pb_int(&k, 3, INT64_MIN);
	pb_int(&k, 4, 1);
	pb_double(&k, 5, 2.5);
	pb_bytes(&k, 6, "\x00\x01\xfe", 3);
	pb_int(&b, 1, -1);
	pb_int(&b, 2, 123456789);
	pb_msg(&k, 8, &b); /* microtime */
	pb_int(&b, 1, 90 * 1000000000ll);
	pb_msg(&k, 9, &b);  /* duration */
	pb_msg(&k, 10, &b); /* quantity with no string: "0" */
	pb_str(&b, 1, "{\"a\":[1,null]}");
	pb_msg(&k, 12, &b); /* object: raw JSON */
	pb_str(&k, 14, "x");
	/* li: packed and unpacked in the same message */
	pb_varint(&b, 1);
	pb_varint(&b, (uint64_t)-2);
	pb_varint(&b, 300);
	pb_msg(&k, 15, &b);
	pb_int(&k, 15, 4);
	/* lm: []map[string] travels as a wrapper {1 repeated entry} */
	pb_str(&c, 1, "a");
	pb_str(&c, 2, "b");
	pb_msg(&b, 1, &c);
	pb_msg(&k, 16, &b);
	/* ml: map[[]string] entry value is a wrapper {1 repeated string} */
	pb_str(&c, 1, "v1");
	pb_str(&c, 1, "v2");
	pb_str(&b, 1, "key");
	pb_msg(&b, 2, &c);
	pb_msg(&k, 17, &b);
	/* mq: a map key that is not UTF-8 */
	pb_str(&c, 1, "1");
	pb_str(&b, 1, "\xffx");
	pb_msg(&b, 2, &c);
	pb_msg(&k, 18, &b);
	pb_int(&k, 19, 0); /* opt zeros kept */
	pb_str(&k, 20, "");
	pb_int(&k, 21, 0);
	pb_double(&k, 22, 0.5);
	pb_key(&k, 22, 2); /* packed doubles */
	pb_varint(&k, 8);
	for (int i = 0; i < 8; i++)
		strbuf_addch(&k, "\x00\x00\x00\x00\x00\x00\xf0\x3f"[i]);
	pb_int(&b, 1, 0);
	pb_msg(&k, 23, &b); /* a zero time in a list: null */
	pb_int(&b, 1, 86399);
	pb_msg(&k, 23, &b);
	pb_str(&b, 1, "m");
	pb_msg(&k, 24, &b); /* map value struct missing: {} */
	pb_int(&c, 1, 7);
	pb_int(&c, 1, 8);
	pb_msg(&k, 26, &c); /* ll: [][]int64, inner lists as {1 repeated} */
	pb_msg(&k, 26, &c); /* an empty inner list */
	/* Unknown fields of every wire type are skipped. */
	pb_int(&k, 100, 5);
	pb_str(&k, 101, "skip");
	pb_double(&k, 102, 1);
	pb_key(&k, 103, 5);
	strbuf_add(&k, "abcd", 4);

	_cleanup_json_ json_t *v = decode_sb("Kitchen", &k);
	assert_json(
	    v,
	    "{\"s\":\"caf\xc3\xa9 \xef\xbf\xbd!\",\"i32\":-1,"
	    "\"i64\":-9223372036854775808,\"b\":true,\"d\":2.5,\"raw\":\"AAH+\","
	    "\"mt\":\"1969-12-31T23:59:59.123456Z\",\"dur\":\"1m30s\",\"q\":\"0\","
	    "\"obj\":{\"a\":[1,null]},\"ls\":[\"x\"],\"li\":[1,-2,300,4],"
	    "\"lm\":[{\"a\":\"b\"}],\"ml\":{\"key\":[\"v1\",\"v2\"]},"
	    "\"mq\":{\"\xef\xbf\xbdx\":\"1\"},\"oi\":0,\"os\":\"\",\"ob\":false,\"ld\":[0.5,1.0],"
	    "\"lt\":[null,\"1970-01-01T23:59:59Z\"],\"mk\":{\"m\":{}},"
	    "\"ll\":[[7,8],[]]}");
}

static void test_proto_special_values(void **state)
{
	static const struct {
		int64_t ns;
		const char *s;
	} durations[] = {
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 1500, "1.5\xc2\xb5s" },
		{ 500000000, "500ms" },
		{ 1000000000, "1s" },
		{ 3600000000000, "1h0m0s" },
		{ 3723500000000, "1h2m3.5s" },
		{ -90000000000, "-1m30s" },
		{ INT64_MIN, "-2562047h47m16.854775808s" },
		{ INT64_MAX, "2562047h47m16.854775807s" },
	};
	_cleanup_strbuf_ struct strbuf k = STRBUF_INIT, b = STRBUF_INIT;
	for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
		pb_int(&b, 1, durations[i].ns);
		pb_msg(&k, 9, &b);
		_cleanup_json_ json_t *v = decode_sb("Kitchen", &k);
		assert_string_equal(json_string_value(json_object_get(v, "dur")), durations[i].s);
		strbuf_reset(&k);
	}

	static const struct {
		int64_t sec;
		int32_t nanos;
		const char *t, *mt;
	} times[] = {
		{ 0, 0, NULL, NULL },
		{ -62135596800, 0, NULL, NULL },
		{ -62135596800, 999, NULL, NULL },
		{ -62135596801, 1000000999, "0000-12-31T23:59:59Z", NULL },
		{ 0, 5000, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000005Z" },
		{ 1709251199, 999999999, "2024-02-29T23:59:59Z", "2024-02-29T23:59:59.999999Z" },
		{ -1, 0, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.000000Z" },
		{ 253402300799, 0, "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000000Z" },
		{ -62135596801, 0, "0000-12-31T23:59:59Z", "0000-12-31T23:59:59.000000Z" },
		{ 10, -1, "1970-01-01T00:00:10Z", "1970-01-01T00:00:09.999999Z" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		pb_int(&b, 1, times[i].sec);
		pb_int(&b, 2, times[i].nanos);
		pb_msg(&k, 7, &b);
		pb_int(&b, 1, times[i].sec);
		pb_int(&b, 2, times[i].nanos);
		pb_msg(&k, 8, &b);
		_cleanup_json_ json_t *v = decode_sb("Kitchen", &k);
		json_t *t = json_object_get(v, "t"), *mt = json_object_get(v, "mt");
		if (times[i].t)
			assert_string_equal(json_string_value(t), times[i].t);
		else
			assert_null(t);
		if (times[i].mt)
			assert_string_equal(json_string_value(mt), times[i].mt);
		else
			assert_null(mt);
		strbuf_reset(&k);
	}

	/* Extreme seconds do not overflow. */
	pb_int(&b, 1, INT64_MAX);
	pb_int(&b, 2, 999999999);
	pb_msg(&k, 7, &b);
	_cleanup_json_ json_t *x = decode_sb("Kitchen", &k);
	assert_true(json_is_string(json_object_get(x, "t")));
	strbuf_reset(&k);
	pb_int(&b, 1, INT64_MIN);
	pb_msg(&k, 8, &b);
	_cleanup_json_ json_t *y = decode_sb("Kitchen", &k);
	assert_true(json_is_string(json_object_get(y, "mt")));
	strbuf_reset(&k);

	/* RawExtension that is not JSON: base64. Empty: left out. */
	pb_str(&b, 1, "\x01not json");
	pb_msg(&k, 12, &b);
	pb_msg(&k, 10, &b); /* quantity: empty message is "0" */
	_cleanup_json_ json_t *z = decode_sb("Kitchen", &k);
	assert_json(z, "{\"q\":\"0\",\"obj\":\"AW5vdCBqc29u\"}");
	strbuf_reset(&k);
	pb_msg(&k, 12, &b);
	_cleanup_json_ json_t *e = decode_sb("Kitchen", &k);
	assert_json(e, "{}");
	strbuf_reset(&k);
}

static void test_proto_merge(void **state)
{
	_cleanup_strbuf_ struct strbuf top = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT;

	/* A message field that occurs twice is merged; a scalar takes the last. */
	pb_str(&a, 1, "first");
	pb_str(&b, 1, "app");
	pb_str(&b, 2, "web");
	pb_msg(&a, 11, &b);
	pb_msg(&top, 1, &a);
	pb_str(&a, 3, "ns");
	pb_str(&b, 1, "tier");
	pb_str(&b, 2, "db");
	pb_msg(&a, 11, &b);
	pb_msg(&top, 1, &a);
	pb_str(&a, 1, "");
	pb_msg(&top, 1, &a);
	pb_str(&a, 1, "last");
	pb_msg(&top, 1, &a);

	_cleanup_json_ json_t *v = decode_sb("Namespace", &top);
	assert_json(v, "{\"metadata\":{\"name\":\"last\",\"namespace\":\"ns\","
		       "\"labels\":{\"app\":\"web\",\"tier\":\"db\"}}}");
}

static int decode_err(const char *type, const void *buf, size_t len, char **ret_err)
{
	json_t *v = NULL;
	int r = schema_proto_decode(T(type), buf, len, &v, ret_err);
	if (r >= 0)
		json_decref(v);
	else
		assert_null(v);
	return r;
}

static void test_proto_malformed(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *err;
	} cases[] = {
		{ "\x0a\x05\x0a\x03", 4,
		  "protobuf: length 5 past the end of the message (in v1.Namespace.metadata)" },
		{ "\x0a\x03\x0a\x05\x61", 5,
		  "protobuf: length 5 past the end of the message (in v1.ObjectMeta.name)" },
		{ "\x0a\x02\x38\x80", 4,
		  "protobuf: truncated varint (in v1.ObjectMeta.generation)" },
		{ "\x0a\x01\x08", 3,
		  "protobuf: wire type varint for a length-delimited (in v1.ObjectMeta.name)" },
		{ "\x0a\x02\x0a\x00\x12", 5, "protobuf: truncated varint (in v1.Namespace.spec)" },
		{ "\x0a\x02\x0a\x00\x1a\x01\x0a", 7,
		  "protobuf: truncated varint (in v1.NamespaceStatus.phase)" },
		{ "\x0b", 1, "protobuf: groups are not supported (field 1)" },
		{ "\x0c", 1, "protobuf: groups are not supported (field 1)" },
		{ "\x0e", 1, "protobuf: bad wire type 6 (field 1)" },
		{ "\x00", 1, "protobuf: bad field number 0" },
		{ "\x08\x01", 2,
		  "protobuf: wire type varint for a message (in v1.Namespace.metadata)" },
		{ "\x0a\x02\x5a\x01", 4,
		  "protobuf: length 1 past the end of the message (in v1.ObjectMeta.labels)" },
		{ "\x0a\x04\x5a\x02\x08\x01", 6,
		  "protobuf: map key has wire type varint (in v1.ObjectMeta.labels)" },
		{ "\xa8\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11,
		  "protobuf: varint longer than 10 bytes" },
		{ "\x4d\x01\x02", 3, "protobuf: truncated fixed-size value" },
		{ "\x0d\x01\x02\x03\x04", 5,
		  "protobuf: wire type fixed32 for a message (in v1.Namespace.metadata)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *err = NULL;
		int r = decode_err("Namespace", cases[i].bytes, cases[i].len, &err);
		if (r != -EINVAL || !err || strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu: r=%d\n got: %s\nwant: %s", i, r, err ? err : "(null)",
				 cases[i].err);
		free(err);
	}

	/* Quantity and IntOrString contents are checked. */
	char *err = NULL;
	assert_int_equal(decode_err("Kitchen", "\x52\x04\x0a\x02xy", 6, &err), -EINVAL);
	assert_string_equal(err, "protobuf: quantities must match the regular expression "
				 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (in test.Sink.q)");
	free(err);
	err = NULL;
	assert_int_equal(decode_err("Kitchen", "\x5a\x02\x08\x02", 4, &err), -EINVAL);
	assert_string_equal(err, "protobuf: IntOrString type 2 is neither 0 (int) nor 1 (string) "
				 "(in test.Sink.ios)");
	free(err);
	/* NUL bytes in strings and map keys are refused. */
	err = NULL;
	assert_int_equal(decode_err("Kitchen",
				    "\x0a\x03"
				    "a\x00"
				    "b",
				    5, &err),
			 -EINVAL);
	assert_string_equal(err, "protobuf: string contains a NUL byte (in test.Sink.s)");
	free(err);
	err = NULL;
	assert_int_equal(decode_err("Kitchen", "\x5a\x05\x08\x01\x1a\x01\x00", 7, &err), -EINVAL);
	assert_string_equal(err, "protobuf: string contains a NUL byte (in test.Sink.ios)");
	free(err);
	err = NULL;
	assert_int_equal(decode_err("Kitchen", "\xc2\x01\x03\x0a\x01\x00", 6, &err), -EINVAL);
	assert_string_equal(err, "protobuf: map key contains a NUL byte (in test.Sink.mk)");
	free(err);
	/* The error text is optional. */
	assert_int_equal(decode_err("Namespace", "\x0b", 1, NULL), -EINVAL);
	/* Empty input is an empty object. */
	_cleanup_json_ json_t *v = decode_ok("Namespace", NULL, 0);
	assert_json(v, "{}");
}

static void test_proto_depth_limit(void **state)
{
	/* Kitchen.next nested deeper than the limit. */
	_cleanup_strbuf_ struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	pb_str(&a, 1, "leaf");
	for (int i = 0; i < 100; i++) {
		pb_msg(&b, 13, &a);
		strbuf_add(&a, b.buf, b.len);
		strbuf_reset(&b);
	}
	_cleanup_free_ char *err = NULL;
	assert_int_equal(decode_err("Kitchen", a.buf, a.len, &err), -EINVAL);
	assert_non_null(strstr(err, "messages nested more than 64 deep"));

	/* 60 levels are fine. */
	strbuf_reset(&a);
	pb_str(&a, 1, "leaf");
	for (int i = 0; i < 60; i++) {
		pb_msg(&b, 13, &a);
		strbuf_add(&a, b.buf, b.len);
		strbuf_reset(&b);
	}
	_cleanup_json_ json_t *v = decode_sb("Kitchen", &a);
	json_t *x = v;
	for (int i = 0; i < 60; i++)
		x = json_object_get(x, "next");
	assert_string_equal(json_string_value(json_object_get(x, "s")), "leaf");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_proto_hostile(void **state)
{
	static const struct {
		const char *type;
		const uint8_t *buf;
		size_t len;
	} fixtures[] = {
		{ "Namespace", kubectl_namespace, sizeof(kubectl_namespace) },
		{ "ConfigMap", kubectl_configmap, sizeof(kubectl_configmap) },
		{ "Deployment", kubectl_deployment, sizeof(kubectl_deployment) },
		{ "Service", kubectl_service, sizeof(kubectl_service) },
		{ "ResourceQuota", kubectl_quota, sizeof(kubectl_quota) },
		{ "PodDisruptionBudget", kubectl_pdb, sizeof(kubectl_pdb) },
	};
	for (size_t f = 0; f < ARRAY_SIZE(fixtures); f++) {
		const uint8_t *raw;
		size_t raw_len;
		assert_int_equal(k8s_protobuf_unwrap(fixtures[f].buf, fixtures[f].len, NULL, NULL,
						     &raw, &raw_len),
				 0);
		/* Every truncation, each in an exactly sized heap copy so ASan sees
		 * any read past the end. */
		for (size_t n = 0; n <= raw_len; n++) {
			uint8_t *copy = xmalloc(n ? n : 1);
			memcpy(copy, raw, n);
			char *err = NULL;
			decode_err(fixtures[f].type, copy, n, &err);
			free(err);
			free(copy);
		}
		for (size_t n = 0; n < fixtures[f].len; n++) {
			uint8_t *copy = xmalloc(n ? n : 1);
			memcpy(copy, fixtures[f].buf, n);
			char *av = NULL, *kind = NULL;
			const uint8_t *r;
			size_t rl;
			if (k8s_protobuf_unwrap(copy, n, &av, &kind, &r, &rl) == 0)
				assert_true(r == NULL || (r >= copy && r + rl <= copy + n));
			free(av);
			free(kind);
			free(copy);
		}
		/* Random bit flips and byte changes. */
		for (int iter = 0; iter < 2000; iter++) {
			uint8_t *copy = xmalloc(raw_len);
			memcpy(copy, raw, raw_len);
			int changes = 1 + (int)(rng() % 4);
			for (int i = 0; i < changes && raw_len; i++) {
				size_t at = rng() % raw_len;
				if (rng() & 1)
					copy[at] ^= (uint8_t)(1u << (rng() % 8));
				else
					copy[at] = (uint8_t)rng();
			}
			char *err = NULL;
			decode_err(fixtures[f].type, copy, raw_len, &err);
			free(err);
			free(copy);
		}
	}
	/* Pure garbage against a type with every kind. */
	for (int iter = 0; iter < 5000; iter++) {
		size_t n = rng() % 64;
		uint8_t *buf = xmalloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rng();
		char *err = NULL;
		decode_err("Kitchen", buf, n, &err);
		free(err);
		free(buf);
	}
}

static void test_unwrap(void **state)
{
	_cleanup_free_ char *av = NULL, *kind = NULL;
	const uint8_t *raw = (const uint8_t *)"untouched";
	size_t raw_len = 99;

	assert_int_equal(k8s_protobuf_unwrap("k8s", 3, &av, &kind, &raw, &raw_len), -EINVAL);
	assert_int_equal(k8s_protobuf_unwrap("k9s\0", 4, &av, &kind, &raw, &raw_len), -EINVAL);
	assert_int_equal(k8s_protobuf_unwrap("k8s\0\x0a\x05", 6, &av, &kind, &raw, &raw_len),
			 -EINVAL);
	/* typeMeta with a NUL in the kind */
	assert_int_equal(
	    k8s_protobuf_unwrap("k8s\0\x0a\x03\x12\x01\x00", 9, &av, &kind, &raw, &raw_len),
	    -EINVAL);
	/* typeMeta fields with the wrong wire type */
	assert_int_equal(
	    k8s_protobuf_unwrap("k8s\0\x0a\x02\x08\x01", 8, &av, &kind, &raw, &raw_len), -EINVAL);
	/* gzip content encoding */
	assert_int_equal(k8s_protobuf_unwrap("k8s\0\x1a\x04gzip", 10, &av, &kind, &raw, &raw_len),
			 -EOPNOTSUPP);
	assert_null(av);
	assert_null(kind);
	assert_int_equal(raw_len, 99);

	/* Just the magic: empty strings, no raw. */
	assert_int_equal(k8s_protobuf_unwrap("k8s\0", 4, &av, &kind, &raw, &raw_len), 0);
	assert_string_equal(av, "");
	assert_string_equal(kind, "");
	assert_null(raw);
	assert_int_equal(raw_len, 0);
	free(av);
	free(kind);

	/* Unknown fields are skipped; the last raw wins; typeMeta merges. */
	static const char msg[] = "k8s\0"
				  "\x0a\x04\x0a\x02v1"
				  "\x12\x01X"
				  "\x28\x07"
				  "\x0a\x06\x12\x04Node"
				  "\x12\x02{}"
				  "\x22\x00";
	assert_int_equal(k8s_protobuf_unwrap(msg, sizeof(msg) - 1, &av, &kind, &raw, &raw_len), 0);
	assert_string_equal(av, "v1");
	assert_string_equal(kind, "Node");
	assert_int_equal(raw_len, 2);
	assert_memory_equal(raw, "{}", 2);
}

/* ---- duplicate keys ---- */

static void assert_dups(const char *text, const char *const *want, size_t nwant)
{
	char **paths = NULL;
	size_t n = 99;
	assert_int_equal(json_find_duplicate_keys(text, strlen(text), &paths, &n), 0);
	if (n != nwant)
		fail_msg("%s: %zu duplicates, want %zu (first %s)", text, n, nwant,
			 n ? paths[0] : "-");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(paths[i], want[i]);
	assert_null(paths[n]);
	strv_freep(&paths);
}

static void test_duplicate_keys(void **state)
{
	assert_dups("{}", NULL, 0);
	assert_dups("[1, \"a\", true, null, -1.5e3, {}, []]", NULL, 0);
	assert_dups("{\"a\":1,\"b\":2}", NULL, 0);
	assert_dups("{\"a\":1,\"a\":2}", (const char *const[]){ "a" }, 1);
	assert_dups(" { \"metadata\" : { \"name\" : \"x\" , \"name\" : \"y\" } } ",
		    (const char *const[]){ "metadata.name" }, 1);
	/* Three times is reported once; order is the order of the second occurrence. */
	assert_dups("{\"b\":1,\"a\":1,\"a\":2,\"b\":3,\"a\":4}", (const char *const[]){ "a", "b" },
		    2);
	assert_dups(
	    "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"image\":\"x\",\"image\":\"y\"}]}}",
	    (const char *const[]){ "spec.containers[1].image" }, 1);
	/* Outer key before the inner duplicates its value holds. */
	assert_dups("{\"a\":1,\"a\":{\"b\":1,\"b\":2}}", (const char *const[]){ "a", "a.b" }, 2);
	/* Escapes are decoded before comparing. */
	assert_dups("{\"\\u0061\":1,\"a\":2,\"\\\"q\":3,\"\\\"q\":4}",
		    (const char *const[]){ "a", "\"q" }, 2);
	assert_dups("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
		    (const char *const[]){ "\xf0\x9f\x98\x80" }, 1);
	/* Same key in sibling objects is fine. */
	assert_dups("[{\"a\":1},{\"a\":2}]", NULL, 0);
	assert_dups("[[{\"x\":1}],[{\"y\":1},{\"y\":[{\"z\":1,\"z\":2}]}]]",
		    (const char *const[]){ "[1][1].y[0].z" }, 1);

	/* A large object takes the sorting path. */
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"data\":{");
	for (int i = 0; i < 500; i++)
		strbuf_addf(&sb, "%s\"k%d\":%d", i ? "," : "", i % 300, i);
	strbuf_addstr(&sb, "}}");
	char **paths = NULL;
	size_t n = 0;
	assert_int_equal(json_find_duplicate_keys(sb.buf, sb.len, &paths, &n), 0);
	assert_int_equal(n, 200);
	assert_string_equal(paths[0], "data.k0");
	assert_string_equal(paths[199], "data.k199");
	strv_freep(&paths);

	/* Not JSON. */
	static const char *const bad[] = {
		"",	      "{",     "{\"a\"}",      "{\"a\":}",    "{\"a\":1,}", "[1,]",
		"{\"a\":1}x", "\"abc", "{\"a\\x\":1}", "[\"\\u12\"]", "{1:2}",	    "}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		paths = NULL;
		if (json_find_duplicate_keys(bad[i], strlen(bad[i]), &paths, &n) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_null(paths);
	}

	/* Deep nesting needs no recursion. */
	strbuf_reset(&sb);
	for (int i = 0; i < 100000; i++)
		strbuf_addstr(&sb, "[{\"a\":");
	strbuf_addstr(&sb, "1");
	for (int i = 0; i < 100000; i++)
		strbuf_addstr(&sb, "}]");
	assert_int_equal(json_find_duplicate_keys(sb.buf, sb.len, &paths, &n), 0);
	assert_int_equal(n, 0);
	strv_freep(&paths);
}

/* ---- the built-in schema (the .def files), last ---- */

static void test_builtin(void **state)
{
	const struct schema *s = schema_builtin();
	assert_non_null(s);
	assert_ptr_equal(schema_builtin(), s);
	size_t n = 0;
	for (const struct schema_type *t; (t = schema_type_at(s, n)); n++)
		for (size_t i = 0; i < t->nfields; i++)
			if (t->fields[i].ref.kind == SK_STRUCT)
				assert_non_null(t->fields[i].ref.type);
	assert_true(n > 0);
	static const char *const kinds[] = { "ObjectMeta", "Namespace", "Pod", "Deployment",
					     "ConfigMap" };
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!schema_find_type(s, kinds[i]))
			fail_msg("built-in schema has no type %s", kinds[i]);

	/* The kubectl fixtures decode against the real types, with no unknown fields. */
	static const struct {
		const char *type;
		const uint8_t *buf;
		size_t len;
	} fixtures[] = {
		{ "Namespace", kubectl_namespace, sizeof(kubectl_namespace) },
		{ "ConfigMap", kubectl_configmap, sizeof(kubectl_configmap) },
		{ "Deployment", kubectl_deployment, sizeof(kubectl_deployment) },
		{ "Service", kubectl_service, sizeof(kubectl_service) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
		const struct schema_type *t = schema_find_type(s, fixtures[i].type);
		if (!t)
			fail_msg("built-in schema has no type %s", fixtures[i].type);
		const uint8_t *raw;
		size_t raw_len;
		assert_int_equal(k8s_protobuf_unwrap(fixtures[i].buf, fixtures[i].len, NULL, NULL,
						     &raw, &raw_len),
				 0);
		_cleanup_json_ json_t *v = NULL;
		_cleanup_free_ char *err = NULL;
		if (schema_proto_decode(t, raw, raw_len, &v, &err) < 0)
			fail_msg("%s: %s", fixtures[i].type, err);
		struct schema_report rep = { 0 };
		if (schema_check(t, v, &rep) < 0 || rep.nunknown)
			fail_msg("%s: %s %s", fixtures[i].type, rep.error ? rep.error : "",
				 rep.nunknown ? rep.unknown[0] : "");
		schema_report_release(&rep);
	}
}


/* Embedded Go structs: one nested message in protobuf, flattened in JSON. */
static void test_builtin_inline(void **state)
{
	const struct schema *s = schema_builtin();
	const struct schema_type *vol = schema_find_type(s, "Volume");
	const struct schema_type *probe = schema_find_type(s, "Probe");
	assert_non_null(vol);
	assert_non_null(probe);
	/* Volume{1 name "v", 2 VolumeSource{1 hostPath{1 path "/x"}}} */
	static const uint8_t vbuf[] = { 0x0a, 0x01, 'v', 0x12, 0x06, 0x0a, 0x04, 0x0a, 0x02, '/', 'x' };
	json_t *out = NULL;
	char *err = NULL;
	assert_int_equal(schema_proto_decode(vol, vbuf, sizeof(vbuf), &out, &err), 0);
	char *got = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(got, "{\"hostPath\":{\"path\":\"/x\"},\"name\":\"v\"}");
	free(got);
	json_decref(out);
	/* Probe{1 ProbeHandler{3 tcpSocket{1 port IntOrString{2 intVal 80}}}, 4 periodSeconds 5} */
	static const uint8_t pbuf[] = { 0x0a, 0x06, 0x1a, 0x04, 0x0a, 0x02, 0x10, 0x50, 0x20, 0x05 };
	assert_int_equal(schema_proto_decode(probe, pbuf, sizeof(pbuf), &out, &err), 0);
	got = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(got, "{\"periodSeconds\":5,\"tcpSocket\":{\"port\":80}}");
	free(got);
	json_decref(out);
	/* The inline field is not a JSON field: clients may not send it. */
	assert_null(schema_field_by_name(vol, "volumeSource"));
	assert_non_null(schema_field_by_name(vol, "hostPath"));
	json_t *bad = json_pack("{s:s, s:{}}", "name", "v", "volumeSource");
	struct schema_report rep = { 0 };
	assert_int_equal(schema_check(vol, bad, &rep), 0);
	assert_int_equal(rep.nunknown, 1);
	assert_string_equal(rep.unknown[0], "volumeSource");
	schema_report_release(&rep);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_types),
		cmocka_unit_test(test_parse_sparse_proto),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_comments_crlf),
		cmocka_unit_test(test_check_prune_unknown),
		cmocka_unit_test(test_check_type_errors),
		cmocka_unit_test(test_check_valid_values),
		cmocka_unit_test(test_check_nulls),
		cmocka_unit_test(test_check_lists_and_maps),
		cmocka_unit_test(test_check_depth),
		cmocka_unit_test(test_proto_kubectl_fixtures),
		cmocka_unit_test(test_proto_deployment),
		cmocka_unit_test(test_proto_kinds),
		cmocka_unit_test(test_proto_special_values),
		cmocka_unit_test(test_proto_merge),
		cmocka_unit_test(test_proto_malformed),
		cmocka_unit_test(test_proto_depth_limit),
		cmocka_unit_test(test_proto_hostile),
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_duplicate_keys),
		/* Last: depends on the .def files, written in parallel. */
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_builtin_inline),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
