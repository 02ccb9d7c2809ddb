"""Comment-only cues: links, phone numbers, self-promotion, chit-chat, and the comment's language."""
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
        sum(map(str.isupper, letters)) / max(len(letters), 1),
        sum(map(str.isdigit, text)) / n_chars,
        min(text.count("!"), 10),
        min(text.count("?"), 10),
        sum(map(STOP.__contains__, lower)) / max(len(lower), 1),
        len(_LATIN.findall(text)) / max(len(letters), 1),
    ], dtype=np.float32)


# Roman Urdu (Urdu in Latin script) function words and very common verbs, which no shipped language-ID model knows:
# hand-written, rare in English and German (words like "main", "par", "to" that are common there are left out)
ROMAN_URDU = frozenset("""hai hain hy hae nahi nahin nai nhi kya kia aur ko ki ka ke se mein mai yeh ye woh wo
tum tu aap ap hum bhi tha thi thay kar karo karna karte raha rahe rahi ho hota hoti hotay ga gi ge sab kuch kuchh
koi jab agar lekin magar sirf bohat bahut bohot acha achha kyun kyon kyu abhi phir wala wali walay gaya gayi diya
liya hoga hogi mujhe mujhy tujhe tumhe tumhari tumhara hamara apna apni unka unki iska iski uska uski jaisa yahan
wahan kahan kaise kaisay kese yar yaar bhai ji hay kr kro krna ni ny sy liye liay kon meri mera tera teri tere
sath saath baat kay bhe abi apke apki apka toh wale nikal kare jisko isko usko unko inko kisi jesa laken mei hn hun
hoon rha rhy rhe hogye dekha dekho chahiye chahta sakte sakta tak ayien""".split())
ROMAN_URDU_SHARE = 0.15    # of a comment's words, with at least ROMAN_URDU_MIN of them (chosen on RUHSOLD train)
ROMAN_URDU_MIN = 1
SHORT_LETTERS = 20         # fewer letters than this, or a guess under SURE: too short to trust the guess alone;
SURE = 0.6                 # then the likeliest of COMMON wins, English weighted by EN_PRIOR (chosen on UCC dev and
COMMON = ("en", "de", "fr", "es", "it", "pt", "nl")   # One Million Posts: 99 % of short English, 96 % of German)
EN_PRIOR = 4.0
_identifier = None


def _langid():
    """py3langid's bundled model (97 languages, shipped in the wheel), with probabilities; loaded on first use."""
    global _identifier
    if _identifier is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
        _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def latin_share(text: str) -> float | None:
    """The share of the text's letters that are Latin (None: no letters): Roman Urdu and English are written in it."""
    letters = _LETTER.findall(text)
    return len(_LATIN.findall(text)) / len(letters) if letters else None


def _roman_urdu_words(text: str) -> bool:
    lower = [w.lower() for w in words(text)]
    urdu = sum(map(ROMAN_URDU.__contains__, lower))
    return bool(lower) and urdu >= ROMAN_URDU_MIN and urdu / len(lower) >= ROMAN_URDU_SHARE


def roman_urdu(text: str) -> bool:
    """language(text) == "ur-Latn", without the language-ID model: py3langid never answers ur-Latn, so the word
    cue alone decides it (the deadline fast path routes comments with this)."""
    return (latin_share(text) or 0.0) >= 0.5 and _roman_urdu_words(text)


def language(text: str) -> str:
    """The comment's language as a BCP-47 code: ISO 639-1 ("en", "de", ...) from py3langid, "ur-Latn" for Roman
    Urdu. A text too short to tell goes to the likeliest common comment language, English favoured (py3langid
    alone calls "ok" or "lol" Uzbek or Welsh)."""
    letters = _LETTER.findall(text)
    if not letters:
        return "en"  # emoji, numbers: nothing to read in another language
    latin = len(_LATIN.findall(text)) / len(letters)
    if latin >= 0.5 and _roman_urdu_words(text):
        return "ur-Latn"
    guess, confidence = _langid().classify(text)
    if guess == "en" or latin < 0.5 or (len(letters) >= SHORT_LETTERS and confidence >= SURE):
        return guess
    ranked = dict(_langid().rank(text))
    return max(COMMON, key=lambda code: ranked.get(code, 0.0) * (EN_PRIOR if code == "en" else 1.0))
