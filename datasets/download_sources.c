/* download_sources.c: the pinned table of GLUE / SuperGLUE files, and mirror resolution.
 *
 * Where the pins come from (nothing here was computed by this project: no machine of it
 * reaches these URLs): the "download_checksums" (num_bytes, sha256) recorded for these exact
 * URLs in the Hugging Face `datasets` library, datasets/glue/dataset_infos.json and
 * datasets/super_glue/dataset_infos.json (huggingface/datasets, commit 040102f1). The GLUE
 * entries agree byte for byte with tensorflow_datasets/url_checksums/glue.txt, which lists
 * the same archives under their older firebasestorage URLs (and the same three MRPC files).
 *
 * MRPC: as in the classic download_glue_data.py, MRPC is not a zip: the Microsoft corpus
 * (msr_paraphrase_train.txt / msr_paraphrase_test.txt, mirrored by SentEval on
 * dl.fbaipublicfiles.com; the original is an .msi installer) plus GLUE's mrpc_dev_ids.tsv
 * are fetched and split into train.tsv / dev.tsv / test.tsv (download_tasks.c).
 * GLUE's diagnostic set is the plain file AX.tsv, placed as diagnostic/diagnostic.tsv. */
#include "datasets/download_sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "core/error.h"
#include "datasets/sha256.h"

static struct dataset_file table[] = {
    /* GLUE: https://dl.fbaipublicfiles.com/glue/data/<file> */
    {BENCH_GLUE, "CoLA", SOURCE_GLUE, "CoLA.zip", FILE_ZIP, 376971,
     "f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff", NULL},
    {BENCH_GLUE, "SST-2", SOURCE_GLUE, "SST-2.zip", FILE_ZIP, 7439277,
     "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa", NULL},
    {BENCH_GLUE, "MRPC", SOURCE_GLUE, "mrpc_dev_ids.tsv", FILE_RAW, 6222,
     "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7", NULL},
    {BENCH_GLUE, "MRPC", SOURCE_MRPC, "msr_paraphrase_train.txt", FILE_RAW, 1047044,
     "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89", NULL},
    {BENCH_GLUE, "MRPC", SOURCE_MRPC, "msr_paraphrase_test.txt", FILE_RAW, 441275,
     "a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784", NULL},
    {BENCH_GLUE, "QQP", SOURCE_GLUE, "QQP-clean.zip", FILE_ZIP, 41696084,
     "40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0", NULL},
    {BENCH_GLUE, "STS-B", SOURCE_GLUE, "STS-B.zip", FILE_ZIP, 802872,
     "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85", NULL},
    {BENCH_GLUE, "MNLI", SOURCE_GLUE, "MNLI.zip", FILE_ZIP, 312783507,
     "e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633", NULL},
    {BENCH_GLUE, "QNLI", SOURCE_GLUE, "QNLIv2.zip", FILE_ZIP, 10627589,
     "e634e78627a29adaecd4f955359b22bf5e70f2cbd93b493f2d624138a0c0e5f5", NULL},
    {BENCH_GLUE, "RTE", SOURCE_GLUE, "RTE.zip", FILE_ZIP, 697150,
     "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee", NULL},
    {BENCH_GLUE, "WNLI", SOURCE_GLUE, "WNLI.zip", FILE_ZIP, 28999,
     "ae0e8e4d16f4d46d4a0a566ec7ecceccfd3fbfaa4a7a4b4e02848c0f2561ac46", NULL},
    {BENCH_GLUE, "diagnostic", SOURCE_GLUE, "AX.tsv", FILE_RAW, 222257,
     "0e13510b1bb14436ff7e2ee82338f0efb0133ecf2e73507a697dc210db3f05fd", NULL},
    /* SuperGLUE v2: https://dl.fbaipublicfiles.com/glue/superglue/data/v2/<file> */
    {BENCH_SUPERGLUE, "BoolQ", SOURCE_SUPERGLUE, "BoolQ.zip", FILE_ZIP, 4118001,
     "853fbe7922f70c59629f06a39e8d9ca440c3d740e760fd3b87a5ddf3dcba2436", NULL},
    {BENCH_SUPERGLUE, "CB", SOURCE_SUPERGLUE, "CB.zip", FILE_ZIP, 75482,
     "8d641383298d54554066ba1c93f56ae7410af75df621b90c63028806bbbbb535", NULL},
    {BENCH_SUPERGLUE, "COPA", SOURCE_SUPERGLUE, "COPA.zip", FILE_ZIP, 43986,
     "405906cddac74bc1e1ce8220f1107d1025b66a25ef10149d91b10bb30651125f", NULL},
    {BENCH_SUPERGLUE, "MultiRC", SOURCE_SUPERGLUE, "MultiRC.zip", FILE_ZIP, 1116225,
     "b3cd440856e72eb166b2edcd37b798455f1ebd51f2c3de64c0c2a4e1971d2737", NULL},
    {BENCH_SUPERGLUE, "ReCoRD", SOURCE_SUPERGLUE, "ReCoRD.zip", FILE_ZIP, 51757880,
     "30c7b651ab21b8bf8fab986495cd1084333010e040548f861b839eec0044ac18", NULL},
    {BENCH_SUPERGLUE, "RTE", SOURCE_SUPERGLUE, "RTE.zip", FILE_ZIP, 750920,
     "6310aab3f000424c9d0318a1ff20692e07c7f4aa15e8f17a5972ea0a35c398b9", NULL},
    {BENCH_SUPERGLUE, "WiC", SOURCE_SUPERGLUE, "WiC.zip", FILE_ZIP, 396213,
     "ee7e67f4ae9eafbf533780faa198e62167f3cda54256cdf261877be3c0e90900", NULL},
    {BENCH_SUPERGLUE, "WSC", SOURCE_SUPERGLUE, "WSC.zip", FILE_ZIP, 32751,
     "2ed6dfa94556b4a128ff0441efe365b2e883124e7e6aa00fb8d3a6cb1fd520a9", NULL},
    {BENCH_SUPERGLUE, "AX-b", SOURCE_SUPERGLUE, "AX-b.zip", FILE_ZIP, 33950,
     "43b45c55a273575c58a33cd68f10a971f83daa3aa223bfbc4077b92fbdf960b3", NULL},
    {BENCH_SUPERGLUE, "AX-g", SOURCE_SUPERGLUE, "AX-g.zip", FILE_ZIP, 10413,
     "2d4e00d3a7d23d2c3787ee4c1382cc81a72cb05a76fc9d78d142949247ed61b9", NULL},
};

static const char *defaults[SOURCE_COUNT] = {
    "https://dl.fbaipublicfiles.com/glue/data",
    "https://dl.fbaipublicfiles.com/senteval/senteval_data",
    "https://dl.fbaipublicfiles.com/glue/superglue/data/v2",
    "https://huggingface.co",
};
static const char *env_names[SOURCE_COUNT][2] = {
    {"COMPACTER_GLUE_URL", NULL},
    {"COMPACTER_MRPC_URL", NULL},
    {"COMPACTER_SUPERGLUE_URL", NULL},
    {"COMPACTER_HF_ENDPOINT", "HF_ENDPOINT"},
};
static const char *names[SOURCE_COUNT] = {"GLUE", "MRPC (SentEval mirror)", "SuperGLUE",
                                          "Hugging Face hub"};
static char mirrors[SOURCE_COUNT][1024];

const struct dataset_file *dataset_table(size_t *n) {
    *n = sizeof table / sizeof table[0];
    return table;
}

const char *source_name(enum download_source s) { return s < SOURCE_COUNT ? names[s] : "?"; }

void source_set_mirror(enum download_source s, const char *url) {
    if (s >= SOURCE_COUNT) return;
    snprintf(mirrors[s], sizeof mirrors[s], "%s", url ? url : "");
}

const char *source_base_url(enum download_source s) {
    static _Thread_local char out[SOURCE_COUNT][1024];
    if (s >= SOURCE_COUNT) return "";
    const char *v = mirrors[s][0] ? mirrors[s] : NULL;
    for (int i = 0; i < 2 && !v; i++) {
        const char *e = env_names[s][i] ? getenv(env_names[s][i]) : NULL;
        if (e && *e) v = e;
    }
    if (!v) v = defaults[s];
    snprintf(out[s], sizeof out[s], "%s", v);
    size_t n = strlen(out[s]);
    while (n > 0 && out[s][n - 1] == '/') out[s][--n] = 0;
    return out[s];
}

int dataset_file_url(const struct dataset_file *f, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", source_base_url(f->source), f->file);
    if (n < 0 || (size_t)n >= cap) return error_set("URL too long for %s", f->file);
    return 0;
}

/* The table's index of (source, file); -1 + error when it has no such file. */
static int find_file(enum download_source source, const char *file) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].source == source && !strcmp(table[i].file, file)) return (int)i;
    return error_set("no dataset file %s from %s in the table", file, source_name(source));
}

/* Pin table[i] to size and sha256 (NULL: unpinned), saying where the pin came from. */
static void pin_set(int i, int64_t size, const char *sha256, const char *origin) {
    table[i].size = size;
    table[i].sha256 = sha256;
    table[i].unpinned_reason = sha256 ? NULL : "overridden";
    table[i].pin_origin = origin;
}

int dataset_pin_override(enum download_source source, const char *file, int64_t size,
                         const char *sha256) {
    int i = find_file(source, file);
    if (i < 0) return -1;
    pin_set(i, size, sha256, "an override");
    return 0;
}

int dataset_pins_load(const char *path) {
    static char shas[sizeof table / sizeof table[0]][65];
    static char origins[4][1024];
    static int n_origins = 0;
    FILE *f = fopen(path, "r");
    if (!f) return error_set("%s: cannot open the pin overrides", path);
    const char *origin = path;
    for (int i = 0; i < n_origins; i++)
        if (!strcmp(origins[i], path)) origin = origins[i];
    if (origin == path && n_origins < 4) origin = strncpy(origins[n_origins++], path, sizeof origins[0] - 1);
    char line[512];
    int lineno = 0, n = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char src[32], file[128], sha[80], extra[8];
        long long size;
        int k = sscanf(line, "%31s %127s %lld %79s %7s", src, file, &size, sha, extra);
        if (k <= 0) continue;
        enum download_source s = SOURCE_COUNT;
        if (!strcmp(src, "glue")) s = SOURCE_GLUE;
        else if (!strcmp(src, "mrpc")) s = SOURCE_MRPC;
        else if (!strcmp(src, "superglue")) s = SOURCE_SUPERGLUE;
        for (char *c = sha; k == 4 && *c; c++) *c = (char)tolower((unsigned char)*c);
        if (k != 4 || s == SOURCE_COUNT || size <= 0 || !is_hex_digest(sha, 64)) {
            rc = error_set("%s:%d: expected \"<glue|mrpc|superglue> <file> <size> <sha256>\"", path, lineno);
            break;
        }
        int i = find_file(s, file);
        if (i < 0) {
            rc = error_wrap("%s:%d: ", path, lineno);
            break;
        }
        memcpy(shas[i], sha, 65);
        pin_set(i, size, shas[i], origin);
        n++;
    }
    fclose(f);
    return rc ? -1 : n;
}

int dataset_pins_from_env(void) {
    static int done = 0, result = 0;
    static char err[1024];
    if (done) return result < 0 ? error_set("%s", err) : result;
    done = 1;
    const char *env = getenv("COMPACTER_DATASET_PINS");
    if (!env || !*env) return 0;
    result = dataset_pins_load(env);
    if (result < 0) {
        error_wrap("COMPACTER_DATASET_PINS: ");
        snprintf(err, sizeof err, "%s", error_message());
    }
    return result;
}
