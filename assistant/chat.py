"""A conversation: questions asked in turn, follow-ups understood from what came before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

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
        self._record(answer)
        return answer

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Like ``ask``, piece by piece: ``str`` pieces, then the ``Answer`` (the protocol of
        ``Assistant.ask_stream``). The turn joins the history when the ``Answer`` arrives; a
        failed or abandoned question leaves the history as it was."""
        for item in self.assistant.ask_stream(question, history=list(self.turns)):
            if isinstance(item, Answer):
                self._record(item)
            yield item

    def _record(self, answer: Answer) -> None:
        self.turns.append(Turn(answer.question, answer.standalone_question, answer.text))
        self.answers.append(answer)

    def reset(self) -> None:
        self.turns.clear()
        self.answers.clear()

    @property
    def history(self) -> list[tuple[str, str]]:
        return [(t.question, t.answer) for t in self.turns]
