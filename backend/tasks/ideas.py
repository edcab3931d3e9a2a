"""The ``ideas`` task: a prompt (and what the artist has selected) becomes 1 to 5 scene ideas.

Ideas are data, never code: the text model writes JSON under the grammar of
``schemas/scene_idea.json`` (xgrammar, through ``structured.generate_json``), the answer is
sanitised and checked by ``core.ideas`` (the same rules Blender uses), and what Atelier can
fix itself is fixed (``core.idea_repair``: the camera, light power, sizes, strays, copies).
The prompt, schema, checks and repairs live in ``core.ideas_prompt``, shared with an
OpenAI-compatible text server (``client/text_server.py``).
Only what remains (objects in one lump) goes back to the model for one more try with the
problems spelled out; if the second answer still has them, the better answer is kept and the
problems are reported. Only an answer that is no valid idea at all is an error.
"""

from __future__ import annotations

from core import ideas as idea_rules
from core.errors import TaskError
from core.ideas_prompt import (
    answer_data,
    describe_context,
    document_problems,
    generation_schema,
    messages,
    sections_written,
)
from core.protocol import IdeasRequest

from ..task_context import JobContext, TaskOutput


def run(request: IdeasRequest, job: JobContext) -> TaskOutput:
    """Suggest ``request.count`` ideas for ``request.prompt``; ``data`` is
    ``{"ideas": [...], "repairs": [...]}``, a sentence per cleaned field, repair or problem left."""
    from ..structured import generate_json
    from ..text_model import load_text_model

    problems = idea_rules.request_problems(request.prompt, request.count)
    if problems:
        raise TaskError("bad_request", "; ".join(problems),
                        hint=f"send a non-empty prompt and a count from {idea_rules.MIN_IDEAS} "
                             f"to {idea_rules.MAX_IDEAS}")
    context = describe_context(request.context)
    job.progress(0, 1, "loading the text model")
    lm = load_text_model(job, request.model)
    job.check_cancelled()
    answer = generate_json(
        job, lm,
        schema=generation_schema(request.count),
        messages=messages(request.prompt, request.count, context),
        check=lambda document: document_problems(document, request.count),
        seed=job.seed,
        stage="writing ideas",
        progress_of=sections_written(request.count),
    )
    parameters = {"prompt": request.prompt, "count": request.count, "context": request.context,
                  "seed": job.seed}
    metadata = job.provenance("transformers", lm.name, parameters, attempts=answer.attempts,
                              tokens=answer.tokens, schema_version=idea_rules.SCHEMA_VERSION)
    return TaskOutput(files=[], metadata=metadata,
                      data=answer_data(answer.document, request.count, answer.problems))
