"""Follow-up questions without a language model.

"How many did it injure?" means nothing to a retriever on its own. When a question leans on
the conversation (pronouns, "what about ...", almost no content words), the previous
standalone question is prepended for retrieval, and its terms count as context (at half
weight) when judging which sentence answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import STOPWORDS, words

ANAPHORA = frozenset(
    "it its it's they them their theirs this that these those he him his she her hers there "
    "then one ones such former latter same".split()
)
_LEADING = re.compile(r"^\s*(and|but|also|so|what about|how about|and what about|what else|why|how come)\b", re.I)


SUBJECT_WORDS = 6  # a longer short answer is a clause, not a name a follow-up can mean


@dataclass
class Turn:
    question: str
    standalone: str
    answer: str = ""
    short_answer: str = ""  # the previous answer in a few words: a follow-up's likely subject

    @property
    def subject(self) -> str:
        """The short answer when it is short enough to be what "they" or "it" names, else ""."""
        return self.short_answer if len(self.short_answer.split()) <= SUBJECT_WORDS else ""


def is_follow_up(question: str) -> bool:
    ws = words(question)
    content = [w for w in ws if w not in STOPWORDS and w not in ANAPHORA]
    return bool(_LEADING.match(question)) or any(w in ANAPHORA for w in ws) or len(content) <= 1


def standalone(question: str, history: list[Turn]) -> tuple[str, str]:
    """(query for retrieval, context from earlier turns). Context is empty for a fresh question."""
    if not history or not is_follow_up(question):
        return question, ""
    previous = history[-1].standalone or history[-1].question
    # The previous answer's words find what "they" are ("Where are they based?" after "Who was
    # blamed?" retrieves with the group's name, not only the earlier question).
    named = history[-1].subject
    return (f"{previous} {named} {question}" if named else f"{previous} {question}"), previous


def as_turns(history) -> list[Turn]:
    """Accept history as Turns, Answers, (question, answer) pairs or plain questions."""
    turns: list[Turn] = []
    for item in history or []:
        if isinstance(item, Turn):
            turns.append(item)
        elif hasattr(item, "question") and hasattr(item, "text"):  # an Answer
            turns.append(Turn(item.question, item.standalone_question or item.question, item.text,
                              getattr(item, "short_answer", "")))
        elif isinstance(item, (tuple, list)) and item:
            q = str(item[0])
            a = str(item[1]) if len(item) > 1 else ""
            turns.append(Turn(q, "", a))
        elif isinstance(item, dict) and "question" in item:
            turns.append(Turn(str(item["question"]), str(item.get("standalone_question", "")), str(item.get("answer", "")),
                              str(item.get("short_answer", ""))))
        else:
            turns.append(Turn(str(item), ""))
    # Earlier turns given without their standalone form: rebuild it in order.
    rebuilt: list[Turn] = []
    for t in turns:
        if not t.standalone:
            t = Turn(t.question, standalone(t.question, rebuilt)[0], t.answer, t.short_answer)
        rebuilt.append(t)
    return rebuilt
