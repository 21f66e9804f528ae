/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes resource quantities: "<number><suffix>", number a decimal with
 * optional sign and fraction, suffix one of the binary (Ki Mi Gi Ti Pi Ei),
 * decimal (n u m "" k M G T P E) or exponent (e3, E-2) forms.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

bool quantity_valid(const char *s);
/* Value in thousandths, rounded up (cpu "100m" -> 100, "1" -> 1000). -EINVAL / -ERANGE. */
int quantity_parse_milli(const char *s, int64_t *ret);
/* Value in whole units, rounded up (memory "1Gi" -> 1073741824, "1500m" -> 2). */
int quantity_parse(const char *s, int64_t *ret);
