"""Similar ideas: TF-IDF cosine over the words of each idea.

The candidates come from the database's full-text index (BM25 over the same
words), so only a handful of ideas are compared however many are stored.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from nlp.features import FeatureExtractor, prepare

_STOPWORDS_TEXT = """
的 了 是 在 我 我们 你 他 她 它 们 把 被 就 都 也 还 和 与 及 或 这 那 这个 那个 一个 一些
有 没有 能 可以 可 要 会 让 给 对 从 到 为 为了 很 太 更 最 不 没 吗 呢 吧 啊 呀 个 上 下 里 中
建议 希望 觉得 认为 能不能 是不是 就是 因为 所以 但是 如果 然后 现在 已经 每 每次 大家 一下 一点
这样 那样 比较 进行
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def terms(extractor: FeatureExtractor, text: str) -> list[str]:
    """The words that say what an idea is about (no stopwords, no bare numbers)."""
    return [
        w for w in extractor.search_words(prepare(text)) if w not in STOPWORDS and not w.isdigit()
    ]


def cosine(a: Sequence[str], b: Sequence[str], total: int, df: Mapping[str, int]) -> float:
    """TF-IDF cosine of two word lists; idf = ln((1 + N) / (1 + df)) + 1."""

    def vector(words: Sequence[str]) -> dict[str, float]:
        counts = Counter(words)
        return {
            w: (1 + math.log(c)) * (math.log((1 + total) / (1 + df.get(w, 0))) + 1)
            for w, c in counts.items()
        }

    va, vb = vector(a), vector(b)
    dot = sum(weight * vb[w] for w, weight in va.items() if w in vb)
    norm = math.sqrt(sum(x * x for x in va.values())) * math.sqrt(sum(x * x for x in vb.values()))
    return dot / norm if norm else 0.0


def best(
    words: Sequence[str],
    candidates: Sequence[tuple[int, Sequence[str]]],
    total: int,
    df: Mapping[str, int],
) -> list[tuple[float, int]]:
    """(cosine, id) of every candidate, best first (ties: the higher id): the same scores
    as `cosine`, with each term's idf and the new idea's vector worked out once."""
    idf: dict[str, float] = {}

    def vector(ws: Sequence[str]) -> dict[str, float]:
        out = {}
        for w, c in Counter(ws).items():
            weight = idf.get(w)
            if weight is None:
                weight = idf[w] = math.log((1 + total) / (1 + df.get(w, 0))) + 1
            out[w] = (1 + math.log(c)) * weight
        return out

    va = vector(words)
    norm_a = math.sqrt(sum(x * x for x in va.values()))
    scored = []
    for other_id, other in candidates:
        vb = vector(other)
        norm = norm_a * math.sqrt(sum(x * x for x in vb.values()))
        dot = sum(weight * vb[w] for w, weight in va.items() if w in vb)
        scored.append((dot / norm if norm else 0.0, other_id))
    scored.sort(reverse=True)
    return scored
