/*
 * blob_sweep.h - the frontend's periodic deletion of stored PDFs that nothing refers to any
 * more (docs/database.md "blobs"): a thread that calls db_blobs_sweep every interval_ms. Every
 * frontend runs one; sweeps are idempotent, so several at once only repeat each other's work.
 * A failed sweep is logged and tried again at the next interval.
 */
#ifndef PROFAI_FRONTEND_BLOB_SWEEP_H
#define PROFAI_FRONTEND_BLOB_SWEEP_H

#include "db.h"

typedef struct blob_sweep_t blob_sweep_t;

/* Start sweeping: db is borrowed and must outlive the sweeper. grace_ms: how long a PDF is
 * kept after it was last stored even with nothing referring to it (it must cover the time
 * between storing a PDF and queueing its job). NULL when the thread cannot start. */
blob_sweep_t *blob_sweep_new(db_pool_t *db, int interval_ms, long long grace_ms);

/* Stop the thread (waits for a sweep in progress), free. */
void blob_sweep_destroy(blob_sweep_t **self_p);

#endif
