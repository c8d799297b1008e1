"""Writing the answer from retrieved passages: the extractive answerer (quotes, with its evidence
model), the LLM answerer and its citation checks, follow-up questions.

May import the core, ``assistant.embed`` and ``assistant.llm`` (never retrieval or the index:
answerers get the hits handed to them).
"""
