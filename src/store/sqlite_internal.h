/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the SQLite backend that tests (and benchmarks) may use.
 * Nothing outside src/store/ and tests/ includes this header.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Counters kept by the writer thread since the store was opened. */
struct sqlite_store_stats {
	uint64_t batches;	 /* write batches run (one transaction each) */
	uint64_t commits;	 /* write batches that committed */
	uint64_t ops;		 /* ops taken from the queue */
	uint64_t max_batch;	 /* largest batch seen */
	uint64_t compact_chunks; /* compaction transactions committed */
};

/* s must be a store opened with the SQLite backend. */
void sqlite_store_get_stats(struct store *s, struct sqlite_store_stats *ret);

/* While held, the writer takes no new op from the queue (ops already taken
 * finish). Lets a test queue ops and have them run as exactly one batch. */
void sqlite_store_hold(struct store *s, bool hold);

/* Make the n-th row insert from now (n >= 1) fail as if SQLite had returned
 * an I/O error; 0 cancels. Exercises the batch rollback path. */
void sqlite_store_inject_failure(struct store *s, unsigned n);

/* Rows handled per compaction transaction (default 1000). */
void sqlite_store_set_compact_chunk(struct store *s, unsigned rows);
