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
