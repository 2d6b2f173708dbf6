"""Chapter 6's listed statements: where the window loses (06.where_it_loses), choosing an objective
(06.choose_objective), both split into groups for partial credit, and what to remember (06.remember).

Which statements are true is not here: it is the instructor's key, in the solution notebook's answer
cells (:mod:`kdbook.grading.keys`). :mod:`kdbook.grading.ch06` declares the exercises.
"""
from __future__ import annotations

from ._core import Statement

__all__ = ["WHERE_STATEMENTS", "WHERE_GROUPS", "OBJECTIVE_STATEMENTS", "OBJECTIVE_GROUPS", "REMEMBER_STATEMENTS"]


# --------------------------------------------------------------------------- where the window loses


#: The statements of 06.where_it_loses, about the table the exercise prints: the mean KL per position of
#: the word-level-KD student (seed 0) along 1,000 teacher samples, and the teacher's entropy there.
#: Which are true is the solution's key; tests/test_grading_ch06.py recomputes the table on seeds 0-9
#: (and position 13 on 20,000 sentences) and checks each statement against it.
WHERE_STATEMENTS = (
    Statement("Positions 1 and 2 cost almost nothing (below 0.02 nats): there the window holds the whole prefix "
              "(`<s>` and at most one word), so the student can see everything the teacher uses."),
    Statement("The student loses most where the teacher is most uncertain: its KL per position follows the "
              "teacher's entropy."),
    Statement("Position 3 is the first with a sizeable KL: its window holds only the first two words, and without "
              "`<s>` in sight the student cannot tell the start of a sentence (\"the dog …\", \"the big …\") from the "
              "same words inside an object (\"… chases the dog\", \"… chases the big dog\"), which the teacher "
              "can."),
    Statement("Position 13 has the largest mean KL only because few sentences reach it: that mean is noise, and "
              "on more sentences it would fall to the level of positions 6–12."),
    Statement("At position 13 the teacher is certain (`</s>`: the sentence has reached the 12-word limit), yet "
              "the student pays its largest KL per position there: a two-token window cannot count the words "
              "before it."),
    Statement("The student is undertrained: with more epochs or a larger corpus its KL would approach 0 at every "
              "position."),
)
#: WHERE_GROUPS splits them for partial credit, as OBJECTIVE_GROUPS does: one point for each group judged exactly.
WHERE_GROUPS = (("positions 1–3 (a, b, c)", "abc"), ("position 13 and more training (d, e, f)", "def"))


# --------------------------------------------------------------------------- choosing an objective


#: The statements of 06.choose_objective. Each one's truth rests on numbers the chapter prints
#: (notebooks/06: the table of the four students over seeds 0-2, their paired differences from the
#: corpus student, and the storage table); tests/test_grading_ch06.py checks them against those outputs.
#: OBJECTIVE_GROUPS splits them for partial credit: one point for each group judged exactly.
OBJECTIVE_STATEMENTS = (
    Statement("For team A, sequence-level KD on beam outputs: its greedy output equalled the teacher's beam output "
              "on 0.990 of the starts it was trained on (mean over seeds 0–2) and on 0.87 of the grammatical starts "
              "held out of its training, against the corpus student's 0.05; only on the table's unseen starts, all off "
              "the grammar on seeds 0–2, did it match least often of the four students (0.205)."),
    Statement("For team A, word-level KD: it has the lowest token KL of the four students (0.239), so its greedy "
              "replies have the highest teacher log-probability per token."),
    Statement("For team B, word-level KD: its token KL was lower than the corpus student's on every seed (by "
              "0.066 ± 0.003 nats per token), and its perplexity was the lowest of the four (6.649)."),
    Statement("For team B, sequence-level KD on beam outputs: it learned the teacher's favourite sentences, so its "
              "probabilities are close to the teacher's (perplexity 181.527)."),
    Statement("For team B, training on teacher samples is as good as word-level KD and cheaper: its token KL "
              "(0.306) is within the seed-to-seed spread of word-level KD's (0.239)."),
    Statement("Word-level KD needs the teacher's distribution at every training token: 102 bytes per token "
              "stored in full here (V = 51), or 20 as a top-5 with a rest bucket (at a KL(p‖stored) of 0.25 "
              "nats); sequence-level KD pays sequential decoding steps per training sentence and stores only "
              "token ids."),
    Statement("Word-level KD's storage can be cut to a renormalised top-5 (20 bytes per token) at little loss: "
              "the stored teacher stays close to the full one."),
)
OBJECTIVE_GROUPS = (("for team A (a, b)", "ab"), ("for team B (c, d, e)", "cde"), ("on costs (f, g)", "fg"))


#: The statements of 06.remember: facts the chapter states (Kim & Rush 2016; Anshumann et al. 2025).
REMEMBER_STATEMENTS = (
    Statement("Kim & Rush's sequence-level KD objective is −Σ_y p(y|x) log q(y|x): the cross-entropy between the "
              "teacher's and the student's distributions over whole outputs."),
    Statement("Beam search with 4 beams always returns the teacher's most probable continuation."),
    Statement("Summed over the positions of teacher-sampled sentences, the token-level KL is an unbiased estimate "
              "of the sequence-level KL(p‖q)."),
    Statement("A 2-byte token id can name every token of a 128,000-token vocabulary."),
    Statement("When the stored top-k values are the teacher's own (un-renormalised) log-probabilities, the rest "
              "mass 1 − Σ stored costs no extra byte."),
    Statement("Storing each position's top-k teacher probabilities gives unbiased distillation gradients; "
              "storing sampled token ids does not."),
)
