"""The heads keep scikit-learn's estimator contract: classifiers by sklearn's own test, parameters stored as
given by __init__ (validated in fit, so set_params cannot bypass the checks), clone/get_params/set_params."""
import pytest
from sklearn.base import clone, is_classifier
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import models

HEADS = [models.AbuseClassifier, models.OffTopicClassifier, models.SpamClassifier]

# These checks are the API contract and apply to every head. sklearn's other checks are skipped: they fit on
# numeric matrices, and these heads take texts (abuse, spam) or (comment, article) pairs (off-topic), which no
# generated numeric X can stand for; their fitting behaviour is tested on text in test_models.py.
API_CHECKS = [check_no_attributes_set_in_init, check_parameters_default_constructible,
              check_get_params_invariance, check_set_params]


@pytest.mark.parametrize("head", HEADS, ids=lambda h: h.__name__)
def test_heads_are_classifiers(head):
    assert is_classifier(head())


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("head", HEADS, ids=lambda h: h.__name__)
def test_sklearn_api_checks(head, check):
    check(head.__name__, head())


@pytest.mark.parametrize("head", HEADS, ids=lambda h: h.__name__)
def test_clone_keeps_parameters(head):
    est = head()
    params = est.get_params()
    assert clone(est).get_params() == params


def test_abuse_parameters_are_validated_in_fit_so_set_params_cannot_bypass_them():
    est = models.AbuseClassifier(embedding="nonsense")   # stored as given: no error yet
    assert est.embedding == "nonsense"
    with pytest.raises(ValueError, match="embedding must be"):
        est.fit(["a", "b"], [0, 1])
    est = models.AbuseClassifier(use_embeddings=False).set_params(embedding="also-nonsense")
    with pytest.raises(ValueError, match="embedding must be"):
        est.fit(["a", "b"], [0, 1])
