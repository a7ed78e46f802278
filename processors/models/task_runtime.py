"""The NLP task runtime: NER, fill-mask, question answering, text and zero-shot classification.

One class over a graph runner (ONNX Runtime or TorchScript) and ``tokenizer.json``; the task is
the model's ``function_name``, the labels come from the HF ``config.json`` shipped in the zip
(``id2label``). :meth:`TaskRuntime.infer` takes Elastic's ``inference_config`` options of the
task and returns one Elastic-shaped result per text (see :mod:`processors.models.task_heads`).

Long inputs follow Elastic's ``tokenization`` options: ``truncate: first`` (the default) cuts
the text to the model's length and marks the result ``is_truncated``; ``truncate: none`` refuses
it; ``span: N`` (NER, text classification, question answering) runs overlapping windows that
share ``N`` tokens and merges their results.

Example:
    >>> spec = TaskSpec.from_config(cfg, FunctionName.NER)  # doctest: +SKIP
    >>> runtime = TaskRuntime(runner, tokenizer, spec)  # doctest: +SKIP
    >>> runtime.infer(["Waldo is in Paris"])[0]["entities"][0]["class_name"]  # doctest: +SKIP
    'LOC'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processors.errors import ModelError
from processors.models import task_heads as heads
from processors.models.registration import FunctionName
from processors.models.runtimes import GraphRunner, plan_tight_batches
from processors.models.tokenization import TextTokenizer, check_texts

JSONObject = dict[str, Any]
TASK_FUNCTIONS = (
    FunctionName.NER,
    FunctionName.FILL_MASK,
    FunctionName.QUESTION_ANSWERING,
    FunctionName.TEXT_CLASSIFICATION,
    FunctionName.ZERO_SHOT_CLASSIFICATION,
)
ELASTIC_TASKS = {
    "ner": FunctionName.NER,
    "fill_mask": FunctionName.FILL_MASK,
    "question_answering": FunctionName.QUESTION_ANSWERING,
    "text_classification": FunctionName.TEXT_CLASSIFICATION,
    "zero_shot_classification": FunctionName.ZERO_SHOT_CLASSIFICATION,
}
"""Elastic's ``inference_config`` task names -> the function that runs them."""
TASK_OPTIONS: dict[FunctionName, tuple[str, ...]] = {
    FunctionName.NER: ("results_field", "tokenization", "classification_labels"),
    FunctionName.FILL_MASK: ("results_field", "tokenization", "num_top_classes"),
    FunctionName.QUESTION_ANSWERING: (
        "results_field",
        "tokenization",
        "question",
        "max_answer_length",
        "num_top_classes",
    ),
    FunctionName.TEXT_CLASSIFICATION: (
        "results_field",
        "tokenization",
        "num_top_classes",
        "classification_labels",
    ),
    FunctionName.ZERO_SHOT_CLASSIFICATION: (
        "results_field",
        "tokenization",
        "labels",
        "multi_label",
        "hypothesis_template",
        "classification_labels",
    ),
}
"""The ``inference_config`` options each task takes."""
TOKENIZATION_KINDS = ("bert", "bert_ja", "mpnet", "roberta", "xlm_roberta", "deberta_v2")
DEFAULT_HYPOTHESIS = "This example is {}."
DEFAULT_RESULTS_FIELD = "predicted_value"


@dataclass(frozen=True)
class TaskSpec:
    """What the runtime needs to know of the model besides its graph and tokenizer.

    Example:
        >>> spec = TaskSpec.from_config({"id2label": {"0": "O", "1": "B-PER"}}, FunctionName.NER)
        >>> spec.labels
        ('O', 'B-PER')
    """

    function: FunctionName
    labels: tuple[str, ...]
    problem_type: str | None = None
    mask_token: str | None = None
    sentence_highlighting: bool = False

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], function: FunctionName, mask_token: str | None = None
    ) -> TaskSpec:
        """From a HF ``config.json`` (``id2label``, ``problem_type``).

        Raises:
            ModelError: a classification task whose config has no ``id2label``.
        """
        raw = config.get("id2label")
        labels: tuple[str, ...] = ()
        if isinstance(raw, Mapping) and raw:
            try:
                labels = tuple(str(raw[k]) for k in sorted(raw, key=lambda k: int(k)))
            except (TypeError, ValueError) as exc:
                raise ModelError(f"id2label keys must be class indices: {exc}") from exc
        needs_labels = function not in (FunctionName.FILL_MASK, FunctionName.QUESTION_ANSWERING)
        if needs_labels and not labels:
            raise ModelError(
                f"a {function.value} model needs a label map: config.json has no id2label"
            )
        problem = config.get("problem_type")
        highlighter = any(
            str(a).endswith("ForSentenceExtractionWithBackoff")
            for a in config.get("architectures") or []
        )
        return cls(
            function, labels, problem if isinstance(problem, str) else None, mask_token,
            sentence_highlighting=highlighter and function is FunctionName.QUESTION_ANSWERING,
        )  # fmt: skip


@dataclass(frozen=True)
class Tokenization:
    """Elastic's ``tokenization`` options that neuralpipe applies: ``truncate`` and ``span``."""

    truncate: str = "first"
    span: int = -1

    @classmethod
    def parse(cls, value: Any) -> Tokenization:
        """``{"bert": {"truncate": "none", "span": 16}}`` (any tokenization kind key).

        >>> Tokenization.parse({"roberta": {"span": 8}})
        Tokenization(truncate='first', span=8)
        """
        if value is None:
            return cls()
        if not isinstance(value, Mapping) or len(value) != 1:
            raise ModelError("[tokenization] must be an object with one tokenization kind")
        ((kind, options),) = value.items()
        if kind not in TOKENIZATION_KINDS:
            raise ModelError(
                f"[tokenization] unknown kind [{kind}]; one of {', '.join(TOKENIZATION_KINDS)}"
            )
        options = options or {}
        if not isinstance(options, Mapping):
            raise ModelError(f"[tokenization.{kind}] must be an object")
        truncate = str(options.get("truncate", "first")).lower()
        if truncate not in ("first", "second", "none"):
            raise ModelError(f"[truncate] must be first, second or none, not [{truncate}]")
        span = options.get("span", -1)
        if not isinstance(span, int) or isinstance(span, bool) or span < -1:
            raise ModelError(f"[span] must be -1 or a non-negative integer, not [{span}]")
        return cls(truncate, span)


@dataclass(frozen=True)
class Window:
    """One model input: the encoding (special tokens added) and each token's character
    offsets in the original text (``(0, 0)`` for special tokens).

    The offsets are those of the encoding before special tokens were added: a post-processor
    that trims offsets (RoBERTa's) trims them a second time when it processes an encoding
    that already went through the pipeline.
    """

    encoding: Any
    offsets: list[tuple[int, int]]

    @property
    def ids(self) -> list[int]:
        return list(self.encoding.ids)

    @property
    def type_ids(self) -> list[int]:
        return list(self.encoding.type_ids)


def _int_option(options: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    value = options.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ModelError(f"[{name}] must be an integer >= {minimum}, not [{value}]")
    return value


def _labels_option(options: Mapping[str, Any], name: str) -> list[str] | None:
    value = options.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ModelError(f"[{name}] must be a non-empty list of strings")
    return list(value)


class TaskRuntime:
    """One loaded NLP task model.

    Args:
        runner: The graph (outputs: ``logits``, or ``start_logits`` and ``end_logits``).
        tokenizer: From ``tokenizer.json`` (its ``max_length`` bounds every window).
        spec: Task, labels, mask token.
        token_budget: Max ``batch x longest window`` per graph call.
    """

    def __init__(
        self,
        runner: GraphRunner,
        tokenizer: TextTokenizer,
        spec: TaskSpec,
        *,
        token_budget: int = 2048,
    ) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.spec = spec
        self.token_budget = token_budget
        self._raw = tokenizer.raw
        first = self._raw.post_process(self._raw.encode("", add_special_tokens=False))
        self._cls_id = first.ids[0] if first.ids else -1
        self._continuing = bool(getattr(self._raw.model, "continuing_subword_prefix", None))
        self._unk: str | None = getattr(self._raw.model, "unk_token", None)
        if spec.function is FunctionName.FILL_MASK:
            token = spec.mask_token
            mask_id = self._raw.token_to_id(token) if token else None
            if mask_id is None:
                raise ModelError(f"the tokenizer has no mask token ({token or 'none configured'})")
            self.mask_id: int = int(mask_id)

    @property
    def function(self) -> FunctionName:
        return self.spec.function

    # ---- public API ---------------------------------------------------------------------

    def infer(
        self, texts: Sequence[str], options: Mapping[str, Any] | None = None
    ) -> list[JSONObject]:
        """One Elastic-shaped result per text with ``options`` (the task's inference_config).

        Raises:
            ModelError: an unknown or invalid option, a missing required one (QA ``question``,
                zero-shot ``labels``), a fill-mask text without exactly one mask token, or a
                text too long with ``truncate: none``.
        """
        opts = dict(options or {})
        allowed = TASK_OPTIONS[self.function]
        unknown = [k for k in opts if k not in allowed]
        if unknown:
            raise ModelError(
                f"{self.function.value} does not take option(s) [{', '.join(unknown)}]; "
                f"options: {', '.join(allowed)}"
            )
        items = check_texts(texts)
        tokenization = Tokenization.parse(opts.get("tokenization"))
        if not items:
            return []
        field = opts.get("results_field", DEFAULT_RESULTS_FIELD)
        if not isinstance(field, str) or not field:
            raise ModelError("[results_field] must be a non-empty string")
        if self.function is FunctionName.NER:
            return self._ner(
                items, tokenization, field, _labels_option(opts, "classification_labels")
            )
        if self.function is FunctionName.FILL_MASK:
            top = _int_option(opts, "num_top_classes", 0, -1)
            return self._fill_mask(items, tokenization, field, top)
        if self.function is FunctionName.TEXT_CLASSIFICATION:
            top = _int_option(opts, "num_top_classes", 0, -1)
            labels = _labels_option(opts, "classification_labels")
            return self._classify(items, tokenization, field, top, labels)
        if self.function is FunctionName.ZERO_SHOT_CLASSIFICATION:
            return self._zero_shot(items, tokenization, field, opts)
        question = opts.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ModelError("question_answering needs [question], a non-empty string")
        top = _int_option(opts, "num_top_classes", 0, 0)
        longest = _int_option(opts, "max_answer_length", 15, 1)
        return self._answer(question, items, tokenization, field, top, longest)

    # ---- tokenization -------------------------------------------------------------------

    def _too_long(self, length: int) -> ModelError:
        return ModelError(
            f"Input too large. The tokenized input length [{length}] exceeds the maximum "
            f"sequence length [{self.tokenizer.max_length}]"
        )

    def _finish(self, first: Any, second: Any = None) -> Window:
        """Add the special tokens to one sequence or a pair, keeping the original offsets."""
        enc = self._raw.post_process(first, second)
        parts = {0: iter(first.offsets), 1: iter(second.offsets if second is not None else [])}
        offsets = [
            (0, 0) if seq is None or special else next(parts[seq])
            for seq, special in zip(enc.sequence_ids, enc.special_tokens_mask, strict=True)
        ]
        return Window(enc, [(int(a), int(b)) for a, b in offsets])

    def _encode(self, texts: Sequence[str]) -> list[Any]:
        """Each text's encoding without special tokens, in one ``encode_batch`` call (the
        tokenizer's own threads, no per-text Python round trip)."""
        return list(self._raw.encode_batch(list(texts), add_special_tokens=False))

    def _windows(
        self, text: str, tokenization: Tokenization, raw: Any = None
    ) -> tuple[list[Window], bool]:
        """Encodings of one text (special tokens added): one, or overlapping windows.
        ``raw``: the text's encoding without special tokens, if already made (it is cut in
        place when the text is too long)."""
        if raw is None:
            raw = self._raw.encode(text, add_special_tokens=False)
        room = self.tokenizer.max_length - self._raw.num_special_tokens_to_add(False)
        if len(raw.ids) <= room:
            return [self._finish(raw)], False
        if tokenization.truncate == "none":
            raise self._too_long(len(raw.ids) + self._raw.num_special_tokens_to_add(False))
        if tokenization.span >= 0 and self.function is not FunctionName.FILL_MASK:
            stride = min(tokenization.span, room - 1)
            raw.truncate(room, stride=stride)
            pieces = [raw, *raw.overflowing]
            return [self._finish(p) for p in pieces], False
        raw.truncate(room)
        return [self._finish(raw)], True

    def _pair(
        self,
        first: str,
        second: str,
        tokenization: Tokenization,
        stride: int | None = None,
        encoded: tuple[Any, Any] | None = None,
    ) -> tuple[list[Window], bool]:
        """``(first, second)`` encoded as a pair; ``stride`` windows the second (QA context),
        otherwise truncation cuts the first (zero-shot premise) or per ``truncate``.
        ``encoded``: both encodings without special tokens, if already made (shared between
        pairs: they are only read; a pair that must be cut encodes its own copies)."""
        specials = self._raw.num_special_tokens_to_add(True)
        if encoded is not None:
            a, b = encoded
            if len(a.ids) + len(b.ids) + specials <= self.tokenizer.max_length:
                return [self._finish(a, b)], False
        a = self._raw.encode(first, add_special_tokens=False)
        b = self._raw.encode(second, add_special_tokens=False)
        total = len(a.ids) + len(b.ids) + specials
        if total <= self.tokenizer.max_length:
            return [self._finish(a, b)], False
        if tokenization.truncate == "none":
            raise self._too_long(total)
        if stride is not None:  # question answering: the question stays whole
            room = self.tokenizer.max_length - specials - len(a.ids)
            if room < 1:
                raise ModelError(
                    f"the question alone ({len(a.ids)} tokens) leaves no room for the context "
                    f"in {self.tokenizer.max_length} tokens"
                )
            if stride >= 0:
                b.truncate(room, stride=min(stride, room - 1))
                pieces = [b, *b.overflowing]
                return [self._finish(a, p) for p in pieces], False
            b.truncate(room)
            return [self._finish(a, b)], True
        cut, keep = (b, a) if tokenization.truncate == "second" else (a, b)
        room = self.tokenizer.max_length - specials - len(keep.ids)
        if room < 1:
            raise self._too_long(total)
        cut.truncate(room)
        return [self._finish(a, b)], True

    def _run(
        self, encodings: Sequence[Window], token_rank: int = 2
    ) -> list[list[npt.NDArray[np.float32]]]:
        """Every output of the graph for each encoding (its row of the batch). An output of
        rank >= ``token_rank`` (0: none) whose axis 1 is the batch's width has one row per
        token: each encoding's rows lose their padding."""
        results: list[list[npt.NDArray[np.float32]]] = [[] for _ in encodings]
        lengths = [len(e.ids) for e in encodings]
        for idx in plan_tight_batches(lengths, self.token_budget):
            batch = self.tokenizer.pad([encodings[i] for i in idx])
            outputs = self.runner.run(batch.feed(self.runner.input_names))
            width = batch.input_ids.shape[1]
            for _, array in outputs:
                per_token = 0 < token_rank <= array.ndim and array.shape[1] == width
                values = np.asarray(array, dtype=np.float32)
                for row, i in enumerate(idx):
                    results[i].append(values[row, : lengths[i]] if per_token else values[row])
        return results

    # ---- tasks --------------------------------------------------------------------------

    def _label_names(self, override: list[str] | None) -> tuple[str, ...]:
        if override is None:
            return self.spec.labels
        if len(override) != len(self.spec.labels):
            raise ModelError(
                f"[classification_labels] has {len(override)} labels but the model has "
                f"{len(self.spec.labels)} classes"
            )
        return tuple(override)

    def _flatten(
        self, texts: list[str], tokenization: Tokenization
    ) -> tuple[list[Window], list[int], list[bool]]:
        encodings: list[Window] = []
        owner: list[int] = []
        truncated: list[bool] = []
        for i, (text, raw) in enumerate(zip(texts, self._encode(texts), strict=True)):
            windows, cut = self._windows(text, tokenization, raw)
            encodings.extend(windows)
            owner.extend([i] * len(windows))
            truncated.append(cut)
        return encodings, owner, truncated

    def _ner(
        self,
        texts: list[str],
        tokenization: Tokenization,
        field: str,
        override: list[str] | None,
    ) -> list[JSONObject]:
        labels = self._label_names(override)
        encodings, owner, truncated = self._flatten(texts, tokenization)
        found: list[list[JSONObject]] = [[] for _ in texts]
        windows = [0] * len(texts)
        for enc, i, outputs in zip(encodings, owner, self._run(encodings, 3), strict=True):
            logits = outputs[0]
            self._check_classes(logits.shape[-1], labels)
            probs = heads.softmax(logits)
            tokens = self._token_scores(texts[i], enc, probs)
            found[i].extend(heads.ner_entities(texts[i], tokens, labels))
            windows[i] += 1
        results = []
        for i, text in enumerate(texts):
            entities = heads.merge_overlapping(found[i]) if windows[i] > 1 else found[i]
            result: JSONObject = {field: heads.annotate(text, entities), "entities": entities}
            results.append(_mark(result, truncated[i]))
        return results

    def _token_scores(
        self, text: str, window: Window, probs: npt.NDArray[np.float32]
    ) -> list[heads.TokenScores]:
        enc = window.encoding
        unk = self._unk
        out = []
        for j, (token, (start, end), special) in enumerate(
            zip(enc.tokens, window.offsets, enc.special_tokens_mask, strict=True)
        ):
            if special:
                continue
            if self._continuing:  # WordPiece: a token is a continuation if it is "##..."
                subword = len(text[start:end]) != len(token)
            else:  # BPE / Unigram: a token not preceded by a space continues the word
                subword = start > 0 and " " not in text[start - 1 : start + 1]
            if unk is not None and token == unk:
                subword = False
            out.append(heads.TokenScores(int(start), int(end), probs[j], bool(subword)))
        return out

    def _check_classes(self, classes: int, labels: Sequence[str]) -> None:
        if classes != len(labels):
            raise ModelError(
                f"the model's head gives {classes} classes but its label map has {len(labels)}"
            )

    def _fill_mask(
        self, texts: list[str], tokenization: Tokenization, field: str, top: int
    ) -> list[JSONObject]:
        encodings, _, truncated = self._flatten(texts, tokenization)
        positions = []
        for i, enc in enumerate(encodings):
            where = [j for j, t in enumerate(enc.ids) if t == self.mask_id]
            if len(where) != 1:
                raise ModelError(
                    f"fill_mask needs exactly one mask token {self.spec.mask_token} in the "
                    f"text, found {len(where)} in text {i}"
                )
            positions.append(where[0])
        results = []
        for i, (enc, at, outputs) in enumerate(
            zip(encodings, positions, self._run(encodings, 3), strict=True)
        ):
            logits = outputs[0]  # (vocab,): the mask token's row; (L, vocab) from task1 zips
            probs = heads.softmax(logits[at] if logits.ndim == 2 else logits)
            order = heads.top_indices(probs, probs.shape[0] if top < 0 else max(top, 1))
            names = [self._raw.decode([int(t)], skip_special_tokens=False) for t in order]
            best = int(order[0])
            ids = list(enc.ids)
            ids[at] = best
            result: JSONObject = {
                field: names[0],
                "prediction_probability": float(probs[best]),
                "predicted_sequence": self._raw.decode(ids, skip_special_tokens=True),
            }
            if top:
                result["top_classes"] = [
                    {**heads.class_entry(name, float(probs[t])), "token_id": int(t)}
                    for name, t in zip(names, order, strict=True)
                ]
            results.append(_mark(result, truncated[i]))
        return results

    def _classify(
        self,
        texts: list[str],
        tokenization: Tokenization,
        field: str,
        top: int,
        override: list[str] | None,
    ) -> list[JSONObject]:
        labels = self._label_names(override)
        encodings, owner, truncated = self._flatten(texts, tokenization)
        sums: list[Any] = [None] * len(texts)
        counts = [0] * len(texts)
        for i, outputs in zip(owner, self._run(encodings, 0), strict=True):
            logits = outputs[0].reshape(-1)
            self._check_classes(logits.shape[0], labels)
            probs = heads.text_classification_probs(logits, self.spec.problem_type)
            sums[i] = probs if sums[i] is None else sums[i] + probs
            counts[i] += 1
        return [
            _mark(
                heads.classification_result(
                    np.asarray(sums[i] / counts[i], dtype=np.float32), labels, top, field
                ),
                truncated[i],
            )
            for i in range(len(texts))
        ]

    def _nli_ids(self, labels: Sequence[str]) -> tuple[int, int]:
        lowered = [label.lower() for label in labels]
        entail = [i for i, name in enumerate(lowered) if name.startswith("entail")]
        if not entail:
            raise ModelError(
                "zero_shot_classification needs an NLI model whose label map has an "
                f"'entailment' class; its labels are {list(labels)}"
            )
        contra = [i for i, name in enumerate(lowered) if name.startswith("contradict")]
        entailment = entail[-1]
        return entailment, (contra[0] if contra else (-1 if entailment == 0 else 0))

    def _zero_shot(
        self, texts: list[str], tokenization: Tokenization, field: str, opts: Mapping[str, Any]
    ) -> list[JSONObject]:
        candidates = _labels_option(opts, "labels")
        if candidates is None:
            raise ModelError("zero_shot_classification needs [labels], the candidate labels")
        template = opts.get("hypothesis_template", DEFAULT_HYPOTHESIS)
        if not isinstance(template, str) or "{}" not in template:
            raise ModelError("[hypothesis_template] must be a string with a {} placeholder")
        multi = opts.get("multi_label", False)
        if not isinstance(multi, bool):
            raise ModelError("[multi_label] must be true or false")
        nli = self._label_names(_labels_option(opts, "classification_labels"))
        entailment, contradiction = self._nli_ids(nli)
        encodings: list[Window] = []
        truncated = []
        hypotheses = [template.format(label) for label in candidates]
        premises = self._encode(texts)
        encoded_hypotheses = self._encode(hypotheses)
        for text, premise in zip(texts, premises, strict=True):
            cut = False
            for hypothesis, encoded in zip(hypotheses, encoded_hypotheses, strict=True):
                (enc,), was_cut = self._pair(
                    text, hypothesis, tokenization, encoded=(premise, encoded)
                )
                encodings.append(enc)
                cut = cut or was_cut
            truncated.append(cut)
        logits = np.stack([o[0].reshape(-1) for o in self._run(encodings, 0)])
        self._check_classes(logits.shape[1], nli)
        results = []
        for i in range(len(texts)):
            rows = logits[i * len(candidates) : (i + 1) * len(candidates)]
            probs = heads.zero_shot_probs(rows, entailment, contradiction, multi)
            result = heads.classification_result(probs, candidates, -1, field)
            results.append(_mark(result, truncated[i]))
        return results

    def _answer(
        self,
        question: str,
        texts: list[str],
        tokenization: Tokenization,
        field: str,
        top: int,
        longest: int,
    ) -> list[JSONObject]:
        encodings: list[Window] = []
        owner: list[int] = []
        truncated = []
        (encoded_question,) = self._encode([question])
        for i, (text, context) in enumerate(zip(texts, self._encode(texts), strict=True)):
            windows, cut = self._pair(
                question, text, tokenization, stride=tokenization.span,
                encoded=(encoded_question, context),
            )  # fmt: skip
            encodings.extend(windows)
            owner.extend([i] * len(windows))
            truncated.append(cut)
        found: list[list[tuple[float, int, int]]] = [[] for _ in texts]
        for enc, i, outputs in zip(encodings, owner, self._run(encodings, 2), strict=True):
            if len(outputs) < 2:
                raise ModelError(
                    "a QUESTION_ANSWERING model returns start and end logits (two outputs); "
                    f"this one returns {len(outputs)}"
                )
            context = np.array([s == 1 for s in enc.encoding.sequence_ids], dtype=bool)
            cls = np.array([t == self._cls_id for t in enc.ids], dtype=bool)
            spans = heads.answer_spans(
                outputs[0].reshape(-1),
                outputs[1].reshape(-1),
                context,
                top_k=max(top, 1),
                max_answer_length=longest,
                cls=cls,
            )
            for span in spans:
                if span.score <= 0.0:  # the "no answer" position
                    continue
                found[i].append((span.score, enc.offsets[span.start][0], enc.offsets[span.end][1]))
        results = []
        for i, text in enumerate(texts):
            ranked = sorted(found[i], key=lambda f: -f[0])
            if not ranked:
                results.append(_mark({field: "", "prediction_probability": 0.0}, truncated[i]))
                continue
            score, start, end = ranked[0]
            result: JSONObject = {
                field: text[start:end],
                "start_offset": start,
                "end_offset": end,
                "prediction_probability": score,
            }
            if top:
                result["top_classes"] = [
                    {"answer": text[s:e], "score": p, "start_offset": s, "end_offset": e}
                    for p, s, e in ranked[:top]
                ]
            results.append(_mark(result, truncated[i]))
        return results


def _mark(result: JSONObject, truncated: bool) -> JSONObject:
    if truncated:
        result["is_truncated"] = True
    return result
