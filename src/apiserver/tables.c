/* SPDX-License-Identifier: Apache-2.0 */
/* Server-side printing: meta.k8s.io/v1 Tables from the kinds' row hooks. */
#include "apiserver/http.h"
#include "apiserver/obj.h"
#include "apiserver/registry/common.h"
#include "apiserver/resource.h"
#include "lib/json.h"

static const struct table_column default_columns[] = {
	{ "Name", "string", "name", "Name must be unique within a namespace.", 0 },
	{ "Age", "string", "", "Time since the object was created.", 0 },
};

static void default_row(json_t *obj, json_t *cells, int64_t now)
{
	char age[32];
	format_age(json_get_str(obj, "metadata.creationTimestamp"), now, age);
	json_array_append_new(cells, json_string(json_get_str(obj, "metadata.name")));
	json_array_append_new(cells, json_string(age));
}

static json_t *partial_metadata(json_t *obj)
{
	json_t *m = json_object();
	json_set_str(m, "kind", "PartialObjectMetadata");
	json_set_str(m, "apiVersion", "meta.k8s.io/v1");
	json_t *meta = json_object_get(obj, "metadata");
	json_object_set(m, "metadata", meta ? meta : json_object());
	return m;
}

json_t *convert_from_storage(const struct resource *res, const struct obj *o)
{
	json_t *j = obj_parse(o);
	if (resource_storage(res) == res || !res->from_storage)
		return j;
	json_t *c = res->from_storage(j);
	json_decref(j);
	return c;
}

json_t *table_build(const struct resource *res, struct obj *const *objs, size_t n,
		    const char *include, bool with_columns, int64_t now_usec)
{
	const struct table_column *cols = res->columns ? res->columns : default_columns;
	size_t ncols = res->columns ? res->ncolumns : ARRAY_SIZE(default_columns);
	void (*row)(json_t *, json_t *, int64_t) = res->row ? res->row : default_row;
	json_t *t = json_object();

	json_set_str(t, "kind", "Table");
	json_set_str(t, "apiVersion", "meta.k8s.io/v1");
	json_object_set_new(t, "metadata", json_object());
	if (with_columns) {
		json_t *defs = json_array();
		for (size_t i = 0; i < ncols; i++)
			json_array_append_new(defs, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name",
							      cols[i].name, "type", cols[i].type,
							      "format", cols[i].format,
							      "description", cols[i].description,
							      "priority", cols[i].priority));
		json_object_set_new(t, "columnDefinitions", defs);
	} else {
		json_object_set_new(t, "columnDefinitions", json_null());
	}
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ json_t *obj = convert_from_storage(res, objs[i]);
		json_t *cells = json_array();
		row(obj, cells, now_usec);
		json_t *r = json_object();
		json_object_set_new(r, "cells", cells);
		if (include && streq(include, "Object"))
			json_object_set(r, "object", obj);
		else if (!include || !streq(include, "None"))
			json_object_set_new(r, "object", partial_metadata(obj));
		json_array_append_new(rows, r);
	}
	json_object_set_new(t, "rows", rows);
	return t;
}
