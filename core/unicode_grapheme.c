/* unicode_grapheme.c: UTF-8 decoding and UAX #29 extended grapheme cluster segmentation
 * (the rules of the Rust crate unicode-segmentation's graphemes(true)). */
#include "core/unicode_grapheme.h"

uint8_t grapheme_props(uint32_t cp) {
    if (cp < 0x80) {
        if (cp == '\r') return GCB_CR;
        if (cp == '\n') return GCB_LF;
        return (cp < 0x20 || cp == 0x7F) ? GCB_CONTROL : GCB_OTHER;
    }
    unsigned lo = 0, hi = grapheme_ranges_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (grapheme_ranges[mid].hi < cp)
            lo = mid + 1;
        else if (grapheme_ranges[mid].lo > cp)
            hi = mid;
        else
            return grapheme_ranges[mid].value;
    }
    return 0;
}

int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

size_t utf8_validate(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int len = utf8_decode(u + i, n - i, &cp);
        if (!len) return i;
        i += (size_t)len;
    }
    return n;
}

#define PROP_GCB(p) ((p)&0x0F)
#define PROP_PICT(p) (((p) >> 4) & 1)
#define PROP_INCB(p) (((p) >> 5) & 3)

size_t grapheme_next(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    int len = utf8_decode(u, n, &cp);
    if (!len) return 1;
    size_t i = (size_t)len;
    uint8_t prev = grapheme_props(cp);
    /* ASCII fast path: an ASCII char other than CR followed by an ASCII char always breaks. */
    if (cp < 0x80 && cp != '\r' && (i >= n || u[i] < 0x80)) return i;
    int ri_count = PROP_GCB(prev) == GCB_RI;
    int emoji = PROP_PICT(prev) ? 1 : 0;      /* 1: ExtPict Extend*, 2: ... ZWJ */
    int conj = PROP_INCB(prev) == INCB_CONSONANT; /* 1: Consonant [Ext|Link]*, 2: with a Linker */
    while (i < n) {
        len = utf8_decode(u + i, n - i, &cp);
        if (!len) break;
        uint8_t cur = grapheme_props(cp);
        int pg = PROP_GCB(prev), cg = PROP_GCB(cur);
        int join;
        if (pg == GCB_CR && cg == GCB_LF)
            join = 1; /* GB3 */
        else if (pg == GCB_CR || pg == GCB_LF || pg == GCB_CONTROL)
            join = 0; /* GB4 */
        else if (cg == GCB_CR || cg == GCB_LF || cg == GCB_CONTROL)
            join = 0; /* GB5 */
        else if (pg == GCB_L && (cg == GCB_L || cg == GCB_V || cg == GCB_LV || cg == GCB_LVT))
            join = 1; /* GB6 */
        else if ((pg == GCB_LV || pg == GCB_V) && (cg == GCB_V || cg == GCB_T))
            join = 1; /* GB7 */
        else if ((pg == GCB_LVT || pg == GCB_T) && cg == GCB_T)
            join = 1; /* GB8 */
        else if (cg == GCB_EXTEND || cg == GCB_ZWJ || cg == GCB_SPACINGMARK || pg == GCB_PREPEND)
            join = 1; /* GB9, GB9a, GB9b */
        else if (conj == 2 && PROP_INCB(cur) == INCB_CONSONANT)
            join = 1; /* GB9c */
        else if (emoji == 2 && pg == GCB_ZWJ && PROP_PICT(cur))
            join = 1; /* GB11 */
        else if (pg == GCB_RI && cg == GCB_RI && (ri_count & 1))
            join = 1; /* GB12, GB13 */
        else
            join = 0; /* GB999 */
        if (!join) break;
        /* state for GB9c, GB11, GB12/13 */
        int ci = PROP_INCB(cur);
        if (ci == INCB_CONSONANT)
            conj = 1;
        else if (conj && ci == INCB_LINKER)
            conj = 2;
        else if (!(conj && ci == INCB_EXTEND))
            conj = 0;
        if (PROP_PICT(cur))
            emoji = 1;
        else if (emoji == 1 && cg == GCB_EXTEND)
            emoji = 1;
        else if (emoji == 1 && cg == GCB_ZWJ)
            emoji = 2;
        else
            emoji = 0;
        ri_count = cg == GCB_RI ? ri_count + 1 : 0;
        prev = cur;
        i += (size_t)len;
    }
    return i;
}
