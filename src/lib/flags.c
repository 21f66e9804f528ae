/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/flags.h"
#include "lib/macro.h"
#include "lib/timeutil.h"

void flags_usage(FILE *f, const char *usage, const struct flag *flags)
{
	fprintf(f, "%s\n\nFlags:\n", usage);
	for (const struct flag *fl = flags; fl->name; fl++) {
		const char *arg = fl->type == FLAG_BOOL	    ? ""
				  : fl->type == FLAG_INT      ? " int"
				  : fl->type == FLAG_DURATION ? " duration"
							      : " string";
		fprintf(f, "      --%s%s\n\t%s\n", fl->name, arg, fl->help);
	}
}

static int set_value(const struct flag *fl, const char *v)
{
	char *end;
	switch (fl->type) {
	case FLAG_STRING:
		*(const char **)fl->ptr = v;
		return 0;
	case FLAG_INT: {
		long n = strtol(v, &end, 10);
		if (!*v || *end)
			return -EINVAL;
		*(int *)fl->ptr = (int)n;
		return 0;
	}
	case FLAG_BOOL:
		if (streq(v, "true") || streq(v, "1"))
			*(bool *)fl->ptr = true;
		else if (streq(v, "false") || streq(v, "0"))
			*(bool *)fl->ptr = false;
		else
			return -EINVAL;
		return 0;
	case FLAG_DURATION: {
		int64_t us;
		long n = strtol(v, &end, 10);
		if (*v && !*end) {
			*(int64_t *)fl->ptr = (int64_t)n * 1000000;
			return 0;
		}
		if (duration_parse(v, &us) < 0)
			return -EINVAL;
		*(int64_t *)fl->ptr = us;
		return 0;
	}
	case FLAG_STRV: {
		const char ***pv = fl->ptr;
		size_t n = 0;
		while (*pv && (*pv)[n])
			n++;
		/* Values may also be comma-separated. */
		char *copy = xstrdup(v), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			*pv = xrealloc((void *)*pv, (n + 2) * sizeof(char *));
			(*pv)[n++] = xstrdup(p);
			(*pv)[n] = NULL;
		}
		free(copy);
		return 0;
	}
	}
	return -EINVAL;
}

int flags_parse(const struct flag *flags, const char *usage, int argc, char **argv,
		char ***ret_args)
{
	char **args = xnew(char *, (size_t)argc + 1);
	size_t nargs = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == 0) {
			args[nargs++] = argv[i];
			continue;
		}
		if (streq(a, "--")) {
			while (++i < argc)
				args[nargs++] = argv[i];
			break;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		if (streq(name, "help") || streq(name, "h")) {
			flags_usage(stdout, usage, flags);
			free(args);
			return 1;
		}
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct flag *fl = NULL;
		for (const struct flag *f = flags; f->name; f++)
			if (strlen(f->name) == nlen && strncmp(f->name, name, nlen) == 0)
				fl = f;
		if (!fl) {
			fprintf(stderr, "Error: unknown flag: --%.*s\n", (int)nlen, name);
			free(args);
			return -EINVAL;
		}
		const char *value;
		if (eq)
			value = eq + 1;
		else if (fl->type == FLAG_BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "Error: flag needs an argument: --%s\n", fl->name);
			free(args);
			return -EINVAL;
		}
		if (set_value(fl, value) < 0) {
			fprintf(stderr, "Error: invalid argument \"%s\" for \"--%s\" flag\n", value,
				fl->name);
			free(args);
			return -EINVAL;
		}
	}
	args[nargs] = NULL;
	if (ret_args)
		*ret_args = args;
	else
		free(args);
	return 0;
}
