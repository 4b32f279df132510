#!/usr/bin/env python3
"""make_task_fixtures.py: reference values for the task-suite tests, computed with the
libraries the Compacter reference used (torch.randperm, numpy, scikit-learn, scipy) and
the reference's own metric formulas (T5 qa_utils / metrics, re-typed here).
Writes tests/fixtures/tasks/{randperm,metrics,stsb}.json. Run with ~/.venvs/ref/bin/python
from the repository root. Versions used are recorded in each file."""
import collections, json, re, string, sys
import numpy as np, scipy, scipy.stats, sklearn, sklearn.metrics, torch

OUT = "tests/fixtures/tasks/"
versions = {"torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "sklearn": sklearn.__version__, "python": sys.version.split()[0]}

# ---- torch.randperm(n, generator=Generator().manual_seed(seed)) ----
perms = []
for n, seed in [(1, 42), (2, 42), (4, 42), (1005, 42), (10, 42), (10, 0), (10, 1), (10, 2**32 + 1), (277, 42),
                (1043, 42), (5000, 42), (5463, 42), (100730, 42), (392702, 42)]:
    p = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    full = n <= 1100
    perms.append({"n": n, "seed": seed, "head": p if full else p[:64], "tail": [] if full else p[-64:],
                  "weighted_sum": sum((i + 1) * v for i, v in enumerate(p))})
json.dump({"versions": versions, "perms": perms}, open(OUT + "randperm.json", "w"))

# ---- metrics on random inputs ----
rng = np.random.default_rng(1234)
cases = []

def f1_with_invalid(preds, golds):  # the reference's f1_score_with_invalid on strings
    t, p = np.asarray([str(g) for g in golds]), np.asarray([str(x) for x in preds], dtype=object)
    bad = np.logical_and(p != '0', p != '1')
    p[bad] = ['0' if x == '1' else '1' for x in t[bad]]
    return sklearn.metrics.f1_score(t.astype(np.int32), p.astype(np.int32))

for k in range(6):
    n = int(rng.integers(5, 300))
    gold = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.7, gold, rng.integers(0, 2, n))
    if k % 2: pred = np.where(rng.random(n) < 0.1, -1, pred)  # invalid predictions
    cases.append({"kind": "binary", "pred": pred.tolist(), "gold": gold.tolist(),
                  "accuracy": float((pred == gold).mean()),
                  "f1": float(f1_with_invalid(pred, gold)),
                  "matthews": float(sklearn.metrics.matthews_corrcoef(gold, pred))})
for k in range(5):
    n = int(rng.integers(5, 120))
    gold = rng.integers(0, 3 if k != 4 else 2, n)  # k=4: class 2 absent from gold
    pred = np.where(rng.random(n) < 0.6, gold, rng.integers(0, 3 if k != 4 else 2, n))
    if k % 2: pred = np.where(rng.random(n) < 0.15, rng.integers(-3, 0, n), pred)
    cases.append({"kind": "multiclass", "pred": pred.tolist(), "gold": gold.tolist(),
                  "accuracy": float((pred == gold).mean()),
                  "macro_f1": float(sklearn.metrics.fbeta_score(gold, pred, beta=1, labels=range(3),
                                                                average="macro", zero_division=0)),
                  "matthews": float(sklearn.metrics.matthews_corrcoef(gold, pred))})
cases.append({"kind": "binary", "pred": [1] * 8, "gold": [0, 1] * 4, "accuracy": 0.5,
              "f1": float(f1_with_invalid([1] * 8, [0, 1] * 4)),
              "matthews": float(sklearn.metrics.matthews_corrcoef([0, 1] * 4, [1] * 8))})
for k in range(6):
    n = int(rng.integers(3, 400))
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(size=n)
    if k >= 2:  # ties, as in rounded STS-B targets
        x, y = np.round(x * 2) / 2, np.round(y * 5) / 5
    cases.append({"kind": "correlation", "x": x.tolist(), "y": y.tolist(),
                  "pearson": float(scipy.stats.pearsonr(x, y)[0]),
                  "spearman": float(scipy.stats.spearmanr(x, y)[0]),
                  "rank_x": scipy.stats.rankdata(x).tolist()})

# T5 qa_utils (as in the reference's seq2seq/metrics/qa_utils.py)
def normalize_squad(text):
    text = text.lower()
    text = "".join("" if ch in set(string.punctuation) else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())
def f1_tok(target, prediction):
    p, t = prediction.split(), target.split()
    common = collections.Counter(p) & collections.Counter(t)
    same = sum(common.values())
    if same == 0: return 0
    pr, rc = same / len(p), same / len(t)
    return 2 * pr * rc / (pr + rc)
squad = []
for pred, golds in [("The Beatles", ["Beatles", "the beatles!"]), ("an apple a day", ["apple day"]),
                    ("Anne's  banana-split", ["annes bananasplit", "banana"]),
                    ("theatre and the", ["theatre and"]), ("Paris, France", ["France", "Paris"]),
                    ("a a a b", ["b a b"]), ("", ["x"]), ("The", ["the"]), ("Zoë Ball", ["Zoë  ball."]),
                    ("then an answer", ["answer"]), ("b c b c", ["c b d b"])]:
    np_, ng = normalize_squad(pred), [normalize_squad(g) for g in golds]
    squad.append({"pred": pred, "golds": golds, "normalized": np_,
                  "em": float(max(float(g == np_) for g in ng)),
                  "f1": float(max(f1_tok(g, np_) for g in ng))})
# T5 mean_group_metric(exact_match)
grp_cases = []
for k in range(3):
    n = int(rng.integers(5, 60))
    group = np.sort(rng.integers(0, max(2, n // 3), n))
    rng.shuffle(group)
    gold = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.85, gold, 1 - gold)
    g = collections.defaultdict(lambda: ([], []))
    for gi, t, p in zip(group, gold, pred):
        g[gi][0].append(t); g[gi][1].append(p)
    em = np.mean([100 * float(np.array_equal(t, p)) for t, p in g.values()]) / 100
    grp_cases.append({"group": group.tolist(), "gold": gold.tolist(), "pred": pred.tolist(), "em": float(em)})
json.dump({"versions": versions, "cases": cases, "squad": squad, "group_em": grp_cases},
          open(OUT + "metrics.json", "w"))

# ---- STS-B targets: HF stores float32; the reference: str(np.round((label*5)/5, 1)) ----
labels = sorted(set([k / 100 for k in range(0, 501)] + [k / 1000 for k in range(0, 5001, 7)]))
stsb = []
for v in labels:
    x = float(np.float32(v))
    stsb.append({"text": "%.3f" % v, "code": str(np.round((x * 5) / 5, decimals=1)),
                 "paper": "%.1f" % (np.round(x * 5) / 5)})
json.dump({"versions": versions, "labels": stsb}, open(OUT + "stsb.json", "w"))
print("wrote", OUT, versions)
