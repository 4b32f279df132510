/* test_splits.c: torch.randperm reproduced in C (values quoted in exact-behaviours.md
 * section 4, and tests/fixtures/tasks/randperm.json written by tools/make_task_fixtures.py
 * with real torch), and the reference's split rule applied to the fixture archive. */
#include <jansson.h>

#include "core/error.h"
#include "datasets/randperm.h"
#include "datasets/split.h"
#include "datasets/task.h"
#include "tests/check.h"

static json_t *perm_fixture(json_t *perms, size_t n, uint64_t seed) {
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) {
        if ((size_t)json_integer_value(json_object_get(p, "n")) == n &&
            (uint64_t)json_integer_value(json_object_get(p, "seed")) == seed)
            return p;
    }
    return NULL;
}

static void check_quoted(void) {
    struct mt19937 g;
    mt19937_seed(&g, 42);
    CHECK(mt19937_next(&g) == 1608637542u, "first draw of seed 42");
    static const struct {
        uint64_t seed;
        size_t v[10];
    } q[] = {{42, {2, 6, 1, 8, 4, 5, 0, 9, 3, 7}},
             {0, {4, 1, 7, 5, 3, 9, 0, 8, 6, 2}},
             {1, {5, 6, 1, 2, 0, 8, 9, 3, 7, 4}},
             {((uint64_t)1 << 32) + 1, {5, 6, 1, 2, 0, 8, 9, 3, 7, 4}},
             {((uint64_t)1 << 53) - 1, {1, 4, 6, 2, 0, 5, 8, 7, 9, 3}}};
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
        size_t p[10];
        CHECK(randperm(10, q[k].seed, p) == 0, "randperm(10)");
        CHECK(!memcmp(p, q[k].v, sizeof p), "randperm(10, seed %llu) differs from the spec",
              (unsigned long long)q[k].seed);
    }
    printf("  ok quoted randperm(10) values (5 seeds)\n");
}

static void check_torch_fixture(json_t *perms) {
    size_t i;
    json_t *f;
    /* tools/make_task_fixtures.py writes 14 permutations: a fixture without them must fail,
     * not run the loop below zero times */
    CHECK(json_array_size(perms) >= 14, "randperm.json: %zu permutations, want at least 14",
          json_array_size(perms));
    json_array_foreach(perms, i, f) {
        size_t n = (size_t)json_integer_value(json_object_get(f, "n"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(f, "seed"));
        json_t *head = json_object_get(f, "head"), *tail = json_object_get(f, "tail");
        size_t *p = malloc(n * sizeof *p);
        CHECK(p && randperm(n, seed, p) == 0, "randperm(%zu)", n);
        if (!p) continue;
        size_t nh = json_array_size(head), nt = json_array_size(tail), bad = 0;
        for (size_t k = 0; k < nh; k++)
            bad += p[k] != (size_t)json_integer_value(json_array_get(head, k));
        for (size_t k = 0; k < nt; k++)
            bad += p[n - nt + k] != (size_t)json_integer_value(json_array_get(tail, k));
        unsigned long long ws = 0;
        for (size_t k = 0; k < n; k++)
            ws += (unsigned long long)(k + 1) * p[k];
        CHECK(bad == 0, "randperm(%zu, %llu): %zu of %zu compared values differ from torch", n,
              (unsigned long long)seed, bad, nh + nt);
        CHECK(ws == (unsigned long long)json_integer_value(json_object_get(f, "weighted_sum")),
              "randperm(%zu): weighted checksum %llu differs from torch's", n, ws);
        printf("  ok randperm n=%-7zu seed=%-10llu matches torch (%zu values + checksum)\n", n,
               (unsigned long long)seed, nh + nt);
        free(p);
    }
}

/* The split of the fixture archive must pick the examples torch's permutation names. */
static void check_split_rule(json_t *perms) {
    const char *dir = "tests/fixtures/tasks/data";
    json_t *p4 = perm_fixture(perms, 4, 42), *p1005 = perm_fixture(perms, 1005, 42);
    CHECK(p4 && p1005, "fixture has n=4 and n=1005");
    if (!p4 || !p1005) return;
    json_t *h4 = json_object_get(p4, "head"), *h1005 = json_object_get(p1005, "head");

    /* small task (RTE dev, 4 rows): validation = perm[:2], test = perm[2:] */
    const struct task *rte = task_find("rte");
    struct example_set raw = {0}, va = {0}, te = {0}, tr = {0};
    CHECK(task_load_raw(rte, dir, "validation", &raw) == 0, "%s", error_message());
    CHECK(task_get(rte, dir, "validation", NULL, &va) == 0, "%s", error_message());
    CHECK(task_get(rte, dir, "test", NULL, &te) == 0, "%s", error_message());
    CHECK(task_get(rte, dir, "train", NULL, &tr) == 0, "%s", error_message());
    CHECK(va.n == 2 && te.n == 2 && tr.n == 1, "RTE split sizes %zu/%zu/%zu", va.n, te.n, tr.n);
    for (size_t k = 0; k < 4 && raw.n == 4 && va.n == 2 && te.n == 2; k++) {
        size_t want = (size_t)json_integer_value(json_array_get(h4, k));
        const struct example *e = k < 2 ? &va.ex[k] : &te.ex[k - 2];
        CHECK(!strcmp(e->text[0], raw.ex[want].text[0]), "RTE split position %zu is not raw %zu", k,
              want);
    }
    example_set_free(&raw);
    example_set_free(&va);
    example_set_free(&te);
    example_set_free(&tr);

    /* large task (SST-2 train, 1005 rows): validation = perm[:1000], train = perm[1000:],
     * test = dev as is */
    const struct task *sst = task_find("sst2");
    CHECK(task_get(sst, dir, "validation", NULL, &va) == 0, "%s", error_message());
    CHECK(task_get(sst, dir, "train", NULL, &tr) == 0, "%s", error_message());
    CHECK(task_get(sst, dir, "test", NULL, &te) == 0, "%s", error_message());
    CHECK(va.n == 1000 && tr.n == 5 && te.n == 2, "SST-2 split sizes %zu/%zu/%zu", va.n, tr.n,
          te.n);
    size_t bad = 0;
    for (size_t k = 0; k < 1005 && va.n == 1000 && tr.n == 5; k++) {
        char want[64];
        snprintf(want, sizeof want, "sentence: train sentence number %lld ",
                 (long long)json_integer_value(json_array_get(h1005, k)));
        bad += strcmp(k < 1000 ? va.ex[k].source : tr.ex[k - 1000].source, want) != 0;
    }
    CHECK(bad == 0, "SST-2: %zu examples not where torch's permutation puts them", bad);
    CHECK(te.n == 2 && !strcmp(te.ex[1].source, "sentence: unflinchingly bleak and desperate "),
          "SST-2 test = dev in file order");
    example_set_free(&va);
    example_set_free(&tr);
    example_set_free(&te);

    /* low-resource subsample: first n_obs of the selected indices */
    struct task_options o = task_options_default();
    o.n_obs = 3;
    CHECK(task_get(sst, dir, "train", &o, &tr) == 0 && tr.n == 3, "n_obs 3 of train");
    if (tr.n == 3) {
        char want[64];
        snprintf(want, sizeof want, "sentence: train sentence number %lld ",
                 (long long)json_integer_value(json_array_get(h1005, 1000)));
        CHECK(!strcmp(tr.ex[0].source, want), "n_obs keeps the order of the split");
    }
    example_set_free(&tr);
    size_t *idx = NULL, n_idx = 0;
    bad = 0;
    CHECK(split_subsample(1005, 42, 100, &idx, &n_idx) == 0 && n_idx == 100, "subsample 100");
    for (size_t k = 0; idx && k < n_idx; k++)
        bad += idx[k] != (size_t)json_integer_value(json_array_get(h1005, k));
    CHECK(bad == 0, "subsample = first n of randperm");
    free(idx);

    /* MNLI: validation = validation_mismatched, test = validation_matched, not shuffled */
    const struct task *mnli = task_find("mnli");
    CHECK(task_get(mnli, dir, "validation", NULL, &va) == 0 && va.n == 1, "%s", error_message());
    CHECK(task_get(mnli, dir, "test", NULL, &te) == 0 && te.n == 3, "%s", error_message());
    if (va.n == 1) CHECK(!strcmp(va.ex[0].target, "2"), "MNLI mismatched contradiction -> 2");
    if (te.n == 3)
        CHECK(!strcmp(te.ex[0].target, "1") && !strcmp(te.ex[2].target, "0"), "matched order");
    example_set_free(&va);
    example_set_free(&te);
    CHECK(split_source(rte, "dev") == NULL, "unknown split name rejected");
    printf("  ok split rules (small, large, MNLI, n_obs) on the fixture archive\n");
}

/* The real RTE dev set (277): halves of 138/139, in torch's order. */
static void check_real(json_t *perms) {
    const char *path = shared_data("glue-dev/RTE/dev.tsv");
    if (!path) {
        if (check_failures) return; /* report the fixture failures, not a skip */
        SKIP("real RTE split: ../shared/data/glue-dev/RTE/dev.tsv absent (fixture parts passed)");
    }
    json_t *p = perm_fixture(perms, 277, 42);
    const struct task *rte = task_find("rte");
    struct example_set raw = {0};
    CHECK(task_load_file(rte, path, &raw) == 0 && raw.n == 277, "%s", error_message());
    size_t *idx = NULL, n = 0;
    CHECK(split_select(rte, "test", raw.n, 42, -1, &idx, &n) == 0 && n == 139, "test half 139");
    for (size_t k = 0; idx && k < n; k++)
        CHECK(idx[k] ==
                  (size_t)json_integer_value(json_array_get(json_object_get(p, "head"), 138 + k)),
              "test index %zu", k);
    free(idx);
    example_set_free(&raw);
    printf("  ok real RTE dev split 138/139 follows torch's randperm(277)\n");
}

int main(void) {
    check_quoted();
    json_error_t err;
    json_t *fx = json_load_file("tests/fixtures/tasks/randperm.json", 0, &err);
    CHECK(fx != NULL, "randperm.json: %s", err.text);
    if (!fx) CHECK_DONE();
    json_t *perms = json_object_get(fx, "perms");
    check_torch_fixture(perms);
    check_split_rule(perms);
    check_real(perms);
    json_decref(fx);
    CHECK_DONE();
}
