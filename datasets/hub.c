/* hub.c: fetch a model repo's files from the Hugging Face hub into the cache (see hub.h). */
#include "datasets/hub.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/cache.h"
#include "datasets/download.h"
#include "datasets/download_sources.h"
#include "datasets/sha256.h"

#define MARKER ".compacter-complete"

static const char *optional_files[] = {"tokenizer.json", "spiece.model", "tokenizer_config.json",
                                       "special_tokens_map.json", "generation_config.json"};

int hub_cache_name(const char *repo_id, char *out, size_t cap) {
    size_t n = strlen(repo_id), slashes = 0, k = 0;
    if (n == 0 || n > 200 || repo_id[0] == '/' || repo_id[0] == '.' || repo_id[n - 1] == '/')
        return error_set("'%s' is not a Hugging Face repo id (org/name or name)", repo_id);
    if (strstr(repo_id, "..") || strstr(repo_id, "--"))
        return error_set("'%s' is not a Hugging Face repo id", repo_id);
    for (size_t i = 0; i < n; i++) {
        char c = repo_id[i];
        if (c == '/') {
            if (++slashes > 1) return error_set("'%s' is not a Hugging Face repo id", repo_id);
            if (k + 2 >= cap) break;
            out[k++] = '-';
            out[k++] = '-';
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
            return error_set("'%s' is not a Hugging Face repo id (bad character '%c')", repo_id, c);
        if (k + 1 >= cap) break;
        out[k++] = c;
    }
    if (k + 1 >= cap) return error_set("repo id too long: %s", repo_id);
    out[k] = 0;
    return 0;
}

static int put(char *out, size_t cap, const char *s) {
    if (strlen(s) >= cap) return error_set("path too long: %s", s);
    strcpy(out, s);
    return 0;
}

static json_t *find_sibling(json_t *siblings, const char *name) {
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s) {
        const char *f = json_string_value(json_object_get(s, "rfilename"));
        if (f && !strcmp(f, name)) return s;
    }
    return NULL;
}

static int by_hand_hint(const char *repo, const char *dir) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", error_message());
    return error_set("%s\n  to work offline, put config.json, model.safetensors (or its shards and "
                     "model.safetensors.index.json) and tokenizer.json / spiece.model of %s in a "
                     "folder and pass --model DIR (or place them in %s/ with an empty file %s), or "
                     "point COMPACTER_HF_ENDPOINT / HF_ENDPOINT / --mirror at a reachable hub mirror",
                     msg, repo, dir, MARKER);
}

/* Fetch one listed file into dir, verified by the listing's digest or the headers'. */
static int fetch_one(const char *repo, const char *commit, json_t *sib, const char *name,
                     const char *dir) {
    char url[2048], dest[4200];
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", source_base_url(SOURCE_HF), repo, commit, name);
    snprintf(dest, sizeof dest, "%s/%s", dir, name);
    if (strchr(name, '/')) { /* a file in a sub-folder of the repo */
        char sub[4200];
        snprintf(sub, sizeof sub, "%s", dest);
        *strrchr(sub, '/') = 0;
        if (mkdir_p(sub) != 0) return -1;
    }
    struct download_expect ex = {.size = -1, .headers_give_digest = 1, .require_digest = 1};
    json_t *lfs = json_object_get(sib, "lfs");
    const char *sha = json_string_value(json_object_get(lfs, "sha256"));
    const char *blob = json_string_value(json_object_get(sib, "blobId"));
    json_t *sz = json_object_get(lfs, "size");
    if (!json_is_integer(sz)) sz = json_object_get(sib, "size");
    if (json_is_integer(sz)) ex.size = (int64_t)json_integer_value(sz);
    if (sha && is_hex_digest(sha, 64)) ex.sha256 = sha;
    else if (!lfs && blob && is_hex_digest(blob, 40)) ex.git_sha1 = blob;
    return download_file(url, dest, &ex, download_defaults(), NULL);
}

/* The shard names of an index file (unique values of weight_map), into a JSON array. */
static json_t *index_shards(const char *index_path) {
    json_error_t jerr;
    json_t *j = json_load_file(index_path, 0, &jerr);
    if (!j) {
        error_set("%s: not JSON: %s (line %d)", index_path, jerr.text, jerr.line);
        return NULL;
    }
    json_t *map = json_object_get(j, "weight_map"), *out = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        const char *f = json_string_value(v);
        if (!f) continue;
        int seen = 0;
        size_t i;
        json_t *s;
        json_array_foreach(out, i, s) seen |= !strcmp(json_string_value(s), f);
        if (!seen) json_array_append_new(out, json_string(f));
    }
    json_decref(j);
    if (json_array_size(out) == 0) {
        json_decref(out);
        error_set("%s: no weight_map entries", index_path);
        return NULL;
    }
    return out;
}

static int download_repo(const char *repo, const char *dir) {
    const char *rev = getenv("COMPACTER_HF_REVISION");
    if (!rev || !*rev) rev = "main";
    char url[2048], *body = NULL;
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", source_base_url(SOURCE_HF),
             repo, rev);
    long status = 0;
    if (download_to_memory(url, download_defaults(), &body, NULL, &status) != 0) {
        if (status == 401 || status == 404)
            error_wrap("model '%s' not found on %s (or gated; this program sends no token): ", repo,
                       source_base_url(SOURCE_HF));
        return -1;
    }
    json_error_t jerr;
    json_t *info = json_loads(body, 0, &jerr);
    free(body);
    json_t *siblings = json_object_get(info, "siblings");
    if (!info || !json_is_array(siblings)) {
        json_decref(info);
        return error_set("%s: not a model listing (no siblings array)", url);
    }
    const char *commit = json_string_value(json_object_get(info, "sha"));
    if (!commit || !is_hex_digest(commit, 40)) commit = rev;
    char commit_buf[128];
    snprintf(commit_buf, sizeof commit_buf, "%s", commit);
    int rc = -1;
    json_t *shards = NULL;
    if (mkdir_p(dir) != 0) goto done;
    json_t *s = find_sibling(siblings, "config.json");
    if (!s) {
        error_set("%s has no config.json (%s)", repo, url);
        goto done;
    }
    if (fetch_one(repo, commit_buf, s, "config.json", dir) != 0) goto done;
    if ((s = find_sibling(siblings, "model.safetensors"))) {
        if (fetch_one(repo, commit_buf, s, "model.safetensors", dir) != 0) goto done;
    } else if ((s = find_sibling(siblings, "model.safetensors.index.json"))) {
        if (fetch_one(repo, commit_buf, s, "model.safetensors.index.json", dir) != 0) goto done;
        char idx[4200];
        snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
        if (!(shards = index_shards(idx))) goto done;
        size_t i;
        json_t *sh;
        json_array_foreach(shards, i, sh) {
            const char *name = json_string_value(sh);
            json_t *sib = find_sibling(siblings, name);
            if (!sib || strstr(name, "..") || name[0] == '/') {
                error_set("%s: shard %s listed in the index is not in the repo", repo, name);
                goto done;
            }
            if (fetch_one(repo, commit_buf, sib, name, dir) != 0) goto done;
        }
    } else {
        char have[1024] = "";
        size_t i;
        json_t *x;
        json_array_foreach(siblings, i, x) {
            const char *f = json_string_value(json_object_get(x, "rfilename"));
            if (f && strlen(have) + strlen(f) + 3 < sizeof have)
                strcat(strcat(have, have[0] ? ", " : ""), f);
        }
        error_set("%s has no model.safetensors or model.safetensors.index.json (files: %s); this "
                  "program reads safetensors only: convert the weights and pass --model DIR",
                  repo, have);
        goto done;
    }
    for (size_t i = 0; i < sizeof optional_files / sizeof optional_files[0]; i++)
        if ((s = find_sibling(siblings, optional_files[i])) &&
            fetch_one(repo, commit_buf, s, optional_files[i], dir) != 0)
            goto done;
    /* the marker, last, written atomically */
    char tmp[4200], fin[4200];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, MARKER);
    snprintf(fin, sizeof fin, "%s/%s", dir, MARKER);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        error_set("cannot write %s", tmp);
        goto done;
    }
    fprintf(f, "{\"repo\": \"%s\", \"commit\": \"%s\", \"endpoint\": \"%s\"}\n", repo, commit_buf,
            source_base_url(SOURCE_HF));
    if (fclose(f) != 0) {
        error_set("cannot write %s", tmp);
        goto done;
    }
    rc = file_commit(tmp, fin);
done:
    json_decref(shards);
    json_decref(info);
    return rc;
}

int ensure_model(const char *repo_or_dir, char *dir_out, size_t cap) {
    char path[4200];
    if (path_is_dir(repo_or_dir)) {
        snprintf(path, sizeof path, "%s/config.json", repo_or_dir);
        if (!path_is_file(path))
            return error_set("%s is a folder but has no config.json (expected a T5 checkpoint: "
                             "config.json, model.safetensors, tokenizer.json or spiece.model)",
                             repo_or_dir);
        return put(dir_out, cap, repo_or_dir);
    }
    char name[256], sub[300], dir[4096];
    if (hub_cache_name(repo_or_dir, name, sizeof name) != 0) {
        if (strchr(repo_or_dir, '/') && repo_or_dir[0] == '/')
            return error_set("model folder %s does not exist", repo_or_dir);
        return -1;
    }
    snprintf(sub, sizeof sub, "models/%s", name);
    if (cache_path(sub, dir, sizeof dir) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s", dir, MARKER);
    if (path_is_file(path)) return put(dir_out, cap, dir);
    if (download_repo(repo_or_dir, dir) != 0) return by_hand_hint(repo_or_dir, dir);
    return put(dir_out, cap, dir);
}
