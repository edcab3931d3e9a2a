"""What every engine that asks a chat model for a document does the same way.

The backend's transformers model (``backend/structured.py``) and an OpenAI-compatible text
server (``client/text_server.py``) sample with the same settings and, when an answer cannot
be used, ask once more in the same words, quoting the problems Atelier's checks found, and keep
the better of the two answers (``best_of_two``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Sampling, not greedy decoding: a retry with another seed can then give another answer.
TEMPERATURE, TOP_P = 0.7, 0.95


def retry_turns(answer: str, problems: list[str]) -> list[dict]:
    """The chat turns that follow an unusable ``answer``: the answer itself, then the problems
    spelled out as sentences and the request for a corrected, complete document."""
    return [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "That answer cannot be used: " + " ".join(problems)
         + " Answer again with the complete, corrected JSON document."},
    ]


@dataclass
class BestAnswer:
    """The usable answer with the fewest problems: its document, which try wrote it (1 or 2)
    and what ``check`` still found wrong with it ([] = nothing)."""

    document: dict
    attempt: int
    problems: list[str] = field(default_factory=list)


def best_of_two(messages: list[dict], answer: Callable[[list[dict], int], str],
                read: Callable[[str], tuple[dict | None, list[str]]],
                check: Callable[[dict], list[str]] | None) -> tuple[BestAnswer | None, int, list[str]]:
    """Ask twice at most: ``answer(conversation, attempt)`` gives a text, ``read(text)`` the
    document in it (None and why not when there is none), ``check(document)`` what a retry
    should fix. The second try is asked only when the first has problems, with them quoted
    (``retry_turns``). The usable answer with the fewest problems wins, the later on a tie (it
    was told what to fix). Returns it (None when neither was usable), the tries made and the
    last try's problems, for the caller's error."""
    conversation, best = list(messages), None
    for attempt in (1, 2):
        text = answer(conversation, attempt)
        document, problems = read(text)
        if document is not None:
            problems = list(check(document)) if check is not None else []
            if best is None or len(problems) <= len(best.problems):
                best = BestAnswer(document, attempt, problems)
            if not problems:
                break
        if attempt == 1:
            conversation += retry_turns(text, problems)
    return best, attempt, problems
