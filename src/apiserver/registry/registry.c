/* SPDX-License-Identifier: Apache-2.0 */
/* The table of served resources, in discovery order. */
#include "apiserver/resource.h"

extern const struct resource resource_pods, resource_services, resource_namespaces, resource_nodes,
    resource_endpoints, resource_configmaps, resource_secrets, resource_serviceaccounts,
    resource_events, resource_deployments, resource_replicasets, resource_leases,
    resource_endpointslices, resource_events_v1, resource_selfsubjectreviews,
    resource_selfsubjectaccessreviews, resource_selfsubjectrulesreviews;

const struct resource *const resources_all[] = {
	&resource_configmaps,
	&resource_endpoints,
	&resource_events,
	&resource_namespaces,
	&resource_nodes,
	&resource_pods,
	&resource_secrets,
	&resource_serviceaccounts,
	&resource_services,
	&resource_deployments,
	&resource_replicasets,
	&resource_leases,
	&resource_endpointslices,
	&resource_events_v1,
	&resource_selfsubjectreviews,
	&resource_selfsubjectaccessreviews,
	&resource_selfsubjectrulesreviews,
	NULL,
};

const struct resource *resource_find(const char *group, const char *version, const char *plural)
{
	for (const struct resource *const *r = resources_all; *r; r++)
		if (streq((*r)->plural, plural) && streq((*r)->group, group) &&
		    streq((*r)->version, version))
			return *r;
	return NULL;
}

const struct resource *resource_find_kind(const char *group, const char *kind)
{
	for (const struct resource *const *r = resources_all; *r; r++)
		if (streq((*r)->kind, kind) && streq((*r)->group, group))
			return *r;
	return NULL;
}

const struct resource *resource_storage(const struct resource *res)
{
	return res->storage_of ? res->storage_of : res;
}

size_t resource_nfields(const struct resource *res)
{
	size_t n = 0;
	for (const char *const *f = res->fields; f && *f; f++)
		n++;
	return n;
}

int resource_field_index(const struct resource *res, const char *field)
{
	int i = 0;
	for (const char *const *f = res->fields; f && *f; f++, i++)
		if (streq(*f, field))
			return i;
	return -1;
}
