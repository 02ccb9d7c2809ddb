"""Obfuscated variants of comments, to measure how much abuse detection drops when people dodge filters.

Each method rewrites the words that carry the abuse: words from a profanity list when the comment
has any, else its longest words. Seeded: the same (text, method, seed) gives the same variant.
Written independently of models/normalize.py on purpose, so the test is not tailored to the model.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from importlib.resources import files

METHODS = ("leetspeak", "spacing", "masking", "repeat", "zero_width", "homoglyph", "bidi", "invisible", "mixed")

_LEET = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7+", "l": "1|", "g": "9", "b": "8"}
_HOMOGLYPH = {"a": "аɑα", "c": "сϲ", "e": "еє", "i": "іι", "o": "оοσ", "p": "рρ", "s": "ѕ", "x": "хχ",
              "y": "уү", "k": "кκ", "h": "һ", "j": "ј", "d": "ԁ", "n": "ո", "u": "υ"}
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060"
# Other characters that show nothing: soft hyphen, invisible math operators, combining grapheme joiner,
# a variation selector, a tag character, the Hangul filler.
_INVISIBLE = "\u00ad\u2061\u2062\u2063\u2064\u034f\ufe0f\U000e0041\u3164"
_RLO, _PDF = "\u202e", "\u202c"
_WORD = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def profanity_words() -> frozenset[str]:
    """The single-word entries of better-profanity's word list (a public list, not our model's)."""
    text = files("better_profanity").joinpath("profanity_wordlist.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and " " not in w.strip())


def _leetspeak(word, rng):
    return "".join(rng.choice(_LEET[c.lower()]) if c.lower() in _LEET and rng.random() < 0.7 else c for c in word)


def _spacing(word, rng):
    return rng.choice([" ", ".", "-", " "]).join(word)


def _masking(word, rng):
    if len(word) < 3:
        return word
    inner = list(range(1, len(word) - 1))
    hidden = set(rng.sample(inner, k=max(1, len(inner) // 2)))
    mask = rng.choice("*#@%")
    return "".join(mask if i in hidden else c for i, c in enumerate(word))


def _repeat(word, rng):
    i = rng.randrange(len(word))
    return word[:i] + word[i] * rng.randint(3, 6) + word[i + 1:]


def _zero_width(word, rng):
    return "".join(c + (rng.choice(_ZERO_WIDTH) if k < len(word) - 1 else "") for k, c in enumerate(word))


def _bidi(word, rng):
    """Typed backwards inside a right-to-left override, closed by PDF: displays as the word. (Left open, the
    override would also reverse the rest of the line.)"""
    return _RLO + word[::-1] + _PDF


def _invisible(word, rng):
    return "".join(c + (rng.choice(_INVISIBLE) if k < len(word) - 1 else "") for k, c in enumerate(word))


def _homoglyph(word, rng):
    out = [rng.choice(_HOMOGLYPH[c]) if c in _HOMOGLYPH and rng.random() < 0.6 else c for c in word]
    return "".join(out)


_METHODS = {"leetspeak": _leetspeak, "spacing": _spacing, "masking": _masking, "repeat": _repeat,
            "zero_width": _zero_width, "homoglyph": _homoglyph, "bidi": _bidi, "invisible": _invisible}


def target_words(text: str, max_words: int = 2) -> list[tuple[int, int]]:
    """Character ranges of the words to disguise: list words first, else the longest words."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    listed = [w for w in words if text[w[0]:w[1]].lower() in profanity_words()]
    if listed:
        return listed
    longest = sorted((w for w in words if w[1] - w[0] >= 4), key=lambda w: (w[0] - w[1], w[0]))
    return sorted(longest[:max_words])


def obfuscate(text: str, method: str, seed: int = 0) -> str:
    """One obfuscated variant of `text` ("mixed" picks a method per word)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    rng = random.Random(f"{seed}:{method}:{text}")
    out, last = [], 0
    for begin, end in target_words(text):
        name = rng.choice(list(_METHODS)) if method == "mixed" else method
        out += [text[last:begin], _METHODS[name](text[begin:end], rng)]
        last = end
    return "".join(out) + text[last:]


def variants(texts, methods=METHODS, seed: int = 0) -> list[dict]:
    """Rows {index, method, original, text} for every text and method."""
    return [{"index": i, "method": m, "original": t, "text": obfuscate(t, m, seed)}
            for m in methods for i, t in enumerate(texts)]
