/* test_t5_position.c: relative position buckets against the tables of
 * ../shared/docs/exact-behaviours.md section 5 (transformers' bucket function on the CPU
 * in torch), typed in here from the spec, boundary points n = 16, 32, 64 included. */
#include "tests/check.h"

#include "core/t5_position.h"

/* first n of each bucket >= max_exact, from the spec's tables */
static const int enc_after_start[] = {8, 12, 16, 23, 32, 46, 64, 91};   /* buckets 24..31 */
static const int dec_start[] = {16, 19, 21, 24, 27, 31, 35, 40, 46, 52, 59, 67, 77, 87, 99, 113}; /* 16..31 */

static int expected_from_starts(int n, const int *starts, int count, int first_bucket) {
    int b = first_bucket - 1;
    for (int i = 0; i < count; i++)
        if (n >= starts[i]) b = first_bucket + i;
    return b;
}

int main(void) {
    int bad = 0;
    for (int n = 0; n <= 300; n++) {
        /* encoder, key after query (+n) */
        int want = n == 0 ? 0 : n < 8 ? 16 + n : 16 + expected_from_starts(n, enc_after_start, 8, 8);
        int got = t5_position_bucket(n, 1, 32, 128);
        if (got != want) { bad++; fprintf(stderr, "enc +%d: %d want %d\n", n, got, want); }
        /* encoder, key before query (-n) */
        want = n < 8 ? n : expected_from_starts(n, enc_after_start, 8, 8);
        got = t5_position_bucket(-n, 1, 32, 128);
        if (got != want) { bad++; fprintf(stderr, "enc -%d: %d want %d\n", n, got, want); }
        /* decoder (causal), key before query */
        want = n < 16 ? n : expected_from_starts(n, dec_start, 16, 16);
        got = t5_position_bucket(-n, 0, 32, 128);
        if (got != want) { bad++; fprintf(stderr, "dec -%d: %d want %d\n", n, got, want); }
        /* decoder: future keys go to bucket 0 */
        if (n > 0 && t5_position_bucket(n, 0, 32, 128) != 0) { bad++; fprintf(stderr, "dec +%d not 0\n", n); }
    }
    CHECK(bad == 0, "%d bucket mismatches against the spec's tables for n = 0..300", bad);
    /* the exact-integer boundary points the spec singles out */
    CHECK(t5_position_bucket(16, 1, 32, 128) == 26, "n=+16");
    CHECK(t5_position_bucket(32, 1, 32, 128) == 28, "n=+32");
    CHECK(t5_position_bucket(64, 1, 32, 128) == 30, "n=+64");
    CHECK(t5_position_bucket(-16, 1, 32, 128) == 10, "n=-16");
    CHECK(t5_position_bucket(-32, 1, 32, 128) == 12, "n=-32");
    CHECK(t5_position_bucket(-64, 1, 32, 128) == 14, "n=-64");
    CHECK(t5_position_bucket(-113, 0, 32, 128) == 31 && t5_position_bucket(-112, 0, 32, 128) == 30, "dec 113");
    CHECK_DONE();
}
