/* unicode_grapheme.h: UTF-8 decoding and UAX #29 extended grapheme cluster boundaries
 * (GB3-GB13 including GB9c InCB conjuncts and GB11 emoji ZWJ sequences), as used by the
 * T5 Precompiled normaliser. Property tables (Unicode 17.0) are generated into
 * core/unicode_grapheme_tables.c by tools/make_grapheme_tables.py. */
#ifndef COMPACTER_UNICODE_GRAPHEME_H
#define COMPACTER_UNICODE_GRAPHEME_H

#include <stddef.h>
#include <stdint.h>

enum gcb {
    GCB_OTHER, GCB_CR, GCB_LF, GCB_CONTROL, GCB_EXTEND, GCB_ZWJ, GCB_RI, GCB_PREPEND,
    GCB_SPACINGMARK, GCB_L, GCB_V, GCB_T, GCB_LV, GCB_LVT
};
enum incb { INCB_NONE, INCB_CONSONANT, INCB_EXTEND, INCB_LINKER };

struct grapheme_range {
    uint32_t lo, hi;
    uint8_t value; /* bits 0-3 enum gcb, bit 4 Extended_Pictographic, bits 5-6 enum incb */
};
extern const struct grapheme_range grapheme_ranges[];
extern const unsigned grapheme_ranges_count;

/* The packed property byte of code point cp (0 = Other, not pictographic, InCB None). */
uint8_t grapheme_props(uint32_t cp);

/* Decode one UTF-8 char from s (n > 0 bytes available). Returns its length 1..4 and sets
 * *cp, or 0 when the bytes are not valid UTF-8 (overlong, surrogate, truncated, > U+10FFFF). */
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Byte offset of the first invalid UTF-8 sequence in s[0..n), or n when all valid. */
size_t utf8_validate(const char *s, size_t n);

/* Length in bytes of the extended grapheme cluster that starts at s (s[0..n) valid UTF-8,
 * n > 0). Always >= 1. */
size_t grapheme_next(const char *s, size_t n);

#endif
