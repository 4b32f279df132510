/* download_progress.h: a one-line progress bar on stderr for download_file()'s progress
 * callback: bytes done / total, rate, ETA. Draws only when stderr is a terminal, at most
 * ten times a second; prints nothing otherwise (logs stay clean). */
#ifndef COMPACTER_DOWNLOAD_PROGRESS_H
#define COMPACTER_DOWNLOAD_PROGRESS_H

#include <stdint.h>

/* A download_progress_fn; user is unused (may be NULL). */
void download_progress_bar(void *user, const char *label, int64_t done, int64_t total, int final);

#endif
