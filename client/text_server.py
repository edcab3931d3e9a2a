"""Palettes from a prompt and scene ideas from an OpenAI-compatible text server, as a transport.

``TextServerConfig(url, model).make_transport()`` gives a ``Transport`` (``transport.py``) that
speaks the backend's protocol lines without a backend process: it answers ``hello`` at start,
and each palette (source ``prompt``) or ideas request with ``accepted``, ``progress`` and one
``result`` or ``error``, from a worker thread that asks the server (``openai_chat``). So
``BackendClient``, ``session`` and ``BackendJobOperator`` run these jobs as they run backend
jobs: progress bars, Esc and ``cancel`` (the socket is shut at once), blocking under
``blender -b``, the operator's timeout. Other requests are refused with ``bad_request``.

The asking is the backend's (``core.palette_prompt``, ``core.ideas_prompt``,
``core.chat_answer``): the same chat, the same JSON schema (sent as ``response_format``), the
same checks and completion, one retry with the problems spelled out, and a result of the same
shape, so ``core.results`` parses it. Two things differ, because servers enforce a schema to
different degrees (llama.cpp's converter ignores numeric bounds): an idea document is read the
way Blender reads a stored one, cleaned and clamped before it is checked; and an answer that is
not JSON at all, twice, is reported as a server that ignored ``response_format``. Provenance:
engine ``openai-compatible``, model the server's model name, ``model_source`` the URL without
credentials; ``tokens`` counts the pieces the answer streamed in (one token each on the servers
tested).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import core
from ..core import colors, ideas_prompt, palette_prompt, protocol, provenance
from ..core import ideas as idea_rules
from ..core import schema as json_schema
from ..core.chat_answer import best_of_two
from ..core.errors import TaskError
from ..core.schema import DocumentError, parse_json
from .job_transport import Job, JobTransport, LatestLines
from .openai_chat import ChatServer, Exchange

ENGINE = "openai-compatible"
MODEL_ENV = "ATELIER_TEXT_SERVER_MODEL"


@dataclass(frozen=True)
class TextServerConfig:
    """Which server answers (a change means a new connection); times in seconds."""

    url: str
    model: str = ""
    connect_timeout: float = 5.0  # an unreachable server is said within this
    read_timeout: float = 300.0  # silence allowed while a model reads the prompt on a CPU
    answer_seconds: float = 1800.0  # a whole answer, however it trickles in
    allow_network: bool = False  # may a server on another machine be asked (online access)

    def make_transport(self) -> TextServerTransport:
        return TextServerTransport(self)


def serves(request: protocol.Request) -> bool:
    """True for the requests a text server answers: palettes from a prompt, scene ideas."""
    return (isinstance(request, protocol.IdeasRequest)
            or (isinstance(request, protocol.PaletteRequest) and request.source == "prompt"))


@dataclass
class _Job(Job):
    exchange: Exchange | None = None


@dataclass
class _Answer:
    document: dict
    attempts: int
    pieces: int
    model: str
    problems: list[str]


class TextServerTransport(JobTransport):
    """Protocol lines in, protocol lines out; one worker thread per job, none for the rest."""

    THREAD_NAME = "atelier-text"

    def __init__(self, config: TextServerConfig) -> None:
        super().__init__()
        self.config = config
        self._server: ChatServer | None = None

    def start(self) -> None:
        super().start()
        self.emit(protocol.HelloEvent(backend_version=core.__version__, capabilities=["palette", "ideas"],
                                      pid=os.getpid()))

    def closed_message(self) -> str:
        return "the text server connection is closed"

    def take(self, request: protocol.Request) -> None:
        if isinstance(request, protocol.PingRequest):
            self.emit(protocol.PongEvent(id=request.id))
        elif isinstance(request, (protocol.UnloadRequest, protocol.ShutdownRequest)):
            pass  # nothing is loaded here: the server holds its own models
        elif not serves(request):
            asked = (f"a palette from {request.source!r}" if isinstance(request, protocol.PaletteRequest)
                     else f"{request.type!r}")
            self.emit(protocol.ErrorEvent(
                id=request.id, code="bad_request",
                message=f"the text server answers palettes from a prompt and scene ideas, not {asked}",
                hint="this request goes to Atelier's backend"))
        else:
            self.begin(_Job(request))

    def cancel_job(self, job: _Job) -> None:
        self.end_job(job)

    def end_job(self, job: _Job) -> None:
        """The job's call ends now (its socket is shut)."""
        job.cancelled.set()
        if job.exchange is not None:
            job.exchange.abort()

    def run_job(self, job: _Job, lines: LatestLines) -> None:
        """The worker: ask, check, answer; every way out ends the job with one event."""
        request = job.request

        def emit(event: protocol.Event) -> None:
            if isinstance(event, protocol.ProgressEvent) and not job.cancelled.is_set():
                lines.put_latest(request.id, protocol.encode(event))  # Blender shows the latest
            elif not job.cancelled.is_set() or isinstance(event, protocol.ErrorEvent):
                lines.put(protocol.encode(event))

        emit(protocol.AcceptedEvent(id=request.id, position=0))
        try:
            if self._server is None:
                self._server = ChatServer(self.config.url, self.config.model,
                                          connect_timeout=self.config.connect_timeout,
                                          read_timeout=self.config.read_timeout,
                                          answer_seconds=self.config.answer_seconds,
                                          allow_network=self.config.allow_network)
            job.exchange = Exchange(self._server, job.cancelled)
            task = _palette if isinstance(request, protocol.PaletteRequest) else _ideas
            metadata, data = task(request, _Asker(self._server, job, emit))
            job.exchange.check_cancelled()
            event = protocol.ResultEvent(id=request.id, files=[], metadata=metadata, data=data)
        except TaskError as exc:
            self._log.append(f"{request.type} {request.id}: {exc.code}: {exc.message}")
            event = protocol.ErrorEvent(id=request.id, code=exc.code, message=exc.message, hint=exc.hint)
        except Exception as exc:  # a bug here must still end the job, not leave it waiting
            self._log.append(f"{request.type} {request.id}: {type(exc).__name__}: {exc}")
            event = protocol.ErrorEvent(id=request.id, code="internal",
                                        message=f"the text server client failed: {type(exc).__name__}: {exc}",
                                        hint="please report this")
        finally:
            if job.exchange is not None:
                job.exchange.close()
            self.finished(job)
        if self._running or isinstance(event, protocol.ErrorEvent):
            lines.put(protocol.encode(event))


class _Asker:
    """One job's questions to the server: one answer, checked, with one retry."""

    def __init__(self, server: ChatServer, job: _Job, emit) -> None:
        self.server, self.job, self.emit = server, job, emit

    def progress(self, step: int, total: int, stage: str) -> None:
        self.emit(protocol.ProgressEvent(id=self.job.request.id, step=step, total=total, stage=stage))

    def ask(self, messages: list[dict], schema: dict, *, name: str, unusable, check, seed: int,
            stage: str, progress_of) -> _Answer:
        """A document of ``schema``: ``unusable(document)`` lists what makes it no document at
        all, ``check(document)`` what a retry should fix. The two tries are
        ``core.chat_answer.best_of_two``'s, as the backend's; no usable answer is
        ``invalid_output``."""
        last, writing, pieces, prose, models = (0, 0), stage, 0, 0, {}

        def on_text(text: str) -> None:
            nonlocal last
            now = progress_of(text)
            if now != last:
                self.progress(*now, writing)
                last = now

        def answer(conversation: list[dict], attempt: int) -> str:
            nonlocal last, writing, pieces
            last, writing = (0, progress_of("")[1]), stage if attempt == 1 else f"{stage} (second try)"
            self.progress(*last, writing)
            reply = self.server.chat(self.job.exchange, conversation, schema, name=name,
                                     seed=seed + attempt - 1, on_text=on_text)
            pieces += reply.pieces
            models[attempt] = reply.model
            return reply.text

        def read(text: str) -> tuple[dict | None, list[str]]:
            nonlocal prose
            document, problems = _read(text, unusable)
            if document is None and problems and problems[0].startswith("It is not JSON"):
                prose += 1
            return document, problems

        best, attempts, problems = best_of_two(messages, answer, read, check)
        if best is None and prose == 2:
            raise TaskError("invalid_output", f"the text server at {self.server.url} answered prose, not "
                                              "JSON, twice: it ignored response_format (the JSON schema "
                                              "Atelier sent)",
                            hint="use a server that enforces response_format json_schema (vLLM, SGLang, "
                                 "llama.cpp's llama-server, Ollama 0.5 or later), or clear Text Server "
                                 "URL to use Atelier's backend")
        if best is None:
            raise TaskError("invalid_output", f"the text server's answer failed Atelier's checks twice: "
                                              f"{' '.join(problems)}",
                            hint="rephrase the prompt, try another seed or use a larger text model")
        return _Answer(best.document, attempts, pieces, models[best.attempt], best.problems)


def _read(text: str, unusable) -> tuple[dict | None, list[str]]:
    """The answer as a document, or None and why not (sentences a retry can quote)."""
    try:
        document = parse_json(text)
    except DocumentError as exc:
        return None, [f"It is not JSON ({exc}); answer with the JSON document alone."]
    if not isinstance(document, dict):
        return None, ["It is not a JSON object; answer with the JSON document alone."]
    problems = unusable(document)
    return (None, problems) if problems else (document, [])


# --------------------------------------------------------------------------- the two tasks


def _palette(request: protocol.PaletteRequest, asker: _Asker) -> tuple[dict, dict]:
    """As ``backend/tasks/palette.py`` with source ``prompt``: ``(metadata, data)``."""
    colors.check_count(request.count)
    prompt = palette_prompt.checked_prompt(request.prompt)
    seed = request.seed if request.seed is not None else protocol.random_seed()
    schema = palette_prompt.schema_for(request.count)
    answer = asker.ask(palette_prompt.messages(prompt, request.count), schema, name="atelier_palette",
                       unusable=lambda document: json_schema.problems(document, schema), check=None,
                       seed=seed, stage="writing the palette",
                       progress_of=palette_prompt.colours_written(request.count))
    document, added = palette_prompt.complete_scheme(answer.document, request.count)
    parameters = {"source": request.source, "prompt": request.prompt, "image": request.image,
                  "count": request.count, "harmony": request.harmony, "base_color": request.base_color,
                  "seed": seed}
    return _record("palette", asker, answer, parameters, colors_added=added), document


def _ideas(request: protocol.IdeasRequest, asker: _Asker) -> tuple[dict, dict]:
    """As ``backend/tasks/ideas.py``: ``(metadata, data)``."""
    problems = idea_rules.request_problems(request.prompt, request.count)
    if problems:
        raise TaskError("bad_request", "; ".join(problems),
                        hint=f"send a non-empty prompt and a count from {idea_rules.MIN_IDEAS} "
                             f"to {idea_rules.MAX_IDEAS}")
    context = ideas_prompt.describe_context(request.context)
    seed = request.seed if request.seed is not None else protocol.random_seed()
    answer = asker.ask(ideas_prompt.messages(request.prompt, request.count, context),
                       ideas_prompt.generation_schema(request.count), name="atelier_scene_ideas",
                       unusable=lambda document: _idea_errors(document, request.count),
                       check=lambda document: ideas_prompt.document_problems(document, request.count),
                       seed=seed, stage="writing ideas",
                       progress_of=ideas_prompt.sections_written(request.count))
    parameters = {"prompt": request.prompt, "count": request.count, "context": request.context, "seed": seed}
    data = ideas_prompt.answer_data(answer.document, request.count, answer.problems)
    return _record("ideas", asker, answer, parameters, schema_version=idea_rules.SCHEMA_VERSION), data


def _idea_errors(document: dict, count: int) -> list[str]:
    """Why ``document`` is no ideas document even once cleaned ([] when it is one)."""
    try:
        ideas_prompt.repaired_ideas(document, count)
    except idea_rules.IdeaError as exc:
        return exc.problems
    return []


def _record(task: str, asker: _Asker, answer: _Answer, parameters: dict, **extra) -> dict:
    return provenance.build(task, ENGINE, answer.model, parameters, versions={},
                            model_source=asker.server.url, attempts=answer.attempts,
                            tokens=answer.pieces, **extra)
