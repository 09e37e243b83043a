"""The project's own jieba tokenizer, never jieba's module-level global."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import jieba

USER_DICT = "userdict.txt"
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Fold full-width forms (ＡＢＣ１２３，) to their plain forms and squeeze whitespace."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def build_tokenizer(cache_dir: Path, extra_words: Iterable[str] = ()) -> jieba.Tokenizer:
    """A ready jieba.Tokenizer with the mining dictionary, caching its prefix dict in `cache_dir`.

    Initialising here (not lazily on the first message) keeps the first reply fast.
    """
    logging.getLogger("jieba").setLevel(logging.WARNING)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(cache_dir)
    tokenizer.cache_file = "jieba.cache"
    tokenizer.initialize()
    user_dict = resources.files("nlp").joinpath(USER_DICT)
    if user_dict.is_file():
        with resources.as_file(user_dict) as path, path.open("rb") as stream:
            tokenizer.load_userdict(stream)  # given a path, jieba never closes the file
    for word in extra_words:
        if word.strip():
            tokenizer.add_word(word.strip())
    return tokenizer
