/* test_download_hub.c: ensure_model() against the hub emulation of tests/http_server.py:
 * a single-file repo (LFS safetensors via a 302 with X-Linked-Etag, small files verified by
 * their git blob sha1) then a cache hit with no request, a sharded repo (index + 2 shards),
 * a listing without digests (verified from the headers), a missing repo, a repo without
 * safetensors, a user folder (--model DIR), and repo-id validation. */
#include "core/error.h"
#include "datasets/download_sources.h"
#include "datasets/hub.h"
#include "tests/check.h"
#include "tests/test_download_server.h"

static int same_file(const char *a, const void *data, size_t n) {
    FILE *f = fopen(a, "rb");
    if (!f) return 0;
    static unsigned char buf[1 << 17];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return got == n && !memcmp(buf, data, n);
}

int main(void) {
    char tmp[256], root[300], cache[300], p[8192], dir[4096];
    if (scratch_dir(tmp, sizeof tmp, "dlhub") != 0) SKIP("cannot create a scratch dir in /tmp");
    snprintf(root, sizeof root, "%s/www", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    static unsigned char weights[100000], shard1[40000], shard2[30000];
    fill_bytes(weights, sizeof weights, 1);
    fill_bytes(shard1, sizeof shard1, 2);
    fill_bytes(shard2, sizeof shard2, 3);
    const char *config = "{\"model_type\": \"t5\", \"d_model\": 64}\n";
    const char *tok = "{\"model\": {\"type\": \"Unigram\"}}\n";
    snprintf(p, sizeof p, "%s/hub/google/t5-tiny/config.json", root);
    write_file(p, config, strlen(config));
    snprintf(p, sizeof p, "%s/hub/google/t5-tiny/model.safetensors", root);
    write_file(p, weights, sizeof weights);
    snprintf(p, sizeof p, "%s/hub/google/t5-tiny/tokenizer.json", root);
    write_file(p, tok, strlen(tok));
    snprintf(p, sizeof p, "%s/hub/google/t5-tiny/README.md", root);
    write_file(p, "# not fetched\n", 14);
    const char *index = "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                        "\"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}}\n";
    snprintf(p, sizeof p, "%s/hub/t5-sharded/config.json", root);
    write_file(p, config, strlen(config));
    snprintf(p, sizeof p, "%s/hub/t5-sharded/model.safetensors.index.json", root);
    write_file(p, index, strlen(index));
    snprintf(p, sizeof p, "%s/hub/t5-sharded/model-00001-of-00002.safetensors", root);
    write_file(p, shard1, sizeof shard1);
    snprintf(p, sizeof p, "%s/hub/t5-sharded/model-00002-of-00002.safetensors", root);
    write_file(p, shard2, sizeof shard2);
    snprintf(p, sizeof p, "%s/hub/old/t5-bin/config.json", root);
    write_file(p, config, strlen(config));
    snprintf(p, sizeof p, "%s/hub/old/t5-bin/pytorch_model.bin", root);
    write_file(p, "bin", 3);

    struct test_server srv;
    if (server_start(&srv, root, 60) != 0) SKIP("cannot start python3 tests/http_server.py");
    setenv("COMPACTER_CACHE", cache, 1);
    unsetenv("HF_ENDPOINT");
    unsetenv("COMPACTER_HF_REVISION");
    setenv("COMPACTER_HF_ENDPOINT", srv.base, 1);
    struct download_opts o = test_opts();
    download_set_defaults(&o);

    /* a single-file repo, then a cache hit */
    int rc = ensure_model("google/t5-tiny", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/models/google--t5-tiny", cache);
    CHECK(rc == 0 && !strcmp(dir, p), "t5-tiny -> %s (%s)", dir, error_message());
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(same_file(p, weights, sizeof weights), "weights fetched intact");
    snprintf(p, sizeof p, "%s/config.json", dir);
    CHECK(same_file(p, config, strlen(config)), "config.json");
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    CHECK(same_file(p, tok, strlen(tok)), "tokenizer.json");
    snprintf(p, sizeof p, "%s/README.md", dir);
    CHECK(!path_is_file(p), "README not fetched");
    snprintf(p, sizeof p, "%s/.compacter-complete", dir);
    CHECK(path_is_file(p), "marker written");
    long reqs = 0, cdn = 0, api = 0;
    server_stats(&srv, "/google/t5-tiny/resolve/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "/model.safetensors",
                 &reqs, NULL, NULL, 0);
    server_stats(&srv, "/cdn/google/t5-tiny/model.safetensors", &cdn, NULL, NULL, 0);
    CHECK(reqs == 1 && cdn == 1, "resolve pinned to the listing's commit, redirected to the CDN (%ld, %ld)", reqs, cdn);
    rc = ensure_model("google/t5-tiny", dir, sizeof dir);
    server_stats(&srv, "/api/models/google/t5-tiny/revision/main", &api, NULL, NULL, 0);
    server_stats(&srv, "/cdn/google/t5-tiny/model.safetensors", &cdn, NULL, NULL, 0);
    CHECK(rc == 0 && api == 1 && cdn == 1, "cache hit: api %ld, cdn %ld requests in all (want 1, 1)", api, cdn);

    /* sharded */
    rc = ensure_model("t5-sharded", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/models/t5-sharded", cache);
    CHECK(rc == 0 && !strcmp(dir, p), "sharded -> %s (%s)", dir, error_message());
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    CHECK(same_file(p, shard1, sizeof shard1), "shard 1");
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    CHECK(same_file(p, shard2, sizeof shard2), "shard 2");
    server_stats(&srv, "/cdn/t5-sharded/model-00001-of-00002.safetensors", &cdn, NULL, NULL, 0);
    CHECK(cdn == 1, "a shard named twice in the index is fetched once (%ld)", cdn);

    /* a listing without sizes/digests: verified from X-Linked-Etag / ETag headers */
    setenv("COMPACTER_CACHE", p, 1);
    snprintf(p, sizeof p, "%s/cache2", tmp);
    setenv("COMPACTER_CACHE", p, 1);
    snprintf(p, sizeof p, "%s/bare", srv.base);
    source_set_mirror(SOURCE_HF, p);
    rc = ensure_model("google/t5-tiny", dir, sizeof dir);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(rc == 0 && same_file(p, weights, sizeof weights), "headers-only verification: %s", error_message());
    source_set_mirror(SOURCE_HF, NULL);

    /* a missing repo, and one without safetensors */
    rc = ensure_model("nobody/nothing", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "not found") && strstr(error_message(), "--model DIR"),
          "missing repo: %s", error_message());
    printf("  missing repo: %s\n", error_message());
    rc = ensure_model("old/t5-bin", dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "pytorch_model.bin") && strstr(error_message(), "safetensors"),
          "no safetensors: %s", error_message());

    /* --model DIR: used as is; a folder without config.json is refused */
    snprintf(p, sizeof p, "%s/hub/google/t5-tiny", root);
    rc = ensure_model(p, dir, sizeof dir);
    CHECK(rc == 0 && !strcmp(dir, p), "user folder");
    rc = ensure_model(tmp, dir, sizeof dir);
    CHECK(rc == -1 && strstr(error_message(), "config.json"), "folder without config: %s", error_message());

    /* repo ids */
    char name[256];
    CHECK(hub_cache_name("google/flan-t5-base", name, sizeof name) == 0 && !strcmp(name, "google--flan-t5-base"), "%s", name);
    CHECK(hub_cache_name("t5-small", name, sizeof name) == 0 && !strcmp(name, "t5-small"), "%s", name);
    CHECK(hub_cache_name("a/b/c", name, sizeof name) == -1, "two slashes");
    CHECK(hub_cache_name("../etc", name, sizeof name) == -1, "dots");
    CHECK(hub_cache_name("a b", name, sizeof name) == -1, "space");

    server_stop(&srv);
    remove_tree(tmp);
    CHECK_DONE();
}
