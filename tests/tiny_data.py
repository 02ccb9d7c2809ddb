"""Tiny hand-written copies of each data set's file format, for the tests (never the real data)."""
import textwrap

import pandas as pd


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")


def make_tiny_data(r):
    """A few rows in the file format of every set in DATA.md (hand-written, not copied)."""
    c3 = pd.DataFrame({
        "article_id": [1, 1, 2, 3, 3],
        "comment_text": ["You are a clown and a liar", "Good point about the budget",
                         "Shared text that UCC also has", "Taxes are too high", "A rather sharp remark"],
        "crowd_toxicity_level": [3.0, 1.0, 1.0, 2.0, 1.4],
        "njudgements_toxicity_expt": [3, 3, 3, 3, 5],
        "toxicity_characteristics": ["abusive:3\npersonal_attack:2", "none:3", "none:3", "abusive:2\npersonal_attack:1",
                                     "inflammatory:2"],
    })
    (r / "abuse/c3").mkdir(parents=True)
    c3.to_csv(r / "abuse/c3/C3_anonymized.csv", index=False)
    (r / "abuse/ucc").mkdir(parents=True)
    pd.DataFrame({"_unit_id": [10, 11], "comment": ["shared  TEXT that ucc also has", "Go away idiot"],
                  "hostile": [0, 1], "antagonize": [0, 0]}).to_csv(r / "abuse/ucc/val.csv", index=False)
    pd.DataFrame({"_unit_id": [12, 13, 14, 15],
                  "comment": ["Fine analysis", "Shut up, you idiot", "Thanks for the clear report", "Rather harsh words"],
                  "hostile": [0, 1, 0, 0], "hostile:confidence": [1.0, 1.0, 1.0, 0.6667],
                  "antagonize": [1, 1, 0, 0], "antagonize:confidence": [0.6, 1.0, 1.0, 1.0]}).to_csv(
        r / "abuse/ucc/test.csv", index=False)
    (r / "abuse/ucc/README.md").write_text(  # the authors' table, in the shape of the real README
        "| Attribute}  | Human AUC | BERT AUC |\n|------------ |-----------|----------|\n"
        "|Antagonistic |0.71       |  0.82    | \n|Hostile       |0.76      |0.84      |\n")
    (r / "abuse/sfu_ctc").mkdir(parents=True)
    pd.DataFrame({"comment": ["Nice", "Morons all"], "is_toxic_popular_answer_1": [1, 3],
                  "url": ["http://a", "http://a"], "title": ["A", "A"]}).to_csv(
        r / "abuse/sfu_ctc/SFU_constructiveness_toxicity.csv", index=False)
    write(r / "abuse/olid/olid-training-v1.0.tsv", """
        id\ttweet\tsubtask_a\tsubtask_b\tsubtask_c
        1\t@USER you are dumb &amp; loud\tOFF\tTIN\tIND
        2\tshit day\tOFF\tUNT\tNULL
        3\tnice weather\tNOT\tNULL\tNULL
        """)
    write(r / "abuse/olid/testset-levela.tsv", "id\ttweet\n4\tthose people are vermin\n5\thello\n")
    write(r / "abuse/olid/labels-levela.csv", "4,OFF\n5,NOT\n")
    write(r / "abuse/olid/labels-levelb.csv", "4,TIN\n")
    write(r / "abuse/olid/labels-levelc.csv", "4,GRP\n")
    write(r / "abuse/trac1_en/agr_en_train.csv", "t1,you rascal,OAG\nt2,covert jab,CAG\nt3,plain,NAG\n")
    write(r / "abuse/trac1_en/agr_en_dev.csv", "t4,hit them,OAG\n")
    write(r / "abuse/davidson/labeled_data.csv", ",count,hate_speech,offensive_language,neither,class,tweet\n"
          + "".join(f"{i},3,0,3,0,{i % 3},tweet number {i}\n" for i in range(20)))
    write(r / "abuse/hatexplain/train.tsv", "label\ttext\nnormal\thi there\nhatespeech\tgroup x are vermin\n"
          "offensive\tyou suck\n")
    write(r / "abuse/civil_toxic_spans/comments.csv", 'comment_id,comment_text\n100,"You idiot, shut up"\n101,"All fine"\n')
    write(r / "abuse/civil_toxic_spans/annotations.csv", "annotation,comment_id,worker,country,all toxic,not toxic\n"
          "0,100,1,USA,False,False\n1,100,2,USA,False,False\n2,100,3,USA,False,False\n3,101,4,USA,True,True\n")
    # idiot (4-9) marked by all three annotators; "shut up" (11-18) by one only
    write(r / "abuse/civil_toxic_spans/spans.csv", "annotation,type,start,end\n0,Insult,4,9\n1,Insult,4,9\n"
          "2,Insu,4,9\n2,Threat,11,18\n")
    write(r / "topic/semeval2016_cqa/t.xml", """
        <xml><Thread THREAD_SEQUENCE="Q1_R1"><RelQuestion RELQ_ID="Q1_R1">
        <RelQSubject>Best bank?</RelQSubject><RelQBody>Which bank in Doha?</RelQBody></RelQuestion>
        <RelComment RELC_ID="c1" RELC_RELEVANCE2RELQ="Good"><RelCText>HSBC is good</RelCText></RelComment>
        <RelComment RELC_ID="c2" RELC_RELEVANCE2RELQ="Bad"><RelCText>lol first</RelCText></RelComment>
        <RelComment RELC_ID="c3" RELC_RELEVANCE2RELQ="PotentiallyUseful"><RelCText>maybe QNB</RelCText></RelComment>
        </Thread></xml>
        """)
    write(r / "topic/arc_fnc/arc_bodies.csv", "Body ID,articleBody\n1,Bike lanes slow traffic\n2,Casinos ruin towns\n"
          "3,Comment sections are toxic\n")
    write(r / "topic/arc_fnc/arc_stances_train.csv", 'Headline,Body ID,Stance\n"Bike lanes work",1,agree\n'
          '"Casinos are fine",1,unrelated\n"Casinos are fine",2,disagree\n')
    write(r / "topic/arc_fnc/arc_stances_test.csv", 'Headline,Body ID,Stance\n"Comments failed",3,agree\n'
          '"Bike lanes work",2,unrelated\n"Comments failed",1,unrelated\n')
    write(r / "topic/fnc1/train_bodies.csv", "Body ID,articleBody\n0,A meteorite hit Managua\n1,Apple shows a watch\n")
    write(r / "topic/fnc1/train_stances.reconstructed.csv", "Headline,Body ID,Stance\nMeteorite in Nicaragua,0,discuss\n"
          "Meteorite in Nicaragua,1,unrelated\nNew Apple watch,1,agree\n")
    write(r / "spam/youtube/Youtube01-Psy.csv", "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\na,b,c,check out my channel,1\n"
          "d,e,f,love this song,0\n")
    return r


class KeywordBundle:
    """Stands in for a trained bundle: scores by keyword, so each result is known in advance.

    abusive 0.9 when the text has a word from ABUSIVE (with that word as its span), else 0.1;
    off_topic 0.8 when an article is given and the comment shares no word of 4+ letters with it.
    Records the batch sizes it saw; `broken_text` makes scoring that text raise.
    """
    ABUSIVE = {"idiot", "clown", "liar", "vermin", "dumb", "shit", "rascal", "morons", "suck", "hit"}
    version = "kw-1"
    thresholds = {"abusive": 0.5, "off_topic": 0.5, "spam": 0.5}

    def __init__(self, broken_text=None, metadata=None):
        self.batches = []
        self.broken_text = broken_text
        self.metadata = {"version": self.version, **(metadata or {})}

    def _one(self, text, article):
        import re

        import models

        if text == self.broken_text:
            raise RuntimeError("encoder crashed")
        art = models.ArticleText.coerce(article)
        words = list(re.finditer(r"[a-z]+", text.lower()))
        bad = [m for m in words if m.group(0) in self.ABUSIVE]
        abusive = 0.9 if bad else 0.1
        off = 0.2
        if art is not None and art.known:
            art_words = set(re.findall(r"[a-z]{4,}", f"{art.title or ''} {art.body or ''}".lower()))
            off = 0.2 if {m.group(0) for m in words} & art_words else 0.8
        return models.Score(abusive=abusive, off_topic=off, spam=0.05, sub_scores={"insult": abusive / 2},
                            spans=[{"begin": m.start(), "end": m.end(), "score": 0.9} for m in bad],
                            article_known=bool(art is not None and art.known), language="en",
                            language_supported=True, model_version=self.version, length=len(text),
                            thresholds=dict(self.thresholds))

    def score_many(self, items):
        items = list(items)
        self.batches.append(len(items))
        return [self._one(t, a) for t, a in items]

    def score(self, text, article=None):
        return self._one(text, article)

    def article_embeddings(self, article):
        return None  # no encoder: nothing to store with an article
