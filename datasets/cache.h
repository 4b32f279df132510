/* cache.h: the on-disk cache of downloaded data and models, and the file-system steps that
 * make a file appear there only complete (write elsewhere, fsync, rename, fsync the dir).
 *
 * Layout (root = $COMPACTER_CACHE, else $XDG_CACHE_HOME/compacter, else ~/.cache/compacter):
 *   data/glue/<Task>/{train,dev,test}.tsv          classic glue_data layout (MNLI: dev_matched.tsv ...)
 *   data/superglue/<Task>/{train,val,test}.jsonl   the SuperGLUE v2 zip layout
 *   models/<org>--<name>/ (or models/<name>/)      config.json, model.safetensors[...], tokenizer
 *   downloads/                                      archives, *.part files of unfinished transfers */
#ifndef COMPACTER_CACHE_H
#define COMPACTER_CACHE_H

#include <stddef.h>

/* The cache root (not created). Static storage, recomputed from the environment each call. */
const char *cache_dir(void);
/* root/<sub> into out; returns 0, or -1 when it does not fit. */
int cache_path(const char *sub, char *out, size_t cap);
/* mkdir -p; 0 or -1 with the path in the error. */
int mkdir_p(const char *path);
/* fsync a file by path, then rename it to dst and fsync dst's directory. */
int file_commit(const char *tmp, const char *dst);
/* fsync a directory (after creating or renaming entries in it). */
int dir_sync(const char *dir);
/* rm -rf (no error when absent). */
int remove_tree(const char *path);
int path_is_dir(const char *path);
/* snprintf for paths: -1 with an error when the result does not fit. */
int path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int path_is_file(const char *path);
/* A new empty directory "<parent>/.tmp-<tag>-XXXXXX" (parent created), name into out. */
int temp_dir_in(const char *parent, const char *tag, char *out, size_t cap);

#endif
