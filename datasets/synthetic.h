/* synthetic.h: deterministic synthetic tasks shaped like GLUE, for the offline `tiny`
 * preset (no downloads), and a synthetic pre-training corpus with T5 span corruption.
 *
 * Integration: the synthetic tasks are ordinary rows of the task table (datasets/task.c):
 * syn-sst2, syn-cola, syn-mrpc, syn-stsb, syn-rte, syn-mnli. Each copies the real task's
 * prefix, template keys, label names, metrics and split rule, and its `dir` is the real
 * GLUE folder ("SST-2"), so the files synthetic_write() produces under
 *   DIR/glue/<Folder>/train.tsv, dev.tsv   (MNLI: dev_matched.tsv, dev_mismatched.tsv)
 * in the exact official TSV format (columns, header, BOM for MRPC, CoLA's headerless
 * 4 columns) are read by the real loader: task_get(task_find("syn-sst2"), DIR, ...).
 * DIR must be a directory of its own (e.g. data/synthetic), never the real GLUE root;
 * DIR/SYNTHETIC records the options it was made with (synthetic_ensure() uses it).
 *
 * Generation: one splitmix64 stream per (seed, task, split, row index), so a row does not
 * depend on the sizes asked for. Closed vocabulary (synthetic_word()); every text is
 * lower case, words separated by single spaces, "." and "," as separate words.
 * The grammar (what the tests' hand-written expectations rely on):
 *   NP    = "the" [ADJ] NOUN;  event = "the SADJ SUBJ [ADV] VERB the OCOLOR OBJ PREP the PLACE ."
 *           rendered active, passive ("the OCOLOR OBJ is [ADV] VERB-pp by the SADJ SUBJ PREP
 *           the PLACE .") or fronted ("PREP the PLACE , the SADJ SUBJ [ADV] VERB the OCOLOR
 *           OBJ ."), words optionally replaced by synonyms (big/large, sees/notices, ...).
 *   syn-sst2  review sentences over a polarity lexicon: "the film is very good ." (+),
 *             negation flips ("is not", "never", "i did not like"), "X , but Y" and
 *             "although X , Y" take Y's polarity; about half the rows are direct ("is A",
 *             "is A1 and A2"), so bag-of-words is above chance but negation matters. 50/50.
 *   syn-cola  grammatical sentences (agreement, is/are, transitive, locative) labelled 1
 *             (about 65%), or a corrupted copy labelled 0 (mark "*"): agreement error,
 *             two adjacent words swapped, words shuffled, or a required word dropped.
 *   Pair tasks: about 80% of the rows (DIRECT_PAIRS in synthetic.c) are "direct": their
 *   words give the label away (lexical overlap, a fixed contradiction word, an unseen
 *   object with a size), as syn-sst2's direct rows, so a tiny model learns them within a
 *   few epochs; the other rows use the harder grammar below.
 *   syn-mrpc  event pairs; equivalent (1, about 65%). Direct: the same event in the same
 *             rendering with synonyms swapped (most content words shared) vs. an event
 *             sharing no slot, rendered in another style. Otherwise: equivalent = the same
 *             event in another rendering and/or with synonyms; not_equivalent (0) = one
 *             slot changed (or an unrelated event), rendered independently.
 *   syn-stsb  event pairs. Direct: the same event in the same rendering with synonyms
 *             (score 5) or an event sharing no slot (score 0), 50/50 (a 7-level "slots
 *             kept" score was not learned by the tiny model in 5 epochs). Otherwise: each
 *             slot kept or replaced, score = 5 * kept weight / 6 (subject, verb, object 1.5;
 *             subject adjective, object colour, place 0.5) plus uniform jitter in
 *             [-0.2, 0.2], clamped to [0, 5]. Written "%.3f".
 *   syn-rte   premise: 2-3 facts "the COLOR OBJ is PREP the PLACE" joined by ", and";
 *             hypothesis about one fact, 50/50. Direct: entailment = a fact verbatim,
 *             not_entailment = a fact with "never" after "is" (60%) or an unmentioned
 *             object with a size, "the SIZE OBJ is PREP the PLACE ." Otherwise: entailment
 *             (stated colour, location, "is not" a wrong colour) or not_entailment (wrong or
 *             swapped colour, other place, negated truth, an unmentioned object or the
 *             unstated size).
 *   syn-mnli  (no direct rows) syn-rte's harder grammar with 3 classes: entailment /
 *             neutral (unmentioned object or size) / contradiction; train and dev_matched
 *             use the frame above, dev_mismatched the frame "the OBJ PREP the PLACE is
 *             COLOR" (an unseen "genre").
 *   syn-boolq question "is the OBJ COLOR" / "is the OBJ PREP the PLACE" / "is the COLOR
 *             OBJ PREP the PLACE" about one fact of a passage (a premise, 30% in the other
 *             frame), True (about 62%) when it states the fact. False: one value changed.
 *             Direct: an unmentioned object with a size, big/small or their synonyms
 *             large/little (no word in more than a tenth of the rows). Otherwise a value the
 *             passage never mentions (object, colour, place) or another fact's colour or
 *             location (every question word in the passage); never the preposition alone.
 *   syn-cb    entailment / contradiction / neutral (about 45 / 45 / 10 %), hypotheses as
 *             syn-rte's (direct ones in the premise's frame) or syn-mnli's.
 * Classification labels are then flipped to another class with probability label_noise
 * (default 0.05), so scores stay below 100. */
#ifndef COMPACTER_DATASETS_SYNTHETIC_H
#define COMPACTER_DATASETS_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/task.h"

/* Version of the generated data: bump it when the generators change, so cached data (the
 * SYNTHETIC stamp) and the tiny model pre-trained on it (its cache key) are remade. */
#define SYNTHETIC_FORMAT 4

struct tokenizer;

struct synthetic_options {
    long n_train;       /* rows of train.tsv (SST-2: the reference carves 1000 of them off
                           as validation, as for the real SST-2) */
    long n_dev;         /* rows of dev.tsv (MNLI: of each dev_*.tsv) */
    uint64_t seed;      /* 1 */
    double label_noise; /* probability of replacing a class label by another one (0.05) */
};
/* {2000, 400, 1, 0.05} */
struct synthetic_options synthetic_options_default(void);

/* The synthetic task names, in table order: syn-sst2, syn-cola, syn-mrpc, syn-stsb,
 * syn-rte, syn-mnli. */
size_t synthetic_task_count(void);
const char *synthetic_task_name(size_t i);
/* 1 when t is one of the synthetic tasks. */
int synthetic_is_task(const struct task *t);

/* Generate the raw rows of a raw split ("train", "validation"; MNLI: "train",
 * "validation_matched", "validation_mismatched") into *out (zeroed or holding this task),
 * as the loader would return them from the written file. */
int synthetic_generate(const struct task *t, const char *raw_split,
                       const struct synthetic_options *o, struct example_set *out);

/* Write one task's files (official layout and format) under dir, creating folders. */
int synthetic_write_task(const struct task *t, const char *dir, const struct synthetic_options *o);
/* Write every synthetic task and DIR/SYNTHETIC (the options, one "key value" a line). */
int synthetic_write(const char *dir, const struct synthetic_options *o);
/* synthetic_write() unless DIR/SYNTHETIC already records these options. Returns 1 when it
 * wrote, 0 when the files were there, -1 on error (also when DIR is not empty and has no
 * SYNTHETIC stamp: it may hold real data). */
int synthetic_ensure(const char *dir, const struct synthetic_options *o);

/* The closed vocabulary: every word any generator can emit (sorted, unique). */
size_t synthetic_word_count(void);
const char *synthetic_word(size_t i);

/* Pre-training corpus: sentence `index` of the corpus `seed` (any grammar form of the
 * tasks above), NUL-terminated into buf. Returns its length, or -1 when cap is too small. */
int synthetic_sentence(uint64_t seed, uint64_t index, char *buf, size_t cap);

/* T5 span corruption (random_spans_noise_mask of the T5 code): of n tokens,
 * n_noise = round(n * noise_density) (at least 1, at most n-1), n_spans =
 * round(n_noise / mean_span) (at least 1), noise and non-noise tokens each split into
 * n_spans random non-empty runs, interleaved non-noise first. source = the non-noise
 * tokens with noise span k replaced by <extra_id_k>, then </s>; target = <extra_id_0>
 * span 0 <extra_id_1> span 1 ... </s>. Sentinel ids come from the tokenizer
 * ("<extra_id_K>"), </s> from "</s>". Needs n >= 2. */
struct span_example {
    int32_t *source, *target;
    size_t n_source, n_target;
};
int synthetic_span_corrupt(const struct tokenizer *tok, const int32_t *ids, size_t n,
                           uint64_t seed, double noise_density, double mean_span,
                           struct span_example *out);
/* Example `index` of the pre-training stream `seed`: corpus sentences (from index*64 on)
 * tokenized without template and concatenated while they fit in max_tokens, then span
 * corrupted (seeded by seed and index). */
int synthetic_pretrain_example(const struct tokenizer *tok, uint64_t seed, uint64_t index,
                               size_t max_tokens, double noise_density, double mean_span,
                               struct span_example *out);
/* Supervised example `index` of the multi-task pre-training stream `seed` (as the original
 * T5 checkpoints were pre-trained on a mixture of span corruption and the supervised GLUE /
 * SuperGLUE tasks): a synthetic task picked from (seed, index) among those of task_mask
 * (bit i: synthetic_task_name(i); 0 or every bit: all tasks, the same draws as before the
 * mask existed), its row from a stream of its own (split code 3: never a train, validation
 * or test row), formatted with the task prefix ("rte sentence1: ... sentence2: ...") and
 * tokenized with </s>; target = str(label). */
int synthetic_pretrain_task_example(const struct tokenizer *tok, uint64_t seed, uint64_t index,
                                    double label_noise, uint32_t task_mask, struct span_example *out);
void span_example_free(struct span_example *s);

#endif
