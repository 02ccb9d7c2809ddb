"""Loaders for the public data sets in ../shared/data and for labelled exports.

Every label mapping lives in SOURCES below: one row per set, saying which column becomes `label`
(1 = abusive / off-topic), the licence, and which sub-labels the set supports. The loaders
only read files; nothing here is copied into the project.
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

SUB_LABELS = ("insult", "obscene", "identity_attack", "threat")

# The one place the label mappings and the sets' uses are written down. `label` says what becomes 1.
# `roles`: head -> what `moderation train` does with the set for that head: train (the main label), sub_scores (abuse
# sub-scores only: a positive-only set would teach "news style = abusive"), negatives (its clean comments are the
# head's negatives), calibrate (calibration and threshold), evaluate (held-out split reported), pair_head (news pairs
# of `moderation train --base-bundle`). off_by_default: left out of abuse training unless asked for (its held-out
# split is still reported): it teaches what is not abuse in news comments (bench/REPORT-models.md). held_out: the set
# gives no test split, so training holds out grouped_split(test_size=HELDOUT[held_out]) of it (training.train.HELDOUT).
SOURCES: dict[str, dict] = {
    # --- abuse ---
    "c3": dict(roles={"abusive": ("train", "evaluate"), "spans": ("negatives",), "spam": ("negatives",)},
               held_out="c3_test_size",
               path="abuse/c3", licence="CC BY-NC-SA 4.0 (SOCC)",
               label="crowd_toxicity_level >= 2.0",
               target="the soft label min(1, crowd_toxicity_level - 1): a mean rating of 1 (every annotator said "
                      "'not toxic') -> 0, 2 or more -> 1; evaluation uses the 0/1 label",
               sub="insult: the share of annotators who marked personal_attack, doubled and capped at 1 (a soft "
                   "label: half of them or more -> 1); evaluation uses >= half -> 1",
               split="none given (train); group = article_id"),
    "ucc": dict(roles={"abusive": ("calibrate", "evaluate"), "spans": ("negatives",)},
                path="abuse/ucc", licence="CC BY-NC-SA 4.0",
                label="hostile == 1 or antagonize == 1",
                sub="none", split="val.csv -> dev, test.csv -> test; group = unit id (no article id)"),
    "sfu_ctc": dict(roles={"abusive": ("train",), "spans": ("negatives",), "spam": ("negatives",)},
                    path="abuse/sfu_ctc", licence="CC BY-NC-SA 4.0",
                    label="is_toxic_popular_answer_1 >= 2", sub="none",
                    split="none given (train); group = article url"),
    "olid": dict(roles={"abusive": ("train", "evaluate")},
                 path="abuse/olid", licence="none stated (cite Zampieri et al. 2019)",
                 label="subtask_a == OFF",
                 sub="insult: OFF+TIN+IND; identity_attack: OFF+TIN+GRP; obscene: OFF+UNT (1), NOT (0)",
                 split="olid-training -> train, testset-levela -> test"),
    "trac1_en": dict(roles={"abusive": ("train", "evaluate")}, off_by_default=True,
                     path="abuse/trac1_en", licence="none stated (TRAC-1 shared task)",
                     label="OAG (overtly aggressive); CAG and NAG = 0", sub="none",
                     split="agr_en_train -> train, agr_en_dev -> dev"),
    "davidson": dict(roles={"abusive": ("train",)}, off_by_default=True,
                     path="abuse/davidson", licence="MIT",
                     label="class 0 (hate) or 1 (offensive)",
                     sub="identity_attack: class 0", split="train; capped (random sample) so it cannot dominate"),
    "hatexplain": dict(roles={"abusive": ("train",)}, off_by_default=True,
                       path="abuse/hatexplain", licence="MIT", label="label != normal",
                       sub="identity_attack: hatespeech (offensive: unknown)", split="train"),
    "civil_toxic_spans": dict(roles={"abusive": ("sub_scores", "evaluate"), "spans": ("train", "evaluate")},
                              path="abuse/civil_toxic_spans", licence="CC0 1.0",
                              label="all rows 1 (posts already rated toxic)",
                              sub="type of the majority gold spans: Insult, Profane/Obscene, "
                                  "Identity based Attack, Threat",
                              split="hash of comment_id: 20 % test, rest train"),
    # --- topic ---
    "semeval2016_cqa": dict(roles={"off_topic": ("train", "calibrate", "evaluate")}, held_out="semeval_test_size",
                            path="topic/semeval2016_cqa", licence="free for research use",
                            label="RELC_RELEVANCE2RELQ == Bad", kind="human",
                            split="train (train-part2); group = thread"),
    "arc": dict(roles={"off_topic": ("train", "evaluate")},
                path="topic/arc_fnc", licence="code Apache-2.0; comments belong to their authors; research use",
                label="Stance == unrelated (paired with another debate)", kind="synthetic",
                split="arc_stances_train -> train, arc_stances_test -> test; group = the comment's own debate"),
    "fnc1": dict(roles={"off_topic": ("train",)},
                 path="topic/fnc1", licence="none stated",
                 label="Stance == unrelated (headline of another story)", kind="synthetic",
                 split="train; group = story (headlines and bodies linked by related stances)"),
    "ruddit": dict(roles={"off_topic": ("pair_head",)},
                   path="abuse/ruddit", licence="official IDs and scores MIT; text is Reddit users' content",
                   label="off-topic pairs: the comment under another post's title (a random one and the most similar "
                         "one) = 1, under its own post's title = 0 (the validation half of the posts)", kind="synthetic",
                   split="half of the posts by grouped_split(test_size=0.5, seed=0); the other half is reported"),
    "sfu_news": dict(roles={"off_topic": ("pair_head",)},
                     path="abuse/sfu_ctc", licence="CC BY-NC-SA 4.0",
                     label="off-topic pairs, as for ruddit, with the Globe and Mail article titles", kind="synthetic",
                     split="half of the articles by grouped_split(test_size=0.5, seed=0); the other half is reported"),
    "youtube_spam": dict(roles={"spam": ("train",), "off_topic": ("train",)},
                         path="spam/youtube", licence="CC BY 4.0",
                         label="CLASS == 1 (spam is off-topic anywhere)", kind="human",
                         split="train; group = video; article = video title"),
}

# `target`: what the abuse head is trained towards, the label unless SOURCES gives a graded (soft) one
# (measurements: bench/REPORT-models.md, "Why the training constants are what they are").
# Order matters for de-duplication: the first copy of a text wins (after test/dev rows).
ABUSE_ORDER = ("c3", "ucc", "sfu_ctc", "civil_toxic_spans", "olid", "trac1_en", "hatexplain", "davidson")
SPLIT_RANK = {"test": 0, "dev": 1, "train": 2}
ABUSE_COLUMNS = ["text", "label", "target", "group", "source", "split", *SUB_LABELS]
TOPIC_COLUMNS = ["comment", "article_title", "article_body", "label", "group", "source", "kind", "split",
                 "seen_in_train"]
SPAN_TYPES = {"insu": "insult", "prof": "obscene", "iden": "identity_attack", "thre": "threat"}
YOUTUBE_TITLES = {"Youtube01-Psy": "PSY - Gangnam Style", "Youtube02-KatyPerry": "Katy Perry - Roar",
                  "Youtube03-LMFAO": "LMFAO - Party Rock Anthem", "Youtube04-Eminem": "Eminem - Love The Way You Lie",
                  "Youtube05-Shakira": "Shakira - Waka Waka"}


def text_key(text: str) -> str:
    """Key used to find the same text in two sets: case and whitespace do not make a new text."""
    return " ".join(str(text).split()).lower()


def _stable_fraction(key, seed: int = 0) -> float:
    """A number in [0, 1) fixed by the key alone, so a split never depends on row order."""
    digest = hashlib.sha1(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _frame(rows: dict, source: str, split, group) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["source"], df["split"], df["group"] = source, split, group
    if "target" not in df:
        df["target"] = df["label"].astype(float)
    for col in SUB_LABELS:
        if col not in df:
            df[col] = np.nan
    return df


# ---------------------------------------------------------------- abuse sets

def _load_c3(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/c3/C3_anonymized.csv")
    attack = d["toxicity_characteristics"].fillna("").map(lambda s: _count_of(s, "personal_attack"))
    judges = d["njudgements_toxicity_expt"].fillna(3).clip(lower=1)
    level = d["crowd_toxicity_level"]
    return _frame({"text": d["comment_text"], "label": (level >= 2.0).astype(int),
                   "target": (level - 1).clip(0, 1),
                   "insult": (attack * 2 / judges).clip(0, 1)},
                  "c3", "train", "c3:" + d["article_id"].astype(str))


def _count_of(cell: str, name: str) -> int:
    for line in cell.splitlines():
        key, _, count = line.partition(":")
        if key.strip() == name:
            return int(float(count or 0))
    return 0


def _load_ucc(root: Path) -> pd.DataFrame:
    parts = []
    for file, split in (("val.csv", "dev"), ("test.csv", "test")):
        d = pd.read_csv(root / "abuse/ucc" / file)
        label = ((d["hostile"] == 1) | (d["antagonize"] == 1)).astype(int)
        parts.append(_frame({"text": d["comment"], "label": label}, "ucc", split,
                            "ucc:" + d["_unit_id"].astype(str)))
    return pd.concat(parts, ignore_index=True)


UCC_ATTRIBUTES = ("hostile", "antagonize")  # the two of UCC's attributes that make its abuse label
UCC_README_NAMES = {"hostile": "Hostile", "antagonize": "Antagonistic"}  # each attribute's row in the README table


def ucc_published_aucs(root) -> dict:
    """The UCC authors' published test ROC-AUCs per attribute ({"hostile": {"bert": .., "one_annotator": ..}}),
    read from the table in the set's own README so the report quotes them without restating them here.
    An attribute whose row is missing is left out."""
    readme = Path(root) / "abuse/ucc/README.md"
    rows = {}
    if readme.exists():
        for line in readme.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 3:
                try:
                    rows[cells[0]] = {"one_annotator": float(cells[1]), "bert": float(cells[2])}
                except ValueError:
                    continue  # the header and its rule
    return {a: rows[name] for a, name in UCC_README_NAMES.items() if name in rows}


def load_ucc_attributes(root) -> pd.DataFrame:
    """UCC's attributes behind its abuse label, indexed by group ("ucc:<unit id>"): each one 0/1 and its
    `_agreement`, the trust-weighted share of annotators who gave that answer (1: all of them; NaN where the
    file has no confidence column). The evaluation uses it to tell contested labels from unanimous ones."""
    parts = []
    for file in ("val.csv", "test.csv"):
        d = pd.read_csv(Path(root) / "abuse/ucc" / file)
        cols = {"group": "ucc:" + d["_unit_id"].astype(str)}
        for a in UCC_ATTRIBUTES:
            cols[a] = d[a].astype(int)
            cols[f"{a}_agreement"] = d[f"{a}:confidence"].astype(float) if f"{a}:confidence" in d else np.nan
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True).drop_duplicates("group").set_index("group")


def _load_sfu(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/sfu_ctc/SFU_constructiveness_toxicity.csv")
    return _frame({"text": d["comment"], "label": (d["is_toxic_popular_answer_1"] >= 2).astype(int)},
                  "sfu_ctc", "train", "sfu:" + d["url"].fillna(d["title"]).astype(str))


def _olid_subs(a: pd.Series, b: pd.Series, c: pd.Series) -> dict:
    off, tin = a.eq("OFF"), b.eq("TIN")
    sub = {"insult": (off & tin & c.eq("IND")).astype(float),
           "identity_attack": (off & tin & c.eq("GRP")).astype(float),
           "obscene": (off & b.eq("UNT")).astype(float)}
    sub["obscene"][off & tin] = np.nan
    return sub


def _load_olid(root: Path) -> pd.DataFrame:
    base = root / "abuse/olid"
    tr = pd.read_csv(base / "olid-training-v1.0.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    te = pd.read_csv(base / "testset-levela.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    for level in "abc":
        lab = pd.read_csv(base / f"labels-level{level}.csv", header=None, names=["id", f"subtask_{level}"], dtype=str)
        te = te.merge(lab, on="id", how="left")
    parts = []
    for d, split in ((tr, "train"), (te, "test")):
        rows = {"text": d["tweet"].map(html.unescape), "label": d["subtask_a"].eq("OFF").astype(int),
                **_olid_subs(d["subtask_a"], d["subtask_b"].fillna(""), d["subtask_c"].fillna(""))}
        parts.append(_frame(rows, "olid", split, "olid:" + d["id"]))
    return pd.concat(parts, ignore_index=True)


def _load_trac(root: Path) -> pd.DataFrame:
    parts = []
    for file, split in (("agr_en_train.csv", "train"), ("agr_en_dev.csv", "dev")):
        d = pd.read_csv(root / "abuse/trac1_en" / file, header=None, names=["id", "text", "label"], dtype=str)
        parts.append(_frame({"text": d["text"], "label": d["label"].str.strip().eq("OAG").astype(int)},
                            "trac1_en", split, "trac:" + d["id"]))
    return pd.concat(parts, ignore_index=True)


def _load_davidson(root: Path, cap: int | None, seed: int) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/davidson/labeled_data.csv", index_col=0)
    if cap is not None and len(d) > cap:
        d = d.sample(n=cap, random_state=seed).sort_index()
    return _frame({"text": d["tweet"].map(html.unescape), "label": (d["class"] < 2).astype(int),
                   "identity_attack": (d["class"] == 0).astype(float)},
                  "davidson", "train", "davidson:" + d.index.astype(str))


def _load_hatexplain(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/hatexplain/train.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    ident = d["label"].map({"hatespeech": 1.0, "normal": 0.0})
    return _frame({"text": d["text"], "label": d["label"].ne("normal").astype(int), "identity_attack": ident},
                  "hatexplain", "train", "hatexplain:" + d.index.astype(str))


def _load_civil_spans_abuse(root: Path) -> pd.DataFrame:
    s = load_spans(root)
    rows = {"text": s["text"], "label": 1}
    for sub in SUB_LABELS:
        rows[sub] = s["types"].map(lambda types, sub=sub: float(sub in types))
    return _frame(rows, "civil_toxic_spans", s["split"].values, "civil:" + s["comment_id"].astype(str))


def load_abuse_sets(root, *, sources=ABUSE_ORDER, davidson_cap: int | None = 5000, seed: int = 0) -> pd.DataFrame:
    """All abuse sets in one frame (columns ABUSE_COLUMNS), de-duplicated across and within sets.

    A text that occurs more than once is kept once: a test/dev copy wins over a train copy (so no
    text sits on both sides of a published split), then the earlier set in ABUSE_ORDER.
    """
    root = Path(root)
    loaders = {"c3": _load_c3, "ucc": _load_ucc, "sfu_ctc": _load_sfu, "olid": _load_olid,
               "trac1_en": _load_trac, "hatexplain": _load_hatexplain,
               "civil_toxic_spans": _load_civil_spans_abuse,
               "davidson": lambda r: _load_davidson(r, davidson_cap, seed)}
    unknown = set(sources) - set(loaders)
    if unknown:
        raise ValueError(f"unknown abuse sets {sorted(unknown)}; known: {list(ABUSE_ORDER)}")
    df = pd.concat([loaders[name](root) for name in sources], ignore_index=True)
    df = df[df["text"].notna()]
    df["text"] = df["text"].astype(str)
    df = df[df["text"].str.strip() != ""]
    for sub in SUB_LABELS:  # a comment that is not abusive is none of the abuse types
        df.loc[df["label"] == 0, sub] = df.loc[df["label"] == 0, sub].fillna(0.0)
    return _dedupe(df, sources)[ABUSE_COLUMNS].reset_index(drop=True)


def _dedupe(df: pd.DataFrame, order) -> pd.DataFrame:
    rank = {name: i for i, name in enumerate(order)}
    df = df.assign(_key=df["text"].map(text_key), _split=df["split"].map(SPLIT_RANK).fillna(3),
                   _src=df["source"].map(rank), _row=np.arange(len(df)))
    df = df.sort_values(["_split", "_src", "_row"], kind="stable").drop_duplicates("_key")
    return df.sort_values("_row").drop(columns=["_key", "_split", "_src", "_row"])


# ---------------------------------------------------------------- spans

def load_spans(root, *, test_fraction: float = 0.2) -> pd.DataFrame:
    """civil_toxic_spans with gold spans: [comment_id, text, spans, types, n_annotators, split].

    Gold = characters marked by at least half of the annotators who marked any span (annotators
    who marked none are left out of the vote); `spans` is a list of {begin, end, type} over
    contiguous gold characters, `type` being the type most annotators gave those characters.
    Split by a hash of comment_id, so evaluation and training agree without sharing state.
    """
    base = Path(root) / "abuse/civil_toxic_spans"
    comments = pd.read_csv(base / "comments.csv", dtype={"comment_id": str})
    ann = pd.read_csv(base / "annotations.csv", dtype={"comment_id": str})
    spans = pd.read_csv(base / "spans.csv")
    spans = spans.merge(ann[["annotation", "comment_id"]], on="annotation")
    by_comment = defaultdict(list)
    for row in spans.itertuples(index=False):
        by_comment[row.comment_id].append((row.annotation, int(row.start), int(row.end),
                                           SPAN_TYPES.get(str(row.type)[:4].lower(), "other")))
    n_ann = ann.groupby("comment_id").size()
    out = []
    for cid, text in zip(comments["comment_id"], comments["comment_text"]):
        text = "" if pd.isna(text) else str(text)
        gold = _majority_spans(by_comment.get(cid, []), len(text))
        out.append({"comment_id": cid, "text": text, "spans": gold,
                    "types": sorted({s["type"] for s in gold}), "n_annotators": int(n_ann.get(cid, 0)),
                    "split": "test" if _stable_fraction(cid, seed=17) < test_fraction else "train"})
    return pd.DataFrame(out)


def _majority_spans(marks, length: int) -> list[dict]:
    annotators = {a for a, *_ in marks}
    if not annotators or length == 0:
        return []
    votes = np.zeros(length, dtype=int)
    types = defaultdict(Counter)
    for annotation in annotators:
        marked = np.zeros(length, dtype=bool)
        for a, begin, end, kind in marks:
            if a == annotation:
                begin, end = max(0, begin), min(length, end)
                marked[begin:end] = True
                for i in range(begin, end):
                    types[i][kind] += 1
        votes += marked
    gold = votes * 2 >= len(annotators)
    spans, i = [], 0
    while i < length:
        if not gold[i]:
            i += 1
            continue
        j = i
        kinds = Counter()
        while j < length and gold[j]:
            kinds.update(types[j])
            j += 1
        spans.append({"begin": i, "end": j, "type": kinds.most_common(1)[0][0]})
        i = j
    return spans


# ---------------------------------------------------------------- topic sets

def _load_semeval(root: Path) -> pd.DataFrame:
    rows = []
    for file in sorted((root / "topic/semeval2016_cqa").glob("*.xml")):
        tree = ET.parse(file)
        for thread in tree.getroot().iter("Thread"):
            q = thread.find("RelQuestion")
            title, body = q.findtext("RelQSubject") or "", q.findtext("RelQBody") or ""
            tid = thread.get("THREAD_SEQUENCE")
            for c in thread.iter("RelComment"):
                rows.append({"comment": c.findtext("RelCText") or "", "article_title": title, "article_body": body,
                             "label": int(c.get("RELC_RELEVANCE2RELQ") == "Bad"), "group": f"semeval:{tid}"})
    df = pd.DataFrame(rows)
    df["source"], df["kind"], df["split"] = "semeval2016_cqa", "human", "train"
    return df


def _load_arc(root: Path) -> pd.DataFrame:
    base = root / "topic/arc_fnc"
    bodies = pd.read_csv(base / "arc_bodies.csv").set_index("Body ID")["articleBody"]
    parts = {split: pd.read_csv(base / f"arc_stances_{split}.csv") for split in ("train", "test")}
    # a comment's own debate is the headline of its one related row
    both = pd.concat(parts.values())
    own = both[both["Stance"] != "unrelated"].drop_duplicates("Body ID").set_index("Body ID")["Headline"]
    train_comments = {text_key(bodies[b]) for b in parts["train"]["Body ID"]}
    out = []
    for split, d in parts.items():
        comment = d["Body ID"].map(bodies)
        df = pd.DataFrame({"comment": comment, "article_title": d["Headline"], "article_body": "",
                           "label": d["Stance"].eq("unrelated").astype(int),
                           "group": "arc:" + d["Body ID"].map(own).fillna(d["Body ID"].astype(str)),
                           "split": split})
        df["seen_in_train"] = (split == "test") & comment.map(text_key).isin(train_comments)
        out.append(df)
    df = pd.concat(out, ignore_index=True)
    df["source"], df["kind"] = "arc", "synthetic"
    return df


def _load_fnc1(root: Path) -> pd.DataFrame:
    base = root / "topic/fnc1"
    bodies = pd.read_csv(base / "train_bodies.csv").set_index("Body ID")["articleBody"]
    d = pd.read_csv(base / "train_stances.reconstructed.csv")
    related = d[d["Stance"] != "unrelated"]
    story = _components([("h:" + h, "b:" + str(b)) for h, b in zip(related["Headline"], related["Body ID"])])
    group = ["fnc1:" + story.get("b:" + str(b), "b:" + str(b)) for b in d["Body ID"]]
    df = pd.DataFrame({"comment": d["Headline"], "article_title": "", "article_body": d["Body ID"].map(bodies),
                       "label": d["Stance"].eq("unrelated").astype(int), "group": group})
    df["source"], df["kind"], df["split"] = "fnc1", "synthetic", "train"
    return df


def _load_youtube(root: Path) -> pd.DataFrame:
    out = []
    for file in sorted((root / "spam/youtube").glob("Youtube*.csv")):
        d = pd.read_csv(file)
        out.append(pd.DataFrame({"comment": d["CONTENT"], "article_title": YOUTUBE_TITLES.get(file.stem, file.stem),
                                 "article_body": "", "label": d["CLASS"].astype(int),
                                 "group": f"youtube:{file.stem}"}))
    df = pd.concat(out, ignore_index=True)
    df["source"], df["kind"], df["split"] = "youtube_spam", "human", "train"
    return df


def load_news_on_topic(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SFU's Globe and Mail comments, each paired with the title of the article it was posted under (the set has
    no article bodies): real news comments, on-topic by where readers posted them, though nobody labelled their
    relevance. No off-topic head trains on them. Returns (threshold part, evaluation part), split by article, so
    the off-topic threshold can be bounded on one half and its false holds measured on the other."""
    d = pd.read_csv(Path(root) / "abuse/sfu_ctc/SFU_constructiveness_toxicity.csv")
    df = pd.DataFrame({"comment": d["comment"].fillna("").astype(str).str.strip(), "article_title": d["title"].fillna("").astype(str),
                       "article_body": "", "label": 0, "group": "sfu:" + d["title"].fillna("").astype(str),
                       "source": "sfu_ctc", "kind": "news_on_topic", "split": "test", "seen_in_train": False},
                      columns=TOPIC_COLUMNS)
    df = df[(df.comment != "") & (df.article_title != "")].drop_duplicates("comment").reset_index(drop=True)
    return grouped_split(df, test_size=0.5, seed=0)


def load_topic_sets(root, *, sources=("semeval2016_cqa", "arc", "fnc1", "youtube_spam")) -> pd.DataFrame:
    """(comment, article) pairs, label 1 = off-topic. `kind` says how the set's negatives were made:
    human = labelled by people, synthetic = paired with another article at random. `seen_in_train`
    marks ARC test rows whose comment also occurs in ARC train (leave them out when evaluating)."""
    root = Path(root)
    loaders = {"semeval2016_cqa": _load_semeval, "arc": _load_arc, "fnc1": _load_fnc1, "youtube_spam": _load_youtube}
    unknown = set(sources) - set(loaders)
    if unknown:
        raise ValueError(f"unknown topic sets {sorted(unknown)}; known: {list(loaders)}")
    df = pd.concat([loaders[name](root) for name in sources], ignore_index=True)
    df["seen_in_train"] = df.get("seen_in_train", False)
    df["seen_in_train"] = df["seen_in_train"].fillna(False).astype(bool)
    for col in ("comment", "article_title", "article_body"):
        df[col] = df[col].fillna("").astype(str)
    df = df[df["comment"].str.strip() != ""]
    return df[TOPIC_COLUMNS].reset_index(drop=True)


def build_hard_negatives(pairs: pd.DataFrame, *, per_comment: int = 1, max_article_similarity: float = 0.5,
                         seed: int = 0, pool: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pair each on-topic comment with the most similar OTHER article (TF-IDF over title + body).

    Same topic and entities, different story: much harder than a random article. Candidates from
    the comment's own group, and near-copies of its article (similarity above
    `max_article_similarity`, e.g. the opposite claim of the same debate), are excluded.
    `pool`: pairs whose on-topic articles are the candidates (default: `pairs` itself).
    """
    def on_topic(df):
        df = df[df["label"] == 0]
        text = (df["article_title"] + " \n " + df["article_body"]).str.strip()
        return df[text != ""], text[text != ""]

    on, art_text = on_topic(pairs)
    cand, cand_text = on_topic(pairs if pool is None else pd.concat([pairs, pool], ignore_index=True))
    articles = pd.DataFrame({"text": cand_text, "title": cand["article_title"], "body": cand["article_body"],
                             "group": cand["group"]}).drop_duplicates("text").reset_index(drop=True)
    if len(articles) < 2:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1)
    m = vec.fit_transform(articles["text"])
    sim = (m @ m.T).toarray()
    groups = articles["group"].to_numpy()
    sim[groups[:, None] == groups[None, :]] = -1.0  # never the comment's own story
    sim[sim > max_article_similarity] = -1.0
    best = np.argsort(-sim, axis=1)[:, :per_comment]
    index = {t: i for i, t in enumerate(articles["text"])}
    rows = []
    for (_, row), text in zip(on.iterrows(), art_text):
        i = index[text]
        for j in best[i]:
            if sim[i, j] <= 0:
                continue
            rows.append({"comment": row["comment"], "article_title": articles.at[j, "title"],
                         "article_body": articles.at[j, "body"], "label": 1, "group": row["group"],
                         "source": row["source"], "kind": "hard_negative", "split": row["split"],
                         "seen_in_train": bool(row.get("seen_in_train", False))})
    return pd.DataFrame(rows, columns=TOPIC_COLUMNS)


# ---------------------------------------------------------------- splits

def _components(edges) -> dict:
    """Union-find over (a, b) edges -> {node: smallest node name of its component}."""
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def grouped_split(df: pd.DataFrame, group_col: str = "group", test_size: float = 0.2, seed: int = 0,
                  text_col: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) with no group and no identical text on both sides.

    Groups sharing a text are merged first; each merged group goes to test when a hash of its
    name and the seed falls below test_size. The hash makes the split reproducible from
    (seed, test_size) alone: evaluation can recompute exactly which groups training held out.
    """
    is_test = _merged_groups(df, group_col, text_col).map(lambda g: _stable_fraction(g, seed) < test_size)
    return df[~is_test], df[is_test]


def grouped_folds(df: pd.DataFrame, folds: int, group_col: str = "group", seed: int = 0,
                  text_col: str | None = None) -> np.ndarray:
    """Fold number (0..folds-1) per row, grouped like `grouped_split`: fold 0 of 5 is exactly the test side
    of grouped_split(test_size=0.2) with the same seed, so the shipped held-out split is one of the folds."""
    merged = _merged_groups(df, group_col, text_col)
    return merged.map(lambda g: min(int(_stable_fraction(g, seed) * folds), folds - 1)).to_numpy()


def _merged_groups(df: pd.DataFrame, group_col: str, text_col: str | None) -> pd.Series:
    """Groups that share a text merged into one (named by their component)."""
    if text_col is None:
        text_col = "text" if "text" in df else "comment"
    groups = df[group_col].astype(str)
    keys = "text:" + df[text_col].map(text_key)
    return groups.map(_components(zip(groups, keys)))


# ---------------------------------------------------------------- labelled exports

class LabelledDataError(ValueError):
    """A labelled export cannot be read at all (missing columns, not CSV/JSONL)."""


EXPORT_REQUIRED = ("text", "abusive")
EXPORT_OPTIONAL = ("article_title", "article_body", "off_topic", "spam", "id", "article_id")


def _as_flag(value, name: str, required: bool):
    if value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{name} is missing (must be 0 or 1)")
        return np.nan
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return int(value.strip().lower() in ("1", "true"))
    raise ValueError(f"{name} must be 0 or 1, got {value!r}")


# The review export prefixes CSV cells that a spreadsheet would run as formulas (and cells starting with ')
# with one '; reading drops that one ' again.
_ESCAPED = ("'=", "'+", "'-", "'@", "'\t", "'\r", "''")


def _unescape_cell(value):
    return value[1:] if isinstance(value, str) and value.startswith(_ESCAPED) else value


def _records(path: Path):
    """Yield (line number, dict) for each record; a JSONL line that is not an object yields an error."""
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    yield n, ValueError(f"not valid JSON ({e.msg})")
                    continue
                yield n, obj if isinstance(obj, dict) else ValueError("not a JSON object")
    elif path.suffix.lower() in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            missing = [c for c in EXPORT_REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise LabelledDataError(f"{path}: missing column(s) {missing}; header is {reader.fieldnames}")
            start = reader.line_num + 1
            for row in reader:
                if None in row:
                    yield start, ValueError(f"{len(row[None])} more field(s) than the header")
                else:
                    yield start, {k: _unescape_cell(v) for k, v in row.items()}
                start = reader.line_num + 1
    else:
        raise LabelledDataError(f"{path}: expected a .csv, .tsv or .jsonl file")


def load_labelled_export(path) -> tuple[pd.DataFrame, list[str]]:
    """Read a labelled export (see docs/training.md, "Labelled data format").

    Returns (valid rows, errors); each error names its line, e.g. "line 7: abusive must be 0 or 1,
    got '2'". Bad rows are reported, never silently dropped; callers decide whether to stop.
    """
    path = Path(path)
    if not path.exists():
        raise LabelledDataError(f"{path}: no such file")
    rows, errors = [], []
    for line, rec in _records(path):
        try:
            if isinstance(rec, Exception):
                raise rec
            text = rec.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("text is missing or empty")
            row = {"text": text, "abusive": _as_flag(rec.get("abusive"), "abusive", True),
                   "off_topic": _as_flag(rec.get("off_topic"), "off_topic", False),
                   "spam": _as_flag(rec.get("spam"), "spam", False), "line": line}  # older exports: no spam column
            for col in ("article_title", "article_body"):
                value = rec.get(col)
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{col} must be a string")
                row[col] = value or ""
            row["id"] = str(rec.get("id") or f"line{line}")
            article = rec.get("article_id") or (row["article_title"] + "\n" + row["article_body"]).strip()
            row["group"] = "export:" + (str(article) if article else f"line{line}")
            rows.append(row)
        except ValueError as e:
            errors.append(f"line {line}: {e}")
    columns = ["id", "text", "article_title", "article_body", "abusive", "off_topic", "spam", "group", "line"]
    return pd.DataFrame(rows, columns=columns), errors


def sources_for(head: str, *roles: str) -> tuple[str, ...]:
    """Names of the sets SOURCES gives any of `roles` for `head`, in SOURCES order."""
    return tuple(n for n, s in SOURCES.items() if set(roles) & set(s.get("roles", {}).get(head, ())))


def sources_off_by_default() -> tuple[str, ...]:
    return tuple(sorted(n for n, s in SOURCES.items() if s.get("off_by_default")))


def sources_metadata(names) -> list[dict]:
    """Model-card rows for the sets a bundle was trained on."""
    def label(s: dict) -> str:
        return s["label"] + (f"; trained towards {s['target']}" if "target" in s else "")

    return [{"name": n, "path": SOURCES[n]["path"], "licence": SOURCES[n]["licence"], "label": label(SOURCES[n])}
            for n in names]


# ---------------------------------------------------------------- news comments (issue 15's evaluation)

NEWS_COLUMNS = ["site", "comment", "article_id", "article_title", "section", "date", "abusive", "off_topic",
                "split", "group"]
# Each news set: who wrote the comments, what its article is, and what its labels mean. `article`: what a comment is
# shown against (None: the set gives no article, so comments are scored as the service scores an unknown article).
NEWS_SITES: dict[str, dict] = {
    "sfu": dict(name="SFU (Globe and Mail)", path="abuse/sfu_ctc", article="title",
                labels="abusive: is_toxic_popular_answer_1 >= 2 (in abuse training: optimistic for abusive); "
                       "off-topic: none (on-topic by placement)"),
    "ruddit": dict(name="Ruddit (Reddit)", path="abuse/ruddit", article="post title",
                   labels="abusive: offensiveness_score >= 0.5; clean: <= 0; between: borderline, in neither; "
                          "off-topic: none (on-topic by placement)"),
    "omp": dict(name="One Million Posts (DER STANDARD, German)", path="abuse/one_million_posts", article="title",
                labels="abusive: Inappropriate or Discriminating; off-topic: OffTopic (the paper's moderators); "
                       "posts with all three labels and a known article title"),
    "c3": dict(name="C3 held-out articles (Globe and Mail)", path="abuse/c3", article=None,
               labels="abusive: crowd_toxicity_level >= 2; no article text (scored as article unknown)"),
    "ucc": dict(name="UCC (Globe and Mail)", path="abuse/ucc", article=None,
                labels="abusive: hostile or antagonize; no article (scored as article unknown); dev = validation"),
    "civil": dict(name="civil_toxic_spans (Civil Comments)", path="abuse/civil_toxic_spans", article=None,
                  labels="every post rated toxic (catch rate only); no article"),
}
RUDDIT_ABUSIVE, RUDDIT_CLEAN = 0.5, 0.0
_GLOBE_SUFFIX = re.compile(r"\s+-\s+The Globe and Mail\s*$")


def _news_frame(site: str, **cols) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    df["site"] = site
    for c in NEWS_COLUMNS:
        if c not in df:
            df[c] = np.nan if c in ("abusive", "off_topic") else (pd.NaT if c == "date" else "")
    df["comment"] = df["comment"].fillna("").astype(str).str.strip()
    return df[df["comment"] != ""].drop_duplicates("comment")


def _split_by_article(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Half of each site's articles validate (thresholds, the off-topic pair head), the other half is reported."""
    df = df.assign(group=df["site"] + ":" + df["article_id"].astype(str))
    _, test = grouped_split(df, test_size=0.5, seed=seed)
    return df.assign(split=np.where(df.index.isin(test.index), "test", "validation"))


def _news_sfu(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/sfu_ctc/SFU_constructiveness_toxicity.csv")
    url = (d["globe_url"].fillna(d["url"]) if "globe_url" in d else d["url"]).fillna(d["title"]).astype(str)
    return _news_frame("sfu", comment=d["comment"], article_id=url.str.extract(r"article(\d+)")[0].fillna(url),
                       article_title=d["title"].fillna("").astype(str).str.replace(_GLOBE_SUFFIX, "", regex=True),
                       section=url.str.extract(r"theglobeandmail\.com/([a-z/]+)/[^/]+/article")[0].fillna(""),
                       abusive=(d["is_toxic_popular_answer_1"] >= 2).astype(float), off_topic=0.0)


def _news_ruddit(root: Path) -> pd.DataFrame:
    d = pd.read_csv(root / "abuse/ruddit/ruddit_with_text.csv")
    gone = d["comment_body"].fillna("").str.strip().isin(["[deleted]", "[removed]", ""]) | \
        d["post_title"].fillna("").str.strip().isin(["[deleted by user]", "[deleted]", "[removed]", ""])
    d = d[~gone]
    s = d["offensiveness_score"]
    return _news_frame("ruddit", comment=d["comment_body"], article_id=d["post_id"].astype(str),
                       article_title=d["post_title"].astype(str),
                       abusive=np.where(s >= RUDDIT_ABUSIVE, 1.0, np.where(s <= RUDDIT_CLEAN, 0.0, np.nan)),
                       off_topic=0.0)


def _news_omp(root: Path) -> pd.DataFrame:
    base = root / "abuse/one_million_posts"
    d = pd.read_csv(base / "posts_labeled.csv.xz")
    labels = d.pivot_table(index="ID_Post", columns="Category", values="Value", aggfunc="max")
    need = ["Inappropriate", "Discriminating", "OffTopic"]
    labels = labels[labels.reindex(columns=need).notna().all(axis=1)]
    posts = d.drop_duplicates("ID_Post").set_index("ID_Post").loc[labels.index]
    titles = pd.read_csv(base / "article_titles_partial.csv").drop_duplicates("id_article").set_index("id_article")
    posts = posts[posts["ID_Article"].isin(titles.index)]
    labels = labels.loc[posts.index]
    t = titles.loc[posts["ID_Article"]]
    text = (posts["Headline"].fillna("").astype(str) + "\n" + posts["Body"].fillna("").astype(str)).str.strip()
    return _news_frame("omp", comment=text.to_numpy(), article_id=posts["ID_Article"].astype(str).to_numpy(),
                       article_title=t["article_title"].astype(str).to_numpy(),
                       section=t["article_path"].astype(str).str.split("/").str[:2].str.join("/").to_numpy(),
                       date=pd.to_datetime(t["article_publishing_date"], errors="coerce").to_numpy(),
                       abusive=labels[["Inappropriate", "Discriminating"]].max(axis=1).astype(float).to_numpy(),
                       off_topic=labels["OffTopic"].astype(float).to_numpy())


def _news_without_article(root: Path, seed: int, c3_test_size: float, civil_max: int) -> pd.DataFrame:
    abuse = load_abuse_sets(root, sources=("c3", "ucc"))
    c3 = abuse[abuse.source == "c3"]
    _, c3_test = grouped_split(c3, test_size=c3_test_size, seed=seed)
    ucc = abuse[abuse.source == "ucc"]
    spans = load_spans(root)
    civil = spans[spans.split == "test"]
    civil = civil.sample(min(civil_max, len(civil)), random_state=seed) if len(civil) else civil
    parts = [_news_frame("c3", comment=c3_test["text"], abusive=c3_test["label"].astype(float),
                         article_id=c3_test["group"], split="test"),
             _news_frame("ucc", comment=ucc["text"], abusive=ucc["label"].astype(float), article_id=ucc["group"],
                         split=np.where(ucc["split"] == "dev", "validation", "test")),
             _news_frame("civil", comment=civil["text"], abusive=1.0, article_id="", split="test")]
    return pd.concat(parts, ignore_index=True).assign(article_title="", group=lambda f: f.site + ":" + f.article_id)


def load_news_comments(root, *, seed: int = 0, c3_test_size: float = 0.2, civil_max: int = 1000,
                       sites=tuple(NEWS_SITES), max_per_split: int | None = 2000) -> pd.DataFrame:
    """Reader comments from every news set in ../shared/data (NEWS_SITES), one row each, columns NEWS_COLUMNS.
    Sets with an article title are split in half by article (`split`: validation / test); C3 gives only its
    held-out articles (the rest trained the abuse head) and UCC its dev file as validation. `abusive` and
    `off_topic` are 1 / 0 / NaN (unknown or borderline). max_per_split: a random sample of each site's half
    (encoding every comment of every set costs minutes on a small machine)."""
    root = Path(root)
    loaders = {"sfu": _news_sfu, "ruddit": _news_ruddit, "omp": _news_omp}
    parts = [_split_by_article(loaders[s](root).reset_index(drop=True), seed) for s in sites
             if s in loaders and (root / NEWS_SITES[s]["path"]).exists()]
    if {"c3", "ucc", "civil"} & set(sites) and all((root / NEWS_SITES[s]["path"]).exists() for s in ("c3", "ucc", "civil")):
        rest = _news_without_article(root, seed, c3_test_size, civil_max)
        parts.append(rest[rest.site.isin(sites)])
    df = pd.concat(parts, ignore_index=True)
    if max_per_split is not None:
        df = df.sample(frac=1.0, random_state=seed)
        df = df[df.groupby(["site", "split"]).cumcount() < max_per_split].sort_index()
    return df[NEWS_COLUMNS].reset_index(drop=True)


def news_pairs(comments: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each comment that has an article under its own article (`pair` = own), under a random other article of the
    same site (other) and under a close one (close): same section, nearest publication date where the set has
    dates; else the most similar other title (TF-IDF). Other articles come from the same split half.
    `off_topic_pair`: 1 under another article, else the comment's own off-topic label."""
    have = comments[comments.article_title.fillna("") != ""]
    out = [have.assign(pair="own", off_topic_pair=have.off_topic, own_article_id=have.article_id)]
    for (site, split), g in have.groupby(["site", "split"]):
        arts = g.drop_duplicates("article_id").set_index("article_id")
        ids = arts.index.to_numpy()
        if len(ids) < 2:
            continue
        close = {}
        if arts["date"].notna().all() and (arts["section"] != "").all():
            dates = arts["date"].to_numpy().astype("datetime64[s]").astype(np.int64)
            sec = arts["section"].to_numpy()
            for i, a in enumerate(ids):
                gap = np.abs(dates - dates[i]).astype(float) + np.where(sec == sec[i], 0, 1e12)
                gap[i] = np.inf
                close[a] = ids[int(np.argmin(gap))]
        else:
            m = TfidfVectorizer(sublinear_tf=True, min_df=1, stop_words="english").fit_transform(arts["article_title"])
            sim = (m @ m.T).toarray()
            np.fill_diagonal(sim, -1.0)
            sim[sim > 0.9] = -1.0  # the same story under a second title
            for i, a in enumerate(ids):
                close[a] = ids[int(np.argmax(sim[i]))]
        for kind, pick in (("other", None), ("close", close)):
            new_ids = []
            for c, a in zip(g.comment, g.article_id):
                if pick is not None:
                    new_ids.append(pick[a])
                    continue
                rest = ids[ids != a]
                new_ids.append(rest[int(_stable_fraction(f"{c}\x00{kind}", seed) * len(rest))])
            moved = g.assign(pair=kind, off_topic_pair=1.0, own_article_id=g.article_id, article_id=new_ids)
            moved["article_title"] = arts.loc[moved.article_id, "article_title"].to_numpy()
            out.append(moved)
    return pd.concat(out, ignore_index=True)
