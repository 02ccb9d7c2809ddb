"""Comment-only cues: links, phone numbers, self-promotion, chit-chat, and a rough language guess."""
from __future__ import annotations

import math
import re

import numpy as np

URL = re.compile(r"(https?://|www\.|\b[\w-]+\.(com|net|org|info|biz|ly|io|co|tk|me|tv|us|uk)\b)", re.I)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
PHONE = re.compile(r"(\+?\d[\d\s().-]{7,}\d)")
PROMO = re.compile(
    r"\b(check (out )?(my|our|this)|subscribe|my (channel|site|website|page|blog|video|profile|store|shop)|"
    r"visit (my|our|us|www)|click (here|the link|this)|follow (me|us)|free (money|gift|trial|download)|"
    r"earn \$?\d+|make money|work from home|buy now|discount|promo code|limited offer|giveaway|"
    r"dm me|whatsapp|telegram|sign up|join (my|our|us)|like and share|sub4sub|view my)\b", re.I)
CHITCHAT = re.compile(
    r"^\W*(first|frist|1st|lol+|lmao|haha+|hahah\w*|ok+|k|hi+|hello|hey|bump|test(ing)?|wow+|nice|cool|"
    r"yay|meh|same|this|\+1|me too|who cares|thanks|thank you|good morning|good night)\W*$", re.I)
STOP = frozenset("""a an the and or but if of to in on at by for with about as is are was were be been being
it its this that these those i you he she we they me him her us them my your his our their not no do does did
have has had will would can could should may might must so than then there here what which who whom whose
when where why how all any some just also very more most much many such only own same too s t don up out
from into over under again further once am just like get got one""".split())
ENGLISH_COMMON = STOP | frozenset("people think good know time make way well even want because".split())
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.U)
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]", re.U)

NAMES = ["log_chars", "log_words", "n_urls", "has_email", "has_phone", "n_promo", "chitchat",
         "upper_ratio", "digit_ratio", "n_exclaim", "n_question", "stop_ratio", "latin_ratio"]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def cue_vector(text: str) -> np.ndarray:
    ws = words(text)
    n_chars = max(len(text), 1)
    letters = _LETTER.findall(text)
    lower = [w.lower() for w in ws]
    return np.array([
        math.log1p(len(text)),
        math.log1p(len(ws)),
        min(len(URL.findall(text)), 5),
        float(bool(EMAIL.search(text))),
        float(bool(PHONE.search(text))),
        min(len(PROMO.findall(text)), 5),
        float(bool(CHITCHAT.match(text.strip()))),
        sum(c.isupper() for c in letters) / max(len(letters), 1),
        sum(c.isdigit() for c in text) / n_chars,
        min(text.count("!"), 10),
        min(text.count("?"), 10),
        sum(w in STOP for w in lower) / max(len(lower), 1),
        len(_LATIN.findall(text)) / max(len(letters), 1),
    ], dtype=np.float32)


def language(text: str) -> str:
    """'en' when the text looks English, else 'und'. Short texts in Latin script count as English."""
    letters = _LETTER.findall(text)
    if not letters:
        return "en"  # emoji, numbers: nothing to read in another language
    latin = len(_LATIN.findall(text)) / len(letters)
    if latin < 0.5:
        return "und"
    lower = [w.lower() for w in words(text)]
    if len(lower) < 6:
        return "en"
    common = sum(w in ENGLISH_COMMON for w in lower) / len(lower)
    return "en" if common >= 0.12 else "und"
