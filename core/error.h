/* error.h: errors as values. A failing library call records one message (with the
 * file, field or tensor it concerns) and returns -1 or NULL; the program prints it once
 * at the top and exits non-zero. Nothing in the library calls exit(). */
#ifndef COMPACTER_ERROR_H
#define COMPACTER_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Record a message (printf-style) and return -1, so callers can `return error_set(...)`. */
int error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepend context to the recorded message ("loading model/: " + old). Returns -1. */
int error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded message ("" when none). Per thread. */
const char *error_message(void);
void error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
