/* error.c: the per-thread last-error message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERROR_CAP 2048
static _Thread_local char error_buf[ERROR_CAP];

int error_set(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return -1;
}

int error_wrap(const char *fmt, ...) {
    char prefix[ERROR_CAP], old[ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    size_t n = strlen(prefix);
    memcpy(error_buf, prefix, n);
    size_t m = strlen(old);
    if (n + m >= ERROR_CAP) m = ERROR_CAP - 1 - n;
    memcpy(error_buf + n, old, m);
    error_buf[n + m] = 0;
    return -1;
}

const char *error_message(void) { return error_buf; }

void error_clear(void) { error_buf[0] = 0; }
