"""The reasons a comment is held for, and the labels moderators give, declared once.

Everything that names a reason reads this registry: the policy (`models.decide`), the OpenAPI enums, the
Perspective and Coral mappings, the review queue's filters and label toggles, the dashboard and the export.
A bundle lists the score heads it has in its metadata (`heads`); a head the registry does not know yet is
registered from that declaration when the bundle loads, as Detoxify reads its classes from the checkpoint.
Adding a head or a reason is one `register(Reason(...))` (or one bundle metadata entry) plus its model.
"""
from __future__ import annotations

from dataclasses import dataclass

# What a moderator can say about a comment; one export column each.
LABELS = ("abusive", "off_topic", "spam")
# A label that implies others: spam is off-topic under any article.
IMPLIES = {"spam": ("off_topic",)}

# kind: how a reason is reached
SCORE = "score"      # a head's score reached its threshold
RULE = "rule"        # a property of the comment itself (length, language)
SYSTEM = "system"    # the model could not score: fail closed
REVIEW = "review"    # set by the review workflow (a reader's flag)
NOTE = "note"        # informational: never holds by itself
KINDS = (SCORE, RULE, SYSTEM, REVIEW, NOTE)


@dataclass(frozen=True)
class Reason:
    name: str
    kind: str
    description: str
    label: str | None = None              # the moderator label a hold for this reason predicts
    perspective: str | None = None        # Perspective attribute that reports this head's score
    coral_flag: str | None = None         # Coral's flag reason when a hold becomes a flag

    @property
    def holds(self) -> bool:
        return self.kind != NOTE


_REGISTRY: dict[str, Reason] = {}


def register(reason: Reason) -> Reason:
    """Declare a reason (idempotent for an identical declaration; a different one under a taken name is refused)."""
    if reason.kind not in KINDS:
        raise ValueError(f"reason {reason.name!r}: kind must be one of {KINDS}, not {reason.kind!r}")
    if reason.label is not None and reason.label not in LABELS:
        raise ValueError(f"reason {reason.name!r}: label must be one of {LABELS} or None, not {reason.label!r}")
    known = _REGISTRY.get(reason.name)
    if known is not None and known != reason:
        raise ValueError(f"reason {reason.name!r} is already declared differently: {known}")
    _REGISTRY[reason.name] = reason
    return reason


def unregister(name: str) -> None:
    """Remove a reason (for tests that declare a throwaway one)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Reason | None:
    return _REGISTRY.get(name)


def all_reasons() -> list[Reason]:
    return list(_REGISTRY.values())


def names(*kinds: str) -> list[str]:
    """Reason names in declaration order, optionally only of the given kinds."""
    return [r.name for r in _REGISTRY.values() if not kinds or r.kind in kinds]


def score_heads() -> list[str]:
    return names(SCORE)


def labels_for(reasons) -> dict[str, bool]:
    """The moderator labels a set of model reasons predicts, e.g. {"abusive": True, "off_topic": False}."""
    predicted = {(_REGISTRY.get(r) or Reason(r, NOTE, "")).label for r in reasons or ()}
    predicted |= {implied for label in predicted for implied in IMPLIES.get(label, ())}
    return {label: label in predicted for label in LABELS}


def with_corrections(labels: dict, corrections: dict) -> dict:
    """`labels` with a moderator's corrections (None: unchanged) applied; a label set to yes also sets the labels it
    implies unless those were corrected too."""
    out = dict(labels)
    out.update({k: bool(v) for k, v in corrections.items() if v is not None})
    for label, implied in IMPLIES.items():
        if corrections.get(label):
            out.update({i: True for i in implied if corrections.get(i) is None})
    return out


def reasons_with_label(label: str) -> set[str]:
    return {r.name for r in _REGISTRY.values() if r.label == label}


def declare_heads(heads: dict) -> None:
    """Register the score heads a bundle's metadata declares: {name: {"label", "description", ...}}."""
    for name, spec in (heads or {}).items():
        if name not in _REGISTRY:
            spec = dict(spec or {})
            register(Reason(name, SCORE, spec.get("description", f"the {name} head's score reached its threshold"),
                            label=spec.get("label"), perspective=spec.get("perspective"),
                            coral_flag=spec.get("coral_flag")))


# The reasons code sets by name (the rule and system reasons); score reasons are named by their heads.
TOO_LONG, UNSUPPORTED_LANGUAGE, MODEL_ERROR = "too_long", "unsupported_language", "model_error"
READER_FLAG, ARTICLE_UNKNOWN = "reader_flag", "article_unknown"
LANGUAGE_UNSCORED = "language_unscored"
AUTHOR_BANNED = "author_banned"

# Declaration order is the order reasons are reported in (model_error aside, which always comes first).
for _r in (
    Reason(TOO_LONG, RULE, "longer than the service's MAX_TEXT_CHARS: only the start was scored"),
    Reason("abusive", SCORE, "the abuse score reached its threshold", label="abusive",
           perspective="TOXICITY", coral_flag="COMMENT_DETECTED_TOXIC"),
    Reason("off_topic", SCORE, "the off-topic score (comment against its article) reached its threshold",
           label="off_topic", perspective="OFF_TOPIC"),
    Reason("spam", SCORE, "the spam score reached its threshold", label="spam",
           perspective="SPAM", coral_flag="COMMENT_DETECTED_SPAM"),
    Reason(UNSUPPORTED_LANGUAGE, RULE, "written in a language the bundle does not score"),
    Reason(MODEL_ERROR, SYSTEM, "the model could not score the comment: held, fail closed"),
    Reason(READER_FLAG, REVIEW, "a reader flagged a published comment back into the queue"),
    Reason(AUTHOR_BANNED, REVIEW, "a moderator banned the author on this site: all their comments are held"),
    Reason(ARTICLE_UNKNOWN, NOTE, "no article text was known: the off-topic score judged the comment alone"),
    Reason(LANGUAGE_UNSCORED, NOTE, "written in a language the bundle does not score, and published unscored "
                                    "because the site's policy says so (unsupported_language = \"publish\")"),
):
    register(_r)
