"""Learning rules behind one interface, by name: BPTT, S-TLLR, TESS, TP, truncated local BPTT."""

from eligo.rules.base import OPTIMIZERS, UPDATE_EVERY, LearningRule
from eligo.rules.bptt import BPTT
from eligo.rules.stllr import STLLR, EligibilityRule
from eligo.rules.tess import TESS, square_wave_projection
from eligo.rules.tp import TracesPropagation, contrastive_loss
from eligo.rules.ttbptt import TruncatedLocalBPTT

RULES: dict[str, type[LearningRule]] = {cls.name: cls for cls in (BPTT, STLLR, TESS, TracesPropagation,
                                                                    TruncatedLocalBPTT)}


def make_rule(name: str, network, **hyper) -> LearningRule:
    """Build a rule by name; unknown names and hyper-parameters fail with the list of valid ones."""
    try:
        cls = RULES[name]
    except KeyError:
        raise ValueError(f"unknown rule {name!r}; known: {', '.join(RULES)}") from None
    try:
        return cls(network, **hyper)
    except TypeError as exc:
        raise ValueError(f"rule {name!r}: {exc}") from None


__all__ = ["BPTT", "OPTIMIZERS", "RULES", "STLLR", "TESS", "UPDATE_EVERY", "EligibilityRule", "LearningRule",
           "TracesPropagation", "TruncatedLocalBPTT", "contrastive_loss", "make_rule", "square_wave_projection"]
