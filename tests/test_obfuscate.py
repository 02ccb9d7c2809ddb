"""The obfuscation generator used to measure the model's robustness."""
import unicodedata

import pytest

from training.obfuscate import METHODS, obfuscate, target_words, variants

TEXT = "You are a stupid fucking clown"


def test_targets_listed_words_first_then_longest():
    assert [TEXT[b:e] for b, e in target_words(TEXT)] == ["stupid", "fucking"]
    assert [t[b:e] for t in ["Nothing rude in this sentence"] for b, e in target_words(t)] == ["Nothing", "sentence"]


@pytest.mark.parametrize("method", METHODS)
def test_each_method_changes_only_the_target_words(method):
    out = obfuscate(TEXT, method, seed=3)
    assert out != TEXT
    assert out.startswith("You are a ") and out.endswith(" clown")
    assert obfuscate(TEXT, method, seed=3) == out  # seeded


def test_methods_do_what_they_say():
    assert "*" in obfuscate("shit", "masking") or "#" in obfuscate("shit", "masking") or "@" in obfuscate(
        "shit", "masking") or "%" in obfuscate("shit", "masking")
    spaced = obfuscate("shit", "spacing")
    assert len(spaced) == 7 and spaced[::2] == "shit"
    assert obfuscate("shit", "zero_width").replace("\u200b", "").replace("\u200c", "").replace(
        "\u200d", "").replace("\u2060", "") == "shit"
    homo = obfuscate("cocks", "homoglyph", seed=5)
    assert homo != "cocks" and all(ord(c) > 127 or c in "cocks" for c in homo)
    assert any(unicodedata.name(c).startswith(("CYRILLIC", "GREEK", "LATIN SMALL LETTER ALPHA", "ARMENIAN"))
               for c in homo if ord(c) > 127)
    rep = obfuscate("shit", "repeat")
    assert len(rep) > 4 and "".join(dict.fromkeys(rep)) == "shit"
    assert any(c in "5$7+1!|" for c in obfuscate("shitlist", "leetspeak", seed=2))


def test_unknown_method_and_variants():
    with pytest.raises(ValueError, match="unknown method"):
        obfuscate(TEXT, "rot13")
    rows = variants(["a stupid thing", "you shit"], methods=("masking", "spacing"))
    assert len(rows) == 4 and {r["method"] for r in rows} == {"masking", "spacing"}
    assert all(r["original"] != r["text"] for r in rows)


SWEARS = ["idiot", "fucking", "stupid", "shit", "moron", "bastard"]


@pytest.mark.parametrize("method", ["bidi", "invisible", "zero_width"])
def test_normalisation_undoes_bidi_and_invisible_tricks(method):
    from models.normalize import normalize
    for seed in range(5):
        for word in SWEARS:
            text = f"you are a {word} and everyone knows it"
            tricked = obfuscate(text, method, seed=seed)
            assert tricked != text
            assert normalize(tricked) == normalize(text), (method, seed, tricked)


def test_bidi_and_invisible_variants_look_like_the_word():
    bidi = obfuscate("shit", "bidi", seed=1)
    assert bidi.startswith("\u202e") and bidi.lstrip("\u202e").rstrip("\u202c") == "tihs"
    invisible = obfuscate("bastard", "invisible", seed=2)
    assert len(invisible) > len("bastard")
    assert "".join(c for c in invisible if unicodedata.category(c) in ("Ll", "Lu")) == "bastard"


def test_a_whole_comment_typed_backwards_reads_forwards_with_spans_on_the_original():
    from models.normalize import display_order, is_blank, normalize_with_spans
    text = "\u202etoidi gnikcuf a era uoy"
    norm, spans = normalize_with_spans(text)
    assert norm == "you are a fucking idiot"
    assert [text[b:e] for b, e in spans] == ["uoy", "era", "a", "gnikcuf", "toidi"]
    assert display_order("abc \u2067def\u2069")[0] == "abc def"   # isolates do not reorder (controls dropped)
    assert is_blank("\u200b\u200c\u200d\u2060\ufeff\u3164 \u00ad") and not is_blank("\u200bok")
