/* test_tiny_model.c: the tiny model's spec and its supervised pre-training mix.
 *  - "pretrain_tasks" (JSON) and --tasks (text) name synthetic tasks; unknown, repeated or
 *    missing names are errors naming the field and the name;
 *  - the cache name: a spec whose supervised mix is all tasks keeps the name it had before
 *    the field existed (mask 0 = every bit); a subset is a different model, so a different
 *    name (a stale cached model is never used); the subset is in the stamp text;
 *  - synthetic_pretrain_task_example with a mask draws only the mask's tasks (read back from
 *    the decoded source's task prefix), each of them; with every bit set it is the same
 *    stream as with mask 0.
 * Expected values: the task table's prefixes and the definition of the mask. */
#include "tests/check.h"

#include <jansson.h>

#include "core/error.h"
#include "core/tokenizer.h"
#include "datasets/synthetic.h"
#include "experiments/tiny_model.h"

static int from_json(struct tiny_model_spec *s, const char *text) {
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o) return error_set("bad test JSON: %s", je.text);
    int rc = tiny_model_spec_from_json(s, o, "grid.json: presets.tiny.tiny_model");
    json_decref(o);
    return rc;
}

int main(void) {
    /* task index order of synthetic.h: sst2 cola mrpc stsb rte mnli boolq cb */
    CHECK(synthetic_task_count() == 8 && !strcmp(synthetic_task_name(1), "syn-cola") &&
              !strcmp(synthetic_task_name(5), "syn-mnli"),
          "synthetic task order changed");
    const uint32_t cola_mnli = (1u << 1) | (1u << 5), all = (1u << 8) - 1;

    struct tiny_model_spec s = tiny_model_spec_default();
    CHECK(s.pretrain_tasks == 0, "default mask %#x", s.pretrain_tasks);
    CHECK(from_json(&s, "{\"pretrain_supervised\": 0.5, \"pretrain_tasks\": [\"syn-mnli\", \"syn-cola\"]}") == 0 &&
              s.pretrain_tasks == cola_mnli,
          "pretrain_tasks: %s (mask %#x)", error_message(), s.pretrain_tasks);
    struct tiny_model_spec t = tiny_model_spec_default();
    CHECK(tiny_model_spec_set_tasks(&t, "syn-cola,syn-mnli", "--tasks") == 0 && t.pretrain_tasks == cola_mnli,
          "--tasks: %s", error_message());

    struct tiny_model_spec e = tiny_model_spec_default();
    CHECK(from_json(&e, "{\"pretrain_tasks\": [\"syn-cola\", \"syn-xyz\"]}") != 0 &&
              strstr(error_message(), "presets.tiny.tiny_model.pretrain_tasks") &&
              strstr(error_message(), "'syn-xyz'") && strstr(error_message(), "syn-mnli"),
          "unknown task: %s", error_message());
    CHECK(from_json(&e, "{\"pretrain_tasks\": [\"syn-cola\", \"syn-cola\"]}") != 0 &&
              strstr(error_message(), "named twice"),
          "repeated task: %s", error_message());
    CHECK(from_json(&e, "{\"pretrain_tasks\": []}") != 0 && strstr(error_message(), "non-empty array"),
          "empty list: %s", error_message());
    CHECK(from_json(&e, "{\"pretrain_tasks\": [3]}") != 0 && strstr(error_message(), "pretrain_tasks[0]"),
          "a number: %s", error_message());
    CHECK(tiny_model_spec_set_tasks(&e, "syn-cola,,syn-rte", "--tasks") != 0 && strstr(error_message(), "--tasks"),
          "empty name: %s", error_message());
    CHECK(e.pretrain_tasks == 0, "a failed parse changed the mask: %#x", e.pretrain_tasks);

    /* cache identity */
    struct tiny_model_spec a = tiny_model_spec_default(), b, c;
    a.pretrain_supervised = 0.5;
    b = a, c = a;
    b.pretrain_tasks = all;
    c.pretrain_tasks = cola_mnli;
    char na[128], nb[128], nc[128], text[1024];
    tiny_model_cache_name(&a, na, sizeof na);
    tiny_model_cache_name(&b, nb, sizeof nb);
    tiny_model_cache_name(&c, nc, sizeof nc);
    CHECK(!strcmp(na, nb), "every task vs mask 0: %s vs %s", nb, na);
    CHECK(strcmp(na, nc), "a subset of tasks kept the name %s", nc);
    tiny_model_spec_text(&c, text, sizeof text);
    CHECK(strstr(text, " pretrain_tasks syn-cola,syn-mnli"), "stamp: %s", text);
    tiny_model_spec_text(&a, text, sizeof text);
    CHECK(!strstr(text, "pretrain_tasks"), "stamp of all tasks: %s", text);
    struct tiny_model_spec d = c; /* no supervised examples: the mask does not matter */
    d.pretrain_supervised = 0;
    struct tiny_model_spec d0 = d;
    d0.pretrain_tasks = 0;
    tiny_model_cache_name(&d, nb, sizeof nb);
    tiny_model_cache_name(&d0, nc, sizeof nc);
    CHECK(!strcmp(nb, nc), "without supervised examples the mask changed the name");
    printf("  ok spec: pretrain_tasks parsed, checked, and part of the cache name\n");

    /* the mix */
    struct tokenizer *tok = tokenizer_load("assets/tiny/tokenizer.json");
    CHECK(tok, "tokenizer: %s", error_message());
    if (!tok) CHECK_DONE();
    int n_cola = 0, n_mnli = 0, other = 0, same = 1;
    for (uint64_t i = 0; i < 200; i++) {
        struct span_example x, y;
        CHECK(synthetic_pretrain_task_example(tok, 1, i, 0.05, cola_mnli, &x) == 0, "example %llu: %s",
              (unsigned long long)i, error_message());
        char *src = tokenizer_decode(tok, x.source, x.n_source, TOKENIZER_DECODE_SKIP_SPECIAL);
        if (src && !strncmp(src, "cola sentence:", 14))
            n_cola++;
        else if (src && !strncmp(src, "mnli premise:", 13))
            n_mnli++;
        else
            other++;
        free(src);
        span_example_free(&x);
        if (i < 50) {
            CHECK(synthetic_pretrain_task_example(tok, 1, i, 0.05, 0, &x) == 0 &&
                      synthetic_pretrain_task_example(tok, 1, i, 0.05, all, &y) == 0,
                  "example %llu", (unsigned long long)i);
            same &= x.n_source == y.n_source && x.n_target == y.n_target &&
                    !memcmp(x.source, y.source, x.n_source * sizeof *x.source) &&
                    !memcmp(x.target, y.target, x.n_target * sizeof *x.target);
            span_example_free(&x);
            span_example_free(&y);
        }
    }
    CHECK(other == 0 && n_cola > 50 && n_mnli > 50, "mask cola+mnli: %d cola, %d mnli, %d other", n_cola, n_mnli,
          other);
    CHECK(same, "every bit set is not the same stream as mask 0");
    struct span_example z;
    CHECK(synthetic_pretrain_task_example(tok, 1, 0, 0.05, 1u << 8, &z) != 0 && strstr(error_message(), "mask"),
          "a bit past the last task: %s", error_message());
    printf("  ok mix: %d cola, %d mnli of 200; all bits = mask 0\n", n_cola, n_mnli);
    tokenizer_free(tok);
    CHECK_DONE();
}
