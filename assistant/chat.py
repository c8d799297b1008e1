"""A conversation: questions asked in turn, follow-ups understood from what came before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.followup import Turn
from assistant.types import Answer

if TYPE_CHECKING:
    from assistant.api import Assistant


class Chat:
    """Keeps the history of one conversation; each ``ask`` sees the turns before it.

    >>> chat = Chat()
    >>> chat.ask("Who was blamed for the drone attack?")
    >>> chat.ask("How many did it injure?")   # retrieval knows "it" is the drone attack
    """

    def __init__(self, assistant: "Assistant | None" = None, **overrides: Any):
        if assistant is None:
            from assistant.api import get_assistant

            assistant = get_assistant(**overrides)
        self.assistant = assistant
        self.turns: list[Turn] = []
        self.answers: list[Answer] = []

    def ask(self, question: str) -> Answer:
        answer = self.assistant.ask(question, history=self.turns)
        self.turns.append(Turn(answer.question, answer.standalone_question, answer.text))
        self.answers.append(answer)
        return answer

    def reset(self) -> None:
        self.turns.clear()
        self.answers.clear()

    @property
    def history(self) -> list[tuple[str, str]]:
        return [(t.question, t.answer) for t in self.turns]
