"""The grammar behind ``kdbook.lm.ToyLanguage`` (private): words, states and their tables.

A sentence is ``subject-NP verb [object-NP] [adverb] [and verb [object-NP] [adverb]] </s>``.
The subject's determiner fixes the noun's number across any adjectives, the subject's noun
fixes the verb's number and which verbs fit its topic (also after "and", many words later), and
the verb fixes which nouns may be its object (across the object's determiner and adjectives).
So the next word can depend on a word four or more positions back.

The grammar is a deterministic automaton: every token moves a state to exactly one next state,
also tokens the grammar would not emit (a small floor probability keeps every sentence possible),
so the state after any prefix, and hence the exact next-token distribution, is a table look-up.
Instructions ("brief", "animals", "polite") multiply the grammar's probabilities in some states
and are then renormalised; any combination of them is a context.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- the words
# (word, number); number "any" fits both
DETERMINERS = {
    "full": (("the", "any", 0.45), ("a", "sg", 0.2), ("this", "sg", 0.15), ("two", "pl", 0.1), ("some", "pl", 0.1)),
    "tiny": (),
}
OBJECT_DETERMINER_WEIGHT = {"the": 0.5, "a": 0.25, "some": 0.15, "two": 0.05, "this": 0.05}
ADJECTIVES = {
    "full": (("big", 0.35), ("small", 0.2), ("tall", 0.2), ("happy", 0.15), ("red", 0.1)),
    "tiny": (("big", 1.0),),
}
# (singular, plural or None, topic, weight within its topic)
NOUNS = {
    "full": (
        ("dog", "dogs", "animal", 0.65), ("cat", "cats", "animal", 0.35),
        ("girl", "girls", "person", 0.6), ("farmer", "farmers", "person", 0.4),
        ("robot", "robots", "machine", 0.7), ("car", "cars", "machine", 0.3),
        ("pear", "pears", "food", 1.0), ("book", "books", "book", 1.0),
    ),
    "tiny": (("dog", "dogs", "animal", 1.0), ("robot", "robots", "machine", 1.0)),
}
SUBJECT_TOPICS = {"animal": 0.45, "person": 0.35, "machine": 0.2}
# (singular, plural, weight, subject topics, object topics or () for intransitive)
VERBS = {
    "full": (
        ("chases", "chase", 3.0, ("animal",), ("animal", "person")),
        ("eats", "eat", 2.0, ("animal", "person"), ("food",)),
        ("sleeps", "sleep", 1.5, ("animal", "person"), ()),
        ("reads", "read", 3.0, ("person",), ("book",)),
        ("sings", "sing", 1.0, ("person",), ()),
        ("moves", "move", 2.0, ("machine",), ()),
        ("beeps", "beep", 1.5, ("machine",), ()),
        ("sees", "see", 1.0, ("animal", "person", "machine"), ("animal", "person", "machine")),
        ("carries", "carry", 1.5, ("person", "machine"), ("food", "book")),
    ),
    "tiny": (
        ("sleeps", "sleep", 1.0, ("animal",), ()),
        ("beeps", "beep", 1.0, ("machine",), ()),
        ("sees", "see", 1.0, ("animal", "machine"), ("animal", "machine")),
    ),
}
ADVERBS = {
    "full": (("quickly", 0.35), ("slowly", 0.25), ("today", 0.3), ("gently", 0.05), ("kindly", 0.05)),
    "tiny": (),
}
CONJUNCTIONS = {"full": ("and",), "tiny": ()}
#: Instructions a context can combine, in bit order.
INSTRUCTIONS = ("brief", "animals", "polite")
FLOOR = 0.003  # total probability of the tokens the grammar would not emit, spread evenly
CAP_FLOOR = 1e-9  # after max_len words, every word together gets this much (</s> the rest)

# phases of the automaton
START, SUBJ_NP, AFTER_SUBJ, AFTER_VERB, OBJ_NP, AFTER_VP, AFTER_ADV, AFTER_AND, ENDED = range(9)
PHASE_NAMES = ("start", "subject", "after subject", "after verb", "object", "after verb phrase",
               "after adverb", "after and", "ended")


@dataclass(frozen=True)
class Word:
    """One predictable token and what the grammar knows about it."""

    text: str
    cat: str  # "end", "det", "adj", "noun", "verb", "adv", "and"
    number: str = "any"
    topic: str = ""
    weight: float = 1.0
    subjects: tuple = ()
    objects: tuple = ()


def words(variant: str) -> tuple[Word, ...]:
    """The predictable tokens of a variant: ``</s>`` first, then the words (id = position)."""
    out = [Word("</s>", "end")]
    out += [Word(w, "det", n, weight=q) for w, n, q in DETERMINERS[variant]]
    out += [Word(w, "adj", weight=p) for w, p in ADJECTIVES[variant]]
    for sg, pl, topic, p in NOUNS[variant]:
        out.append(Word(sg, "noun", "sg" if pl else "any", topic, p))
        if pl:
            out.append(Word(pl, "noun", "pl", topic, p))
    for sg, pl, p, subj, obj in VERBS[variant]:
        out += [Word(sg, "verb", "sg", "", p, subj, obj), Word(pl, "verb", "pl", "", p, subj, obj)]
    out += [Word(w, "adv", weight=p) for w, p in ADVERBS[variant]]
    out += [Word(w, "and") for w in CONJUNCTIONS[variant]]
    return tuple(out)


# A state: (phase, det_number, n_adj, subj_number, subj_topic, objects, and_used)
_START = (START, "", 0, "", "", (), 0)


def step(state: tuple, w: Word) -> tuple:
    """The state after token ``w``; defined for every token, grammatical or not."""
    phase, det, n_adj, snum, stopic, objs, used = state
    if phase == ENDED or w.cat == "end":
        return (ENDED, "", 0, "", "", (), 0)
    in_object = phase in (AFTER_VERB, OBJ_NP)
    if w.cat == "det":
        return (OBJ_NP, w.number, 0, snum, stopic, objs, used) if in_object else (SUBJ_NP, w.number, 0, "", "", (), used)
    if w.cat == "adj":
        if phase in (SUBJ_NP, OBJ_NP):
            return (phase, det, min(n_adj + 1, 2), snum, stopic, objs, used)
        if phase == START:
            return (SUBJ_NP, "any", 1, "", "", (), used)
        if phase == AFTER_VERB:
            return (OBJ_NP, "any", 1, snum, stopic, objs, used)
        return state
    if w.cat == "noun":
        if phase in (START, SUBJ_NP):
            topic = w.topic if w.topic in SUBJECT_TOPICS else ""
            return (AFTER_SUBJ, "", 0, w.number if w.number != "any" else "", topic, (), used)
        if in_object:
            return (AFTER_VP, "", 0, snum, stopic, (), used)
        return state
    if w.cat == "verb":
        if w.objects:
            return (AFTER_VERB, "", 0, snum, stopic, w.objects, used)
        return (AFTER_VP, "", 0, snum, stopic, (), used)
    if w.cat == "adv":
        return (AFTER_ADV, "", 0, snum, stopic, (), used)
    return (AFTER_AND, "", 0, snum, stopic, (), 1)  # "and"


def _noun_probs(vocab, det: str, topics: dict, probs: np.ndarray, mass: float) -> None:
    """Spread ``mass`` over nouns: topic weight × weight within topic × number fit."""
    num_weight = {"sg": {"sg": 1.0, "any": 1.0}, "pl": {"pl": 1.0, "any": 1.0},
                  "any": {"sg": 0.6, "pl": 0.4, "any": 1.0}}[det or "any"]
    w = np.zeros(len(vocab))
    for i, word in enumerate(vocab):
        if word.cat == "noun" and word.topic in topics:
            w[i] = topics[word.topic] * word.weight * num_weight.get(word.number, 0.0)
    if w.sum() > 0:
        probs += mass * w / w.sum()


def _cat_probs(vocab, cat: str, probs: np.ndarray, mass: float, weights: dict | None = None) -> None:
    w = np.array([(weights or {}).get(x.text, x.weight) if x.cat == cat else 0.0 for x in vocab])
    if w.sum() > 0:
        probs += mass * w / w.sum()


def grammar_probs(state: tuple, vocab: tuple[Word, ...]) -> np.ndarray:
    """The grammar's next-token probabilities in ``state`` (before instructions and the floor)."""
    phase, det, n_adj, snum, stopic, objs, used = state
    p = np.zeros(len(vocab))
    has = {x.cat for x in vocab}
    if phase == ENDED:
        p[:] = 1.0 / len(vocab)
    elif phase == START and "det" not in has:  # the tiny variant: nouns without determiners
        return grammar_probs((SUBJ_NP, "any", 0, "", "", (), used), vocab)
    elif phase == START:
        _cat_probs(vocab, "det", p, 1.0)
    elif phase in (SUBJ_NP, OBJ_NP):
        p_adj = (0.35, 0.15, 0.0)[n_adj] if phase == SUBJ_NP else (0.3, 0.1, 0.0)[n_adj]
        n_adjectives = sum(x.cat == "adj" for x in vocab)
        p_adj = p_adj if n_adj < n_adjectives else 0.0  # never "big big"
        _cat_probs(vocab, "adj", p, p_adj)
        if phase == SUBJ_NP:
            topics = SUBJECT_TOPICS
        else:
            topics = {t: 1.0 for t in (objs or tuple(SUBJECT_TOPICS))}
        _noun_probs(vocab, det, topics, p, 1.0 - p_adj)
    elif phase in (AFTER_SUBJ, AFTER_AND):
        w = np.zeros(len(vocab))
        for i, x in enumerate(vocab):
            if x.cat == "verb" and (not snum or x.number == snum) and (not stopic or stopic in x.subjects):
                w[i] = x.weight
        if w.sum() == 0:  # a subject no verb fits (only after off-grammar tokens): any verb
            w = np.array([x.weight if x.cat == "verb" else 0.0 for x in vocab])
        p += w / w.sum()
    elif phase == AFTER_VERB:
        adv = 0.06 if "adv" in has else 0.0
        if "det" in has:
            _cat_probs(vocab, "det", p, 0.9, OBJECT_DETERMINER_WEIGHT)
        else:
            p += 0.9 * grammar_probs((OBJ_NP, "any", 0, snum, stopic, objs, used), vocab)
        _cat_probs(vocab, "adv", p, adv)
        p[0] += 1.0 - p.sum()
    elif phase in (AFTER_VP, AFTER_ADV):
        can_and = "and" in has and not used
        adv = (0.25 if phase == AFTER_VP else 0.0) if "adv" in has else 0.0
        conj = (0.2 if can_and else 0.0)
        _cat_probs(vocab, "adv", p, adv)
        _cat_probs(vocab, "and", p, conj)
        p[0] += 1.0 - p.sum()
    return p



def instruction_weights(instruction: str, state: tuple, vocab: tuple[Word, ...]) -> np.ndarray:
    """Factors an instruction multiplies the grammar's probabilities by in ``state``."""
    phase = state[0]
    f = np.ones(len(vocab))
    cats = np.array([x.cat for x in vocab])
    if instruction == "brief":
        if phase in (SUBJ_NP, OBJ_NP):
            f[cats == "adj"] = 0.2
        if phase in (AFTER_VP, AFTER_ADV, AFTER_VERB):
            f[0] = 4.0
            f[cats == "and"] = 0.2
        if phase == AFTER_VP:
            f[cats == "adv"] = 0.4
    elif instruction == "animals":
        if phase in (SUBJ_NP, OBJ_NP):
            f[np.array([x.topic == "animal" for x in vocab])] = 8.0
    elif instruction == "polite":
        if phase in (AFTER_VP, AFTER_VERB):
            f[cats == "adv"] = 3.0
        if phase in (AFTER_VP, AFTER_ADV, AFTER_VERB):
            for i, x in enumerate(vocab):
                if x.text in ("gently", "kindly"):
                    f[i] *= 12.0
                elif x.text == "quickly":
                    f[i] *= 0.3
    return f


@dataclass(frozen=True)
class Tables:
    """The automaton of one variant: transitions and next-token log-probabilities per context."""

    words: tuple[Word, ...]
    trans: np.ndarray  # (n_states, n_words) next state after each predictable token
    logp: np.ndarray  # (n_contexts, n_states, n_words) log-probability of the next token
    cap_logp: np.ndarray  # (n_words,) the distribution after max_len words
    phase: np.ndarray  # (n_states,) phase of each state
    start: int
    ended: int


@functools.lru_cache(maxsize=4)
def build(variant: str) -> Tables:
    """Enumerate the reachable states of a variant (breadth first) and tabulate them."""
    vocab = words(variant)
    index = {_START: 0}
    order = [_START]
    rows = []
    i = 0
    while i < len(order):
        s = order[i]
        row = []
        for w in vocab:
            nxt = step(s, w)
            if nxt not in index:
                index[nxt] = len(order)
                order.append(nxt)
            row.append(index[nxt])
        rows.append(row)
        i += 1
    n_states, n_words = len(order), len(vocab)
    grammar = np.array([grammar_probs(s, vocab) for s in order])
    logp = np.empty((2 ** len(INSTRUCTIONS), n_states, n_words))
    factors = [np.array([instruction_weights(name, s, vocab) for s in order]) for name in INSTRUCTIONS]
    for ctx in range(2 ** len(INSTRUCTIONS)):
        probs = grammar.copy()
        for bit, f in enumerate(factors):
            if ctx >> bit & 1:
                probs *= f
        probs /= probs.sum(axis=1, keepdims=True)
        probs = (1.0 - FLOOR) * probs + FLOOR / n_words
        logp[ctx] = np.log(probs)
    ended = index[(ENDED, "", 0, "", "", (), 0)]
    logp[:, ended] = -np.log(n_words)
    cap = np.full(n_words, CAP_FLOOR / (n_words - 1))
    cap[0] = 1.0 - CAP_FLOOR
    return Tables(vocab, np.array(rows, dtype=np.intp), logp, np.log(cap),
                  np.array([s[0] for s in order]), 0, ended)
