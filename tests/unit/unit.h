/* SPDX-License-Identifier: Apache-2.0 */
/* Common includes for cmocka unit tests. Each tests/unit/test_*.c is its own
 * program, linked against build/<flavour>/libc8s.a. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the includes above first. */
#include <cmocka.h>

#include "lib/macro.h"
