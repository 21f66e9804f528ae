/* SPDX-License-Identifier: Apache-2.0 */
/* Times as Kubernetes writes them, and its human-readable durations. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* usec since the epoch -> "2026-11-29T03:11:06Z" (metav1.Time: seconds). buf >= 32. */
void time_format_rfc3339(int64_t usec, char *buf);
/* usec since the epoch -> "2026-11-29T03:11:06.123456Z" (metav1.MicroTime). buf >= 40. */
void time_format_rfc3339_micro(int64_t usec, char *buf);
/* Parse RFC 3339 with optional fraction and Z or +hh:mm offset. -EINVAL on error. */
int time_parse_rfc3339(const char *s, int64_t *ret_usec);
/* Kubernetes' HumanDuration, as kubectl's AGE column shows it:
 * <2m "45s"; <10m "5m30s" (or "5m" when seconds are 0); <3h "95m"; <8h "5h30m" (or "5h");
 * <48h "30h"; <8d "3d5h" (or "3d"); <2y "300d"; else "2y100d" style ("3y").
 * Negative or tiny durations print "0s"; buf >= 32. */
void human_duration(int64_t usec, char *buf);
/* Parse a Go duration string ("1m30s", "500ms", "2h") into usec. */
int duration_parse(const char *s, int64_t *ret_usec);
