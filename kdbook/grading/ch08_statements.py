"""Chapter 8's listed statements: which recipe (08.recipe_claims) and data or target
(08.collapse_cause).

Which statements are true is not here: it is the instructor's key, in the solution notebook's answer
cells (:mod:`kdbook.grading.keys`). :mod:`kdbook.grading.ch08` declares the exercises and re-exports
these names.
"""
from __future__ import annotations

from ._core import Statement

__all__ = ["RECIPE_STATEMENTS", "COLLAPSE_STATEMENTS"]


# --------------------------------------------------------------------------- which recipe?

#: The statements of 08.recipe_claims. Each one's truth rests on numbers chapter 8 prints (the table of
#: students over seeds 0-2, the paired differences from token-level T = 1, the tuning table and the training mix);
#: tests/test_grading_ch08.py checks them against those outputs.
RECIPE_STATEMENTS = (
    Statement("Token-level KL at T = 1 puts the prompt into the weights: read without the prompt, its student is "
              "0.0016 nats per token from the teacher, against 0.0785 for the model read without the prompt, and "
              "its share of polite sentences (0.1760 ± 0.0050) is the teacher's (0.1740) within the spread."),
    Statement("Training on the teacher's single best response ŷ keeps the instructed behaviour just as well: its "
              "share of brief sentences (0.7667) is close to the teacher's (0.7510)."),
    Statement("T = 2 ended closer to the teacher than T = 1 on every seed (paired differences −0.0006, −0.0006 and "
              "−0.0005 nats per token)."),
    Statement("The soft prompt σ ended closest to the teacher (0.00007 at its better learning rate), so prompt "
              "tuning beats context distillation in general."),
    Statement("Without keep rows the unprompted model drifted by 0.0789 nats per token, about the prompt's own "
              "effect (0.0785); a quarter of keep rows cut the drift on every seed (by about 0.073) while the "
              "student's KL to the teacher rose by about a thousandth of a nat or less."),
    Statement("Keep rows are expensive on the prompted side: with half of the rows kept, the student's KL to the "
              "teacher is several times what it is without keep rows."),
)


# --------------------------------------------------------------------------- analyse: data or target?

#: The statements of 08.collapse_cause, about chapter 8's 2 × 2 (data: greedy ŷ or samples × target: one-hot or
#: the teacher's distribution; KL to the teacher and polite share, mean ± SD over seeds 0-2; the teacher's polite
#: share 0.174). tests/test_grading_ch08.py checks the quoted numbers and the truth flags against its output.
COLLAPSE_STATEMENTS = (
    Statement("Greedy responses ŷ trained toward the teacher's distribution keep the polite behaviour: KL 0.0116 "
              "and a polite share of 0.1680 against the teacher's 0.174."),
    Statement("The greedy data causes the collapse: on sampled responses with one-hot targets the student is about "
              "as close to the teacher as the token-level student (0.2164 against 0.0016)."),
    Statement("With sampled responses, one-hot targets end over a hundred times further from the teacher than the "
              "teacher's distribution as target (0.2164 against 0.0016)."),
    Statement("Once the target is the teacher's distribution, the data make no difference: greedy ŷ and samples "
              "end equally close to the teacher (0.0116 and 0.0016)."),
    Statement("With one-hot targets, greedy data make it worse still: the polite share falls from 0.1287 on "
              "samples to 0.0000 on ŷ."),
    Statement("Since the sequence-level student's polite share is 0.0000, the teacher must almost never write "
              "polite sentences."),
)
