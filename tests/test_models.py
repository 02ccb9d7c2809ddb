"""The models API on a tiny bundle trained in seconds from examples written here."""
import json
import pickle

import numpy as np
import scipy.sparse as sp
import pytest

import models
from models.offtopic import pairs
from models.normalize import normalize, normalize_with_spans

NICE = [
    "I agree with the author about the new budget and the tax changes.",
    "Thanks for the thoughtful reporting on the election results.",
    "The council should fund more buses, the article explains why well.",
    "Interesting point about interest rates and housing prices.",
    "My grandmother lived through the same flood in 1961.",
    "Good piece, though the numbers on spending seem optimistic.",
    "The mayor's plan makes sense to me if they can pay for it.",
    "I read the report and the conclusions look fair.",
    "Housing is the issue of our time, glad this is covered.",
    "This was a balanced article on a hard subject.",
]
NASTY = [
    "You are a stupid idiot and nobody cares what you think.",
    "Shut up you moron, go back under your rock.",
    "What a pathetic loser, you idiot.",
    "You're a disgusting pig and an idiot.",
    "Only a stupid fool would write this garbage, moron.",
    "Go to hell you worthless idiot.",
    "You are dumb as a rock, stupid moron.",
    "Idiot. Moron. Loser. Get lost.",
    "Nobody asked you, stupid idiot.",
    "You absolute moron, read before typing you fool.",
]
SPAM = [
    "Check out my channel for free gift cards www.freegifts.com",
    "Subscribe to my channel please!! http://bit.ly/xyz",
    "Make money from home, visit my site www.easycash.biz",
    "Click here for a free trial http://deal.example.com",
    "Follow me and check out my page for discount codes",
    "Visit my website www.bestdeals.tk call 555-123-4567",
]
ABOUT_BUDGET = [
    "The council should fund more buses, the budget is right to do it.",
    "A tax rise to pay for buses and housing seems fair to me.",
    "The budget vote was close, but the bus routes are worth it.",
    "Repairing the flood defences should come before new housing.",
    "The mayor promised no tax rise, now the budget raises taxes.",
    "More buses in the budget will help people get to work.",
    "Housing money in the council budget is overdue.",
    "Why does the budget spend so much on buses and so little on roads?",
]
ABOUT_FOOTBALL = [
    "What a cup final, the striker was brilliant in the second half.",
    "The home side deserved to win the final on Saturday.",
    "Two goals from the striker, best football match of the year.",
    "The team finally won the cup, great game.",
]
ARTICLE = {"title": "City council approves new budget for buses and housing",
           "body": "The city council voted on Tuesday to approve a budget that funds more buses, new housing "
                   "and repairs to the flood defences. The mayor said taxes would rise slightly. " * 3}
OTHER = {"title": "Local team wins the football cup final",
         "body": "The striker scored twice in the second half as the home side won the cup final on Saturday."}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A bundle with all three heads trained on the lists above, saved and loaded back."""
    texts = NICE + NASTY
    y = [0] * len(NICE) + [1] * len(NASTY)
    insult = [0.0] * len(NICE) + [1.0] * len(NASTY)
    abuse = models.AbuseClassifier(use_embeddings=False, max_word_features=2000, max_char_features=5000)
    abuse.fit(texts * 2, y * 2, sub_labels={"insult": insult * 2})
    abuse.fit_spans(NASTY, [[(m.start(), m.end()) for m in __import__("re").finditer(
        r"stupid|idiot|moron|loser|pig|fool|dumb|pathetic|worthless", t)] for t in NASTY], negative_texts=NICE)
    comments = ABOUT_BUDGET * 2 + ABOUT_FOOTBALL * 2 + SPAM + NICE
    arts = [ARTICLE] * 8 + [OTHER] * 8 + [OTHER] * 4 + [ARTICLE] * 4 + [None] * (len(SPAM) + len(NICE))
    yo = [0] * 8 + [1] * 8 + [0] * 4 + [1] * 4 + [1] * len(SPAM) + [0] * len(NICE)
    off = models.OffTopicClassifier(max_iter=50, min_samples_leaf=3).fit(pairs(comments, arts), yo)
    spam = models.SpamClassifier().fit(NICE + SPAM * 2 + NASTY, [0] * 10 + [1] * 12 + [0] * 10)
    b = models.Bundle(abuse=abuse, off_topic=off, spam=spam,
                      thresholds={"abusive": 0.5, "off_topic": 0.5, "spam": 0.5}, metadata={"version": "tiny-1"})
    folder = b.save(tmp_path_factory.mktemp("bundle") / "tiny-1")
    return models.load_bundle(folder)


@pytest.mark.parametrize("obfuscated, plain", [
    ("f u c k", "fuck"), ("sh*t", "shit"), ("f**k", "fuck"), ("1d10t", "idiot"), ("stuuuuupid", "stupid"),
    ("id\u200biot", "idiot"), ("\u0455tup\u0456d", "stupid"), ("f.u.c.k", "fuck"), ("IDIOT!!!", "idiot"),
    ("s t u p i d,", "stupid"), ("f u c k!", "fuck"), ("s.h.i.t,", "shit"), ("f_u_c_k", "fuck"),  # punctuation after
    ("kkkkill", "kill"), ("bulllllshit", "bullshit"),  # the stretched letter only: a word's own double letters stay
    ("s\u04bbit", "shit"), ("fu\u03f2k", "fuck"), ("g\u03c3d", "god"),  # Cyrillic shha, lunate sigma, sigma
])
def test_normalise_undoes_obfuscation(obfuscated, plain):
    assert normalize(f"you {obfuscated} here").split() == ["you", plain, "here"]


@pytest.mark.parametrize("obfuscated, plain", [
    ("p#thetic", "pathetic"), ("r*d*c**ous", "ridiculous"), ("p**ple", "people"), ("h@te", "hate"), ("ca$h", "cash"),
])
def test_normalise_reads_other_masked_words_as_the_word_the_mask_fits(obfuscated, plain):
    assert normalize(f"you {obfuscated} here").split() == ["you", plain, "here"]


@pytest.mark.parametrize("leet, plain", [
    ("k1ll", "kill"), ("ki11", "kill"), ("sk!||", "skill"), ("1os3r", "loser"), ("f00l", "fool"), ("1d10t", "idiot"),
])
def test_normalise_reads_an_ambiguous_leet_letter_as_the_one_that_makes_a_word(leet, plain):
    assert normalize(f"you {leet} here").split() == ["you", plain, "here"]


def test_normalise_leaves_numbers_and_unreadable_leet_alone():
    assert normalize("route 11 in 2011, x1q9") == "route 11 in 2011 xiqg"


@pytest.mark.parametrize("stretched, plain", [
    ("riiiidiculous", "ridiculous"), ("pathetiiiic", "pathetic"), ("goooood", "good"), ("coooool", "cool"),
])
def test_normalise_shrinks_stretched_ordinary_words_to_a_word(stretched, plain):
    assert normalize(f"so {stretched} here").split() == ["so", plain, "here"]


def test_normalise_keeps_words_whose_own_double_letters_are_not_stretched():
    assert normalize("bookkeeper committee aardvark carrot") == "bookkeeper committee aardvark carrot"


@pytest.mark.parametrize("text", ["c#", "***", "#hashtag", "x*yzq", "e-mail", "a.m", "ab#*%"])
def test_normalise_leaves_masks_that_fit_no_word_or_show_too_little(text):
    assert normalize(f"you {text} here").split() == ["you", text, "here"]


def test_normalise_keeps_offsets_into_the_original_text():
    text = "Hey  y o u, a  s-h-i-t\u200b head"
    norm, ranges = normalize_with_spans(text)
    words = norm.split(" ")
    assert len(words) == len(ranges)
    assert "shit" in words
    b, e = ranges[words.index("shit")]
    assert text[b:e] == "s-h-i-t\u200b"


def _unmask_by_regex(word):
    """The masked-swear reading as first written (a pattern compiled per word): the oracle for the faster one."""
    import re

    from models.normalize import MASK_CHARS, SWEARS, _ALPHA, _dictionary_word
    if not any(c in MASK_CHARS for c in word) or not _ALPHA.search(word):
        return word
    pattern = re.compile("^" + "".join("." if c in MASK_CHARS else re.escape(c) for c in word) + "$")
    for s in SWEARS:
        if len(s) == len(word) and pattern.match(s):
            return s
    loose = re.compile("^" + re.sub(r"(?:\\.|\.)+", lambda m: "[a-z]{1,%d}" % max(1, len(m.group(0))),
                                    "".join("." if c in MASK_CHARS else re.escape(c) for c in word)) + "$")
    for s in SWEARS:
        if loose.match(s):
            return s
    return _dictionary_word(word)


def test_masked_words_read_as_the_per_word_regex_reads_them():
    import random

    from models.normalize import MASK_CHARS, SWEARS, _unmask
    rng = random.Random(0)
    words = ["well-known", "e-mail", "u.s", "a.m", "c#", "@name", "f&*k", "s(h)!t", "sh~t", "h@te", "p#thetic",
             "r*d*c**ous", "$5", "...", "f**king", "m0r*n", "b!tch", "i-d-i-o-t", "kil**", "as##", "as##s"]
    for _ in range(2000):  # swears and ordinary words with letters masked, dropped or doubled, and odd characters
        w = list(rng.choice(SWEARS + ("council", "bridge", "timetable", "idiotic", "hello")))
        for i in rng.sample(range(len(w)), rng.randint(1, min(3, len(w)))):
            w[i] = rng.choice(MASK_CHARS + MASK_CHARS + "&~()+|^'\\" + "".join(rng.choice("aeiou") * 2))
        words.append("".join(w))
    for w in words:
        assert _unmask(w) == _unmask_by_regex(w), w


def test_remembered_words_read_as_fresh_ones_and_long_tokens_are_not_remembered():
    from models.normalize import WORD_CACHE_LEN, _normalize_word, _normalize_word_cached, normalize_word
    words = ["Idiot!!", "f**k", "k1ll", "stuuuupid", "(moron)", "well-known", "ＩＤＩＯＴ"]
    assert [normalize_word(w) for w in words * 2] == [_normalize_word(w) for w in words * 2]
    long = "f**k" * (WORD_CACHE_LEN // 4 + 1)
    before = _normalize_word_cached.cache_info().currsize
    assert normalize_word(long) == _normalize_word(long)
    assert _normalize_word_cached.cache_info().currsize == before


def test_normal_text_is_left_alone():
    assert normalize("The 2013 budget: $50 at 5:30, e-mail me.") == "the 2013 budget $50 at 5:30 e-mail me"


@pytest.mark.model
def test_scores_separate_and_are_probabilities(tiny):
    s_bad = tiny.score("You stupid moron, nobody cares.", ARTICLE)
    s_ok = tiny.score("Glad the council is funding buses and housing.", ARTICLE)
    assert 0.0 <= s_ok.abusive < s_bad.abusive <= 1.0
    assert set(s_bad.sub_scores) == {"insult"}
    assert s_bad.sub_scores["insult"] > s_ok.sub_scores["insult"]
    assert s_bad.article_known and s_bad.model_version == "tiny-1"


def test_obfuscated_abuse_still_scores_high(tiny):
    plain = tiny.score("you stupid idiot").abusive
    hidden = tiny.score("you $tuuupid 1d10t").abusive
    assert hidden > 0.5 and abs(plain - hidden) < 0.2


def test_spans_point_at_the_abusive_words_in_the_original_text(tiny):
    text = "Well, you are a st*pid 1d10t, frankly."
    s = tiny.score(text)
    found = {text[sp["begin"]:sp["end"]] for sp in s.spans}
    assert found == {"st*pid 1d10t"}
    assert all(0 <= sp["score"] <= 1 for sp in s.spans)
    assert tiny.score("Glad the council is funding buses.").spans == []


@pytest.mark.model
def test_long_comment_is_scored_whole_not_truncated(tiny):
    filler = " ".join(NICE * 8)  # about 900 words: several encoder windows
    insult_at_end = filler + " " + " ".join(NASTY[:2])
    assert len(models.get_encoder().chunk([normalize(insult_at_end)])[0]) > 2
    assert tiny.score(filler).abusive < 0.2
    assert tiny.score(insult_at_end).abusive > 0.8


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_an_error(tiny, text):
    with pytest.raises(models.EmptyTextError):
        tiny.score(text)
    with pytest.raises(ValueError):
        tiny.score_many([("fine", None), (text, None)])


def test_off_topic_uses_the_article(tiny):
    comment = "Good that the council budget pays for buses and housing."
    assert tiny.score(comment, ARTICLE).off_topic < tiny.score(comment, OTHER).off_topic
    sport = "The striker scored in the final, what a game."
    assert tiny.score(sport, OTHER).off_topic < tiny.score(sport, ARTICLE).off_topic


@pytest.mark.model
def test_without_article_the_result_says_so(tiny):
    s = tiny.score("Check out my channel www.freegifts.com", None)
    assert s.article_known is False
    assert s.spam > 0.5 and s.off_topic > 0.5  # the off-topic head knows spam cues without an article
    assert tiny.score("fine", {"title": "  ", "body": ""}).article_known is False
    d = models.decide(s)
    assert d.decision == "hold" and "spam" in d.reasons and "article_unknown" in d.reasons


@pytest.mark.model
def test_article_may_be_title_only_body_only_or_object(tiny):
    c = "Buses and housing in the budget."
    for art in ({"title": ARTICLE["title"]}, {"body": ARTICLE["body"]}, models.ArticleText(**ARTICLE, id="a1")):
        assert tiny.score(c, art).article_known
    with pytest.raises(ValueError):
        tiny.score(c, {"headline": "x"})


def test_article_embeddings_are_cached(tiny):
    enc = tiny.off_topic._encoder()
    calls = []
    original = enc.encode_chunks
    enc.encode_chunks = lambda texts, **kw: calls.append(list(texts)) or original(texts, **kw)
    try:
        art = models.ArticleText(title="Cached article", body="A body about trains. " * 50, id="cache-test")
        tiny.score("first comment on trains", art)
        tiny.score("second comment on trains", art)
    finally:
        del enc.encode_chunks
    article_calls = [c for c in calls if any("A body about trains" in t for t in c)]
    assert len(article_calls) == 1


def test_score_many_matches_score(tiny):
    items = [(NICE[0], ARTICLE), (NASTY[0], None), (SPAM[0], OTHER)]
    many = tiny.score_many(items)
    for (t, a), s in zip(items, many):
        one = tiny.score(t, a)
        assert one.abusive == pytest.approx(s.abusive, abs=1e-5)
        assert one.off_topic == pytest.approx(s.off_topic, abs=1e-5)


def test_to_dict_is_json_ready(tiny):
    d = tiny.score("You stupid idiot", ARTICLE).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {"abusive", "off_topic", "spam", "sub_scores", "spans", "article_known", "language",
            "language_supported", "model_version"} <= set(d)


@pytest.mark.model
def test_bundle_round_trip_and_version_check(tiny, tmp_path):
    folder = tiny.save(tmp_path / "b")
    again = models.load_bundle(folder)
    assert again.thresholds == tiny.thresholds and again.version == "tiny-1"
    assert again.score("You moron").abusive == pytest.approx(tiny.score("You moron").abusive, abs=1e-6)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["format_version"] = 999
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(models.BundleVersionError, match="format version 999"):
        models.load_bundle(folder)
    with pytest.raises(FileNotFoundError):
        models.load_bundle(tmp_path / "nothing-here")


def test_abuse_head_with_sentence_embeddings():
    clf = models.AbuseClassifier(use_embeddings=True, max_word_features=2000, max_char_features=5000)
    clf.fit(NICE + NASTY, [0] * 10 + [1] * 10)
    p = clf.predict_proba(["you stupid moron", "a fair article on the budget"])[:, 1]
    assert p[0] > p[1]
    assert clf.lr_.coef_.shape[1] == len(clf.word_.vocabulary_) + len(clf.char_.vocabulary_) + 384


@pytest.mark.model
def test_stacked_embedding_head_adds_its_margin_to_the_ngram_margin():
    clf = models.AbuseClassifier(use_embeddings=True, stack_weight=2.0, max_word_features=2000, max_char_features=5000)
    clf.fit(NICE + NASTY, [0] * 10 + [1] * 10, calibration=(NICE[:5] + NASTY[:5], [0] * 5 + [1] * 5))
    assert clf.lr_.coef_.shape[1] == len(clf.word_.vocabulary_) + len(clf.char_.vocabulary_)  # n-grams only
    assert clf.emb_lr_.coef_.shape[1] == 384
    texts = ["you stupid moron", "a fair article on the budget"]
    p = clf.predict_proba(texts)[:, 1]
    assert p[0] > p[1]
    norm = [normalize(t) for t in texts]
    ngram = clf.lr_.decision_function(sp.hstack([clf.word_.transform(norm), clf.char_.transform(norm)]).tocsr())
    emb = clf.emb_lr_.decision_function(clf._encoder().encode(norm))
    assert np.allclose(p, clf.platt_(ngram + 2.0 * emb), atol=1e-6)
    again = pickle.loads(pickle.dumps(clf))
    assert np.allclose(again.predict_proba(texts)[:, 1], p, atol=1e-6)
    with pytest.raises(ValueError, match="calibration"):
        models.AbuseClassifier(use_embeddings=True, stack_weight=1.0).fit(NICE + NASTY, [0] * 10 + [1] * 10)


@pytest.mark.model
def test_stacked_head_on_layer_features_and_older_pickles_keep_the_sentence_embedding():
    from models.abuse import MAX_POOL_WEIGHT
    clf = models.AbuseClassifier(use_embeddings=True, stack_weight=1.0, embedding="layers",
                                 max_word_features=2000, max_char_features=5000)
    clf.fit(NICE + NASTY, [0] * 10 + [1] * 10, calibration=(NICE[:5] + NASTY[:5], [0] * 5 + [1] * 5))
    assert clf.emb_lr_.coef_.shape[1] == 2 * 384
    texts = ["you stupid moron", "a fair article on the budget"]
    p = clf.predict_proba(texts)[:, 1]
    assert p[0] > p[1]
    norm = [normalize(t) for t in texts]
    ngram = clf.lr_.decision_function(sp.hstack([clf.word_.transform(norm), clf.char_.transform(norm)]).tocsr())
    feats = clf._encoder().encode_features(norm) * np.r_[np.ones(384), np.full(384, MAX_POOL_WEIGHT)]
    assert np.allclose(p, clf.platt_(ngram + clf.emb_lr_.decision_function(feats)), atol=1e-6)
    # scoring with the chunks the bundle already encoded gives the same
    assert np.allclose(clf.scores(texts, clf._encoder().encode_chunks(norm))["abusive"], p, atol=1e-6)
    with pytest.raises(ValueError, match="embedding"):  # checked in fit, as sklearn's contract wants
        models.AbuseClassifier(embedding="tokens").fit(NICE, [0] * 5)
    old = models.AbuseClassifier(use_embeddings=True, stack_weight=1.0, max_word_features=2000, max_char_features=5000)
    old.fit(NICE + NASTY, [0] * 10 + [1] * 10, calibration=(NICE[:5] + NASTY[:5], [0] * 5 + [1] * 5))
    state = old.__getstate__()
    del state["embedding"]  # as in bundles pickled before the option
    again = models.AbuseClassifier.__new__(models.AbuseClassifier)
    again.__setstate__(state)
    assert again.embedding == "sentence" and "embedding=" not in repr(again)
    assert np.allclose(again.predict_proba(texts), old.predict_proba(texts), atol=1e-6)


def test_abuse_head_learns_from_soft_labels():
    """A crowd's mean rating trains the head: words in texts rated 0.9 abusive score above words rated 0.1."""
    sharp = [f"that is a sharp remark about bananas number {i}" for i in range(8)]
    mild = [f"that is a sharp remark about apples number {i}" for i in range(8)]
    texts = NICE + NASTY + sharp + mild
    y = [0.0] * 10 + [1.0] * 10 + [0.9] * 8 + [0.1] * 8
    clf = models.AbuseClassifier(use_embeddings=False, max_word_features=2000, max_char_features=5000).fit(
        texts, y, sub_labels={"insult": y})  # sub-labels may be soft too (C3's share of annotators)
    p = clf.predict_proba(["a remark about bananas", "a remark about apples"])[:, 1]
    assert p[0] > p[1]
    insult = clf.scores(["a remark about bananas", "a remark about apples"])["insult"]
    assert insult[0] > insult[1]
    flipped = models.AbuseClassifier(use_embeddings=False, max_word_features=2000, max_char_features=5000).fit(
        texts, y[:20] + [0.1] * 8 + [0.9] * 8)
    q = flipped.predict_proba(["a remark about bananas", "a remark about apples"])[:, 1]
    assert q[0] < q[1]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        models.AbuseClassifier(use_embeddings=False).fit(NICE + NASTY, [0] * 10 + [2] * 10)


def test_estimators_follow_the_sklearn_api(tiny):
    p = tiny.abuse.predict_proba(["you idiot", "nice article"])
    assert p.shape == (2, 2) and np.allclose(p.sum(1), 1)
    assert list(tiny.abuse.classes_) == [0, 1]
    q = tiny.off_topic.predict_proba([("buses", ARTICLE)])
    assert q.shape == (1, 2)
    assert list(tiny.off_topic.predict([("buses", ARTICLE), ("buses", None)])) == list((
        tiny.off_topic.predict_proba([("buses", ARTICLE), ("buses", None)])[:, 1] >= 0.5).astype(int))
    with pytest.raises(ValueError, match=r"\(comment, article\) pairs"):
        tiny.off_topic.predict_proba(["buses"])  # a bare comment is not a pair


def test_language_is_reported(tiny):
    assert tiny.score("This is an article I agree with.").language == "en"
    s = tiny.score("Это очень хорошая статья о бюджете города", ARTICLE)
    assert s.language == "ru" and not s.language_supported
    assert "unsupported_language" in models.decide(s).reasons


@pytest.mark.parametrize("text, code", [
    ("The council should fund more buses, the article explains why well.", "en"),
    ("ok", "en"), ("lol", "en"), ("Thanks!", "en"), ("\U0001F600\U0001F600", "en"),   # too short to tell: English
    ("Das ist doch völliger Unsinn, was der Minister da erzählt.", "de"),
    ("Zeigen Sie mal.", "de"),
    ("Ce gouvernement ne comprend rien à la vie des gens ordinaires.", "fr"),
    ("yeh kya bakwas hai yaar", "ur-Latn"),   # Roman Urdu: no shipped model knows it, the word cue does
    ("Это очень хорошая статья", "ru"),
])
def test_language_identifies_short_comments(text, code):
    from models.cues import language
    assert language(text) == code


@pytest.mark.model
def test_stored_article_embeddings_replace_encoding_and_stale_ones_are_ignored(monkeypatch):
    import models
    b = models.load_bundle()
    art = models.ArticleText(title="Harbour bridge closes", body="The bridge closes for six weeks while cables are replaced.")
    blob = b.article_embeddings(art)
    enc = b.off_topic._encoder()
    seen, real = [], enc.encode_chunks
    monkeypatch.setattr(enc, "encode_chunks", lambda texts, **kw: seen.extend(texts) or real(texts, **kw))
    comment = "An hour longer to work for six weeks."
    b.off_topic._lru = None
    fresh = b.score(comment, art)
    b.off_topic._lru = None
    seen.clear()
    stored = b.score(comment, models.ArticleText(title=art.title, body=art.body, embeddings=blob))
    assert art.body not in seen and stored.off_topic == pytest.approx(fresh.off_topic, abs=1e-6)
    b.off_topic._lru = None
    seen.clear()
    other = models.ArticleText(title=art.title, body=art.body + " Updated.", embeddings=blob)  # stored before an edit
    b.score(comment, other)
    assert other.body in seen, "embeddings made for other text are not used"
    garbage = models.ArticleText(title="t", body="b", embeddings=b"not numpy")
    b.off_topic._lru = None
    assert 0 <= b.score(comment, garbage).off_topic <= 1


@pytest.mark.model
def test_off_topic_sample_weight_decides_between_conflicting_labels():
    """The same pairs labelled both ways: the weighted side wins in the trees (training weighs human labels this
    way). Raw tree output: Platt scaling, fitted unweighted, maps both back towards the unweighted rate."""
    comments = ABOUT_BUDGET * 4 + ABOUT_FOOTBALL * 4
    arts = [ARTICLE] * (len(ABOUT_BUDGET) * 4) + [OTHER] * (len(ABOUT_FOOTBALL) * 4)
    half = len(comments) // 2
    y = ([0] * (half // 2) + [1] * (half // 2)) * 2  # each comment appears twice with each label
    on_heavy = [3.0 if label == 0 else 1.0 for label in y]
    off_heavy = [1.0 if label == 0 else 3.0 for label in y]
    kw = dict(use_embeddings=False, max_iter=30, min_samples_leaf=2)
    a = models.OffTopicClassifier(**kw).fit(pairs(comments, arts), y, sample_weight=on_heavy)
    b = models.OffTopicClassifier(**kw).fit(pairs(comments, arts), y, sample_weight=off_heavy)
    X = a._prep(a.features(pairs(ABOUT_BUDGET, [ARTICLE] * len(ABOUT_BUDGET))))
    pa, pb = a.model_.predict_proba(X)[:, 1], b.model_.predict_proba(X)[:, 1]
    assert (pb > pa + 0.3).all()


CHATTER = [f"{greet} {who}{end}" for greet in ("Thanks", "Hello", "Cheers", "Good morning", "lol")
           for who in ("everyone", "all", "mate", "guys", "folks") for end in ("!", " :)")]
ON_SUBJECT = [f"{a} {b}." for a in ("The council budget", "This tax rise", "The new bus plan", "Housing money",
                                     "The flood repair fund")
              for b in ("will cost families more than the mayor admits", "is overdue and well argued here",
                        "should have gone to a public vote", "leaves the roads without repairs",
                        "needs an independent audit")]


@pytest.mark.model
def test_off_topic_comment_head_learns_from_the_comment_rows_only():
    """Chit-chat is off-topic under any article: the comment head learns that from comment_rows (human labels,
    no-article rows), not from swapped-article pairs, and the trees get its score as a feature."""
    comments = CHATTER + ON_SUBJECT + ABOUT_BUDGET + ABOUT_BUDGET
    arts = [ARTICLE] * (len(CHATTER) + len(ON_SUBJECT) + len(ABOUT_BUDGET)) + [OTHER] * len(ABOUT_BUDGET)
    y = [1] * len(CHATTER) + [0] * len(ON_SUBJECT) + [0] * len(ABOUT_BUDGET) + [1] * len(ABOUT_BUDGET)
    rows = [True] * (len(CHATTER) + len(ON_SUBJECT)) + [False] * (2 * len(ABOUT_BUDGET))
    off = models.OffTopicClassifier(max_iter=50, min_samples_leaf=3).fit(pairs(comments, arts), y, comment_rows=rows)
    assert off.feature_names[-1] == "comment_score"
    assert off.comment_lr_.coef_.shape == (1, off._encoder().dim)
    chat, real = ["Morning all, cheers!", "Hello friends :)"], ["The budget should fund the buses.",
                                                                  "Taxes rise to pay for housing."]
    s = off._comment_scores(chat + real, off._encoder().encode([normalize(t) for t in chat + real]))
    assert s[:2].min() > s[2:].max()
    # swapped-article pairs carry the same comment with both labels: they must not have taught the head
    alone = models.OffTopicClassifier(max_iter=50, min_samples_leaf=3).fit(
        pairs(comments[:len(rows) - 2 * len(ABOUT_BUDGET)], arts[:len(rows) - 2 * len(ABOUT_BUDGET)]),
        y[:len(rows) - 2 * len(ABOUT_BUDGET)], comment_rows=[True] * (len(rows) - 2 * len(ABOUT_BUDGET)))
    np.testing.assert_allclose(off.comment_lr_.coef_, alone.comment_lr_.coef_)


@pytest.mark.model
def test_off_topic_comment_head_needs_enough_rows_and_old_models_still_score():
    comments = CHATTER[:10] + ON_SUBJECT[:10]
    y = [1] * 10 + [0] * 10
    few = models.OffTopicClassifier(max_iter=20, min_samples_leaf=2).fit(pairs(comments, [ARTICLE] * 20), y,
                                                                        comment_rows=[True] * 20)
    assert few.comment_lr_ is None and "comment_score" not in few.feature_names
    assert few.features(pairs(comments[:2], [ARTICLE] * 2)).shape[1] == len(few.feature_names)
    del few.comment_lr_  # as in a bundle pickled before the comment head existed
    assert few.predict_proba(pairs(comments[:2], [ARTICLE] * 2)).shape == (2, 2)


@pytest.mark.model
def test_bundle_embeds_comments_without_an_article_for_the_comment_head(monkeypatch):
    """An n-gram-only abuse head does not need the comment's embedding, but the comment head does: in a batch,
    the comment without an article must get its own vector, not a row of zeros."""
    comments = CHATTER + ON_SUBJECT
    y = [1] * len(CHATTER) + [0] * len(ON_SUBJECT)
    off = models.OffTopicClassifier(max_iter=30, min_samples_leaf=3).fit(pairs(comments), y)
    assert off.comment_lr_ is not None  # default comment_rows: the rows without an article
    abuse = models.AbuseClassifier(use_embeddings=False, max_word_features=2000, max_char_features=5000)
    abuse.fit(NICE + NASTY, [0] * len(NICE) + [1] * len(NASTY))
    b = models.Bundle(abuse=abuse, off_topic=off, spam=None, thresholds={"abusive": 0.5, "off_topic": 0.5},
                      metadata={"version": "head-1"})
    seen = []
    real = off.predict_proba
    monkeypatch.setattr(off, "predict_proba", lambda X, v=None: seen.append(v) or real(X, v))
    text = "Hello everyone, cheers :)"
    b.score_many([(text, None), ("The budget funds buses.", ARTICLE)])
    np.testing.assert_allclose(seen[0][0], off._encoder().encode([normalize(text)])[0], atol=1e-5)
