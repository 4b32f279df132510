/* hub.h: a T5 checkpoint from the Hugging Face hub (or a folder the user has) as a local
 * folder holding config.json, model.safetensors (or model.safetensors.index.json and its
 * shards) and the tokenizer (tokenizer.json and/or spiece.model, tokenizer_config.json,
 * special_tokens_map.json, generation_config.json when the repo has them).
 *
 * Cache layout: <cache>/models/<org>--<name>/ for "org/name", <cache>/models/<name>/ for a
 * bare id such as "t5-small". A folder is complete when it holds ".compacter-complete"
 * (written last; it records the repo id and the commit the files came from).
 * The endpoint is $COMPACTER_HF_ENDPOINT, else $HF_ENDPOINT, else https://huggingface.co
 * (or source_set_mirror(SOURCE_HF, ...)); the revision $COMPACTER_HF_REVISION, else "main".
 * Integrity: the listing GET <endpoint>/api/models/<repo>/revision/<rev>?blobs=true gives
 * each file's size and its LFS sha256 or git blob sha1; files are fetched from
 * <endpoint>/<repo>/resolve/<commit>/<file> and verified against those (or, when the
 * listing lacks them, against the X-Linked-Etag / X-Linked-Size / ETag headers). */
#ifndef COMPACTER_HUB_H
#define COMPACTER_HUB_H

#include <stddef.h>

/* "google/flan-t5-base" -> "google--flan-t5-base"; -1 for an invalid repo id. */
int hub_cache_name(const char *repo_id, char *out, size_t cap);

/* repo_or_dir: an existing folder with config.json (used as is), or a repo id (the cache,
 * else downloaded). The folder goes to dir_out. Returns 0, or -1 with a message naming
 * what could not be fetched, from where, and where to place the files by hand. */
int ensure_model(const char *repo_or_dir, char *dir_out, size_t cap);

#endif
