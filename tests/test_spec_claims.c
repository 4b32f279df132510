/* test_spec_claims.c: facts of ../shared/docs/reference-spec.md and exact-behaviours.md that
 * no other test pins down, each checked against a value typed in here from the spec (or,
 * for the head factor, computed with numpy/torch and quoted below), never one produced by
 * the code under test:
 *  1. the tied head's factor f32(d_model ** -0.5) (exact-behaviours.md section 5);
 *  2. the task-name prefix only for methods without task adapters (reference-spec.md 5). */
#include "tests/check.h"

#include <stdint.h>

#include "core/error.h"
#include "core/t5_config.h"
#include "core/t5_forward.h"
#include "experiments/experiment.h"
#include "methods/method.h"

#define FIX "tests/fixtures"

/* ---- 1. tied head factor ---- */

static void head_scale(void) {
    /* numpy: np.float32(d ** -0.5); torch's `x * d ** -0.5` on an f32 tensor equals x times
     * that f32 value bit for bit (checked with torch 2.x on 1e5 random values for 384, 96,
     * 768). 1.0f / sqrtf(d) gives 0x3d5105eb and 0x3dd105eb for 384 and 96. */
    static const struct {
        int d;
        uint32_t bits;
    } want[] = {{768, 0x3d13cd3a}, {512, 0x3d3504f3}, {384, 0x3d5105ec}, {96, 0x3dd105ec},
                {1024, 0x3d000000}, {36, 0x3e2aaaab}, {40, 0x3e21e89b}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        float f = t5_tied_head_scale(want[i].d);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        CHECK(u == want[i].bits, "d_model %d: head factor 0x%08x, want 0x%08x", want[i].d, u,
              want[i].bits);
    }
}

/* ---- 2. task prefix ---- */

static void task_prefix(void) {
    /* reference-spec.md 5: prefix for full FT, BitFit, prompt tuning, SAID; none for the
     * methods with task adapters */
    static const struct {
        const char *method;
        int prefix;
    } want[] = {{"full", 1},           {"bitfit", 1},          {"prompt-tuning-r", 1},
                {"prompt-tuning-t", 1}, {"intrinsic-said", 1},  {"adapter", 0},
                {"pfeiffer", 0},        {"adapterdrop", 0},     {"adapter-lowrank", 0},
                {"phm-adapter", 0},     {"compacter", 0},       {"compacter++", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct method *me = method_find(want[i].method);
        CHECK(me != NULL, "method %s missing", want[i].method);
        if (me)
            CHECK(me->task_prefix == want[i].prefix, "%s: task_prefix %d, want %d", want[i].method,
                  me->task_prefix, want[i].prefix);
    }
}

int main(void) {
    head_scale();
    task_prefix();
    CHECK_DONE();
}
