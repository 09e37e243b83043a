"""Text to sparse features: jieba words, character n-grams and configured keywords.

Character n-grams survive typos (皮代 for 皮带 still shares 皮) and words jieba does
not know; the keyword features carry the configuration's vocabulary into the model.
Features are counted and hashed into a fixed number of buckets with a stable hash, so
no vocabulary file is needed and unseen words cost nothing. The counts are weighted
(sublinear TF × IDF, L2-normalised) by the model, which holds the IDF it was trained
with (see `nlp/model.py`).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import jieba

from nlp.tokenizer import normalize

BUCKETS = 1 << 17
MAX_CHARS = 2000
"""Longer texts are cut: the start of an idea says what it is about."""

_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")
_DESCRIPTOR = re.compile(r"w([01]) c(\d)-(\d) k([01])")

# Traditional → simplified for the characters that matter here (jieba knows only simplified).
_TRAD = (
    "錨復節電設備機帶護礦風檢測頂層運輸舊廢維環費約動業產術藝優質員訓練錢萬個車們來這時為發現開關線過進"
    "還點將對從無與採號傳壓滅災險報錯鋼鐵軌纜輥燈熱減塵廠選濃縮濾淨勵獎倉庫領購計劃統績責組織黨團會書記級"
    "隊區處換條應該讓說話題問間長鍋爐氣溫體積雙單齒輪軸絲鑽錘桿網噴漿撐頭據實際準確規範標腦視監數聯遙語資"
    "訊類別廣裝備檯臺灣鏈礙艙"
)
_SIMP = (
    "锚复节电设备机带护矿风检测顶层运输旧废维环费约动业产术艺优质员训练钱万个车们来这时为发现开关线过进"
    "还点将对从无与采号传压灭灾险报错钢铁轨缆辊灯热减尘厂选浓缩滤净励奖仓库领购计划统绩责组织党团会书记级"
    "队区处换条应该让说话题问间长锅炉气温体积双单齿轮轴丝钻锤杆网喷浆撑头据实际准确规范标脑视监数联遥语资"
    "讯类别广装备台台湾链碍舱"
)
assert len(_TRAD) == len(_SIMP)
_TO_SIMPLIFIED = str.maketrans(_TRAD, _SIMP)


def prepare(text: str) -> str:
    """Normalised, simplified, lower-cased and cut to MAX_CHARS."""
    return normalize(text).translate(_TO_SIMPLIFIED).lower()[:MAX_CHARS]


def has_content(text: str) -> bool:
    """Whether there is anything to classify: at least one Chinese character."""
    return _CJK.search(text) is not None


def bucket(feature: str) -> int:
    """A stable bucket for a feature name (Python's own hash changes between runs)."""
    return zlib.crc32(feature.encode()) % BUCKETS


CACHE_LIMIT = 1 << 19


BIAS_BUCKET = bucket("bias")


class FeatureExtractor:
    def __init__(
        self,
        tokenizer: jieba.Tokenizer,
        keywords: Mapping[str, Sequence[str]],
        *,
        ngrams: tuple[int, int] = (1, 2),
        words: bool = True,
        use_keywords: bool = True,
    ) -> None:
        """`ngrams`, `words` and `use_keywords` exist to compare feature sets (`nlp compare`)."""
        self._tokenizer = tokenizer
        self._ngrams = range(ngrams[0], ngrams[1] + 1)
        self._prefixes = [(n, f"c{n}:") for n in self._ngrams]
        self._use_words = words
        self._use_keywords = use_keywords
        self._word_buckets: dict[str, int] = {"#": bucket("n:#")}
        self._gram_buckets: dict[int, dict[str, int]] = {n: {} for n in self._ngrams}
        self._set_keywords(
            {cat: tuple(k.lower() for k in words if k) for cat, words in keywords.items()}
        )

    def _set_keywords(self, keywords: Mapping[str, tuple[str, ...]]) -> None:
        self._keywords = dict(keywords)
        self._keyword_buckets = {cat: bucket("k:" + cat) for cat in keywords}
        by_char: dict[str, list[tuple[str, str]]] = {}
        for cat, words in keywords.items():
            for word in words:  # a keyword can only be in a text that has its first character
                by_char.setdefault(word[0], []).append((cat, word))
        self._keywords_by_char = by_char
        self._keyword_starts = frozenset(by_char)

    def words(self, prepared: str) -> list[str]:
        # Without jieba's HMM: the character n-grams already cover unknown words, and the
        # cross-validated accuracy is the same at two thirds of the time.
        return [t for t in self._tokenizer.lcut(prepared, HMM=False) if t.isalnum()]

    def search_words(self, prepared: str) -> list[str]:
        """Words plus the shorter words inside long ones (锚杆回收 → 锚杆, 回收, 锚杆回收)."""
        return [t for t in self._tokenizer.lcut_for_search(prepared, HMM=False) if t.isalnum()]

    @property
    def descriptor(self) -> str:
        """The feature set in a few characters; a model records the one it was trained on."""
        grams = f"c{self._ngrams.start}-{self._ngrams.stop - 1}"
        return f"w{int(self._use_words)} {grams} k{int(self._use_keywords)}"

    def for_features(self, descriptor: str) -> FeatureExtractor:
        """An extractor making the features `descriptor` names, sharing tokenizer and keywords."""
        found = _DESCRIPTOR.fullmatch(descriptor)
        if not found:
            raise ValueError(f"unknown feature set {descriptor!r}; run `jindianzi nlp train`")
        if descriptor == self.descriptor:
            return self
        words, lo, hi, keywords = found.groups()
        other = FeatureExtractor(
            self._tokenizer,
            {},
            ngrams=(int(lo), int(hi)),
            words=words == "1",
            use_keywords=keywords == "1",
        )
        other._set_keywords(self._keywords)
        return other

    def features(self, prepared: str) -> list[str]:
        """The feature names of a text already through `prepare`, repeats included, in order."""
        names = (
            ["n:#" if w.isdigit() else "w:" + w for w in self.words(prepared)]
            if self._use_words
            else []
        )
        for run in _KEEP.findall(prepared):
            if not _CJK.search(run):
                continue
            for n, prefix in self._prefixes:
                if n == 1:
                    names.extend([prefix + ch for ch in run])
                else:
                    names.extend([prefix + run[i : i + n] for i in range(len(run) - n + 1)])
        if self._use_keywords:
            for cat, words in self._keywords.items():
                names.extend(["k:" + cat for w in words if w in prepared])
        return names

    def vector(
        self, text: str, *, prepared: bool = False
    ) -> tuple[list[int], list[int], list[str]]:
        """Buckets of the distinct features with their counts, the bias first; the names."""
        counts = Counter(self.features(text if prepared else prepare(text)))
        names = list(counts)
        return [BIAS_BUCKET, *map(bucket, names)], [1, *counts.values()], ["bias", *names]

    def counts(self, prepared: str) -> tuple[list[int], list[int]]:
        """What `vector` gives, without the names and faster: the classifier's hot path.

        The same distinct features with the same counts (the order may differ), counted per
        kind on the tokens themselves, so no feature name is built; each kind remembers its
        tokens' buckets (hashing was a third of the extraction time)."""
        found = [BIAS_BUCKET]
        values = [1]
        if self._use_words:
            words = Counter(["#" if w.isdigit() else w for w in self.words(prepared)])
            self._extend(found, values, words, self._word_buckets, "w:")
        runs = [run for run in _KEEP.findall(prepared) if _CJK.search(run)]
        for n, prefix in self._prefixes:
            grams: Counter[str] = Counter()
            for run in runs:  # the n-grams of a run: its n shifted copies zipped, in C
                shifted = (run[i:] for i in range(n))
                grams.update(run if n == 1 else map("".join, zip(*shifted, strict=False)))
            self._extend(found, values, grams, self._gram_buckets[n], prefix)
        if self._use_keywords:
            present: Counter[str] = Counter()
            for ch in self._keyword_starts.intersection(prepared):
                for cat, word in self._keywords_by_char[ch]:
                    if word in prepared:
                        present[cat] += 1
            for cat, n in present.items():
                found.append(self._keyword_buckets[cat])
                values.append(n)
        return found, values

    @staticmethod
    def _extend(
        found: list[int],
        values: list[int],
        counted: Counter[str],
        cache: dict[str, int],
        prefix: str,
    ) -> None:
        buckets = list(map(cache.get, counted))
        if None in buckets:
            if len(cache) > CACHE_LIMIT:
                cache.clear()
            for token in counted:
                if token not in cache:
                    cache[token] = bucket(prefix + token)
            buckets = list(map(cache.__getitem__, counted))
        found.extend(buckets)  # type: ignore[arg-type]  # no None left
        values.extend(counted.values())


def batch(
    extractor: FeatureExtractor, texts: Iterable[str]
) -> tuple[list[int], list[int], list[int]]:
    """CSR-style (indices, counts, row lengths) for many texts."""
    indices: list[int] = []
    values: list[int] = []
    lengths: list[int] = []
    for text in texts:
        idx, val = extractor.counts(prepare(text))
        indices.extend(idx)
        values.extend(val)
        lengths.append(len(idx))
    return indices, values, lengths
