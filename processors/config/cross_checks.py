"""Cross-check an ingest pipeline against an index body (``mappings/``) and its models.

What each of our processors writes must land in a field that can hold it:

* ``text_embedding``: a ``knn_vector`` whose ``dimension`` is the model's
  ``embedding_dimension``. A list source (for example the chunks of an earlier
  ``text_chunking``) is written as ``[{"knn": vector}, ...]``, so its target must be ``nested``
  with a ``knn`` ``knn_vector`` subfield.
* ``sparse_encoding``: ``rank_features`` (for list sources: ``nested`` with a
  ``sparse_encoding`` ``rank_features`` subfield).
* ``text_chunking``: a list of strings, so ``text``/``keyword``-like or absent (dynamic mapping);
  with ``chunk_object_key`` a list of objects, so ``nested`` (or ``object``) or absent.

A plain ``object`` (not ``nested``) holding the list form is refused: the node accepts one
vector per field and document (``VectorValuesField "x.knn" appears more than once``), and
``rank_features`` refuses the same token twice, so any document with two items would fail.

Example:
    >>> problems = validate_against_mapping(spec, load_mapping(path), store.registration)
    ...                                                                  # doctest: +SKIP
    >>> check_against_mapping(Path("pipelines/ingest/demo-embed.yaml"),
    ...                       Path("mappings/combined.json"), store.registration)
    ...                                                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processors.config.ingest_body import IngestPipelineSpec, Step
from processors.errors import CrossReferenceError, NeuralpipeError
from processors.models.registration import FunctionName, ModelRegistration

JSONObject = dict[str, Any]
Registrations = Mapping[str, ModelRegistration] | Callable[[str], ModelRegistration]
"""Model id -> its ``_register`` body: a mapping, or a resolver such as
``ModelStore.registration`` (raising for unknown ids)."""

TEXT_TYPES = ("text", "keyword", "match_only_text", "wildcard", "search_as_you_type")
"""Field types that hold a list of chunk strings."""
LEAF_TYPE = {"text_embedding": "knn_vector", "sparse_encoding": "rank_features"}
LIST_KEY = {"text_embedding": "knn", "sparse_encoding": "sparse_encoding"}
FUNCTIONS = {
    "text_embedding": (FunctionName.TEXT_EMBEDDING,),
    "sparse_encoding": (FunctionName.SPARSE_ENCODING, FunctionName.SPARSE_TOKENIZE),
}
_STRINGS = "strings"
"""Shape of a field that an earlier text_chunking filled with a list of strings."""


@dataclass(frozen=True)
class MappingProblem:
    """One disagreement: where in the pipeline, which mapping field (may be empty), and what."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"{self.where} -> {self.field}: {self.message}"
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class _Found:
    field: JSONObject | None
    path: str
    dynamic: str


def validate_against_mapping(
    spec: IngestPipelineSpec, mapping_body: JSONObject, registrations: Registrations
) -> list[MappingProblem]:
    """Every problem of ``spec``'s targets against an index body, in pipeline order."""
    mappings = mapping_body.get("mappings", mapping_body)
    mappings = mappings if isinstance(mappings, dict) else {}
    shapes: dict[tuple[str, ...], str] = {}
    problems: list[MappingProblem] = []
    for index, step in enumerate(spec.steps):
        where = f"{spec.pipeline_id}.processors[{index}].{step.type_name}"
        if step.type_name == "text_chunking":
            problems.extend(_check_chunking(step, where, mappings, shapes))
        elif step.type_name in LEAF_TYPE:
            problems.extend(_check_inference(step, where, mappings, shapes, registrations))
    return problems


def check_against_mapping(
    pipeline_path: Path, mapping_path: Path, registrations: Registrations
) -> None:
    """Load both files; raise one :class:`CrossReferenceError` listing every problem."""
    from processors.config.ingest_body import load_ingest_pipeline
    from processors.opensearch.indices import load_mapping

    spec = load_ingest_pipeline(pipeline_path)
    problems = validate_against_mapping(spec, load_mapping(mapping_path), registrations)
    if problems:
        raise CrossReferenceError(format_problems(problems, pipeline_path, mapping_path))


def format_problems(problems: list[MappingProblem], pipeline_path: Path, mapping_path: Path) -> str:
    """``<pipeline file> vs <mapping file>: N problem(s)`` and one numbered line each."""
    lines = [
        f"  {n}. {pipeline_path}: {p.where}"
        + (f" -> {mapping_path}: {p.field}" if p.field else "")
        + f": {p.message}"
        for n, p in enumerate(problems, 1)
    ]
    head = f"{pipeline_path} vs {mapping_path}: {len(problems)} problem(s)"
    return "\n".join([head, *lines])


def registrations_in(models_dir: Path) -> Callable[[str], ModelRegistration]:
    """A resolver over ``<models_dir>/<model_id>.yaml|.yml|.json`` (no artifact needed)."""
    from processors.errors import ModelNotRegisteredError
    from processors.models.store import read_registration

    def resolve(model_id: str) -> ModelRegistration:
        for suffix in (".yaml", ".yml", ".json"):
            path = models_dir / f"{model_id}{suffix}"
            if path.is_file():
                return read_registration(path)
        raise ModelNotRegisteredError(
            f"model id [{model_id}] not found (no {models_dir / model_id}.yaml)"
        )

    return resolve


def _registration(registrations: Registrations, model_id: str) -> ModelRegistration | str:
    try:
        if callable(registrations):
            return registrations(model_id)
        return registrations[model_id]
    except KeyError:
        return f"model id [{model_id}] is not registered"
    except (NeuralpipeError, ValueError) as exc:  # ValueError: pydantic's invalid body
        return str(exc)


def _check_inference(
    step: Step,
    where: str,
    mappings: JSONObject,
    shapes: dict[tuple[str, ...], str],
    registrations: Registrations,
) -> Iterator[MappingProblem]:
    model_id = str(step.body["model_id"])
    reg = _registration(registrations, model_id)
    dimension: int | None = None
    if isinstance(reg, str):
        yield MappingProblem(f"{where}.model_id", "", reg)
    elif reg.function_name not in FUNCTIONS[step.type_name]:
        wanted = " or ".join(FUNCTIONS[step.type_name])
        message = f"model [{model_id}] is a {reg.function_name} model; {step.type_name} needs "
        yield MappingProblem(f"{where}.model_id", "", message + wanted)
    elif step.type_name == "text_embedding" and reg.model_config_ is not None:
        dimension = reg.model_config_.embedding_dimension
    for source, target, path in _inference_leaves(step.body["field_map"]):
        shape = shapes.get(source)
        if shape is not None and shape != _STRINGS:
            key = shape.split(":", 1)[1]
            message = (
                f'the source is a list of {{"{key}": chunk}} objects (text_chunking '
                "chunk_object_key): nothing would be embedded; use a nested field_map "
                f"{{{source[-1]}: {{{key}: <target>}}}}"
            )
            yield MappingProblem(f"{where}.{path}", "", message)
            continue
        found = _find(mappings, target)
        check = _Target(step.type_name, model_id, dimension, shape)
        yield from (MappingProblem(f"{where}.{path}", f, m) for f, m in check.problems(found))


def _inference_leaves(
    field_map: JSONObject,
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """``(source path, target path, option path)``; dotted keys are paths, as the plugin reads."""
    from processors.ingest.field_map import normalise_field_map

    def walk(fmap: JSONObject, prefix: tuple[str, ...]) -> Iterator[Any]:
        for key, spec in fmap.items():
            if isinstance(spec, dict):
                yield from walk(spec, (*prefix, key))
            else:
                path = ".".join(("field_map", *prefix, key))
                yield (*prefix, key), (*prefix, *str(spec).split(".")), path

    yield from walk(normalise_field_map(field_map), ())


@dataclass(frozen=True)
class _Target:
    """What one ``text_embedding``/``sparse_encoding`` leaf writes, checked against its field."""

    kind: str
    model_id: str
    dimension: int | None
    source_shape: str | None

    def problems(self, found: _Found) -> Iterator[tuple[str, str]]:
        leaf, key = LEAF_TYPE[self.kind], LIST_KEY[self.kind]
        nested_form = f"nested with a {leaf} subfield '{key}'"
        field, kind = found.field, _type_of(found.field)
        if field is None:
            want = nested_form if self.source_shape else f"{leaf} (or {nested_form} for lists)"
            message = f"not in the mapping (dynamic mapping never makes a {leaf}): map it as {want}"
        elif kind == leaf and self.source_shape:
            message = (
                f"is a {leaf}, but the source is a list (an earlier text_chunking's chunks): "
                f'{self.kind} writes [{{"{key}": ...}}, ...]; map it as {nested_form}'
            )
        elif kind == leaf:
            yield from self._dimension(field, found.path)
            return
        elif kind in ("nested", "object"):
            yield from self._list_form(field, found.path, kind)
            return
        else:
            message = (
                f"is of type [{kind}]; {self.kind} writes a {leaf}: map it as {leaf} "
                f"(or {nested_form} for list sources)"
            )
        yield found.path, message

    def _list_form(self, field: JSONObject, path: str, kind: str) -> Iterator[tuple[str, str]]:
        leaf, key = LEAF_TYPE[self.kind], LIST_KEY[self.kind]
        if kind == "object":
            message = (
                f'is an object: {self.kind} writes a list [{{"{key}": ...}}, ...] and an '
                f"object field holds one {leaf} value per document, so two items fail at "
                "indexing; use type nested"
            )
            yield path, message
        sub = (field.get("properties") or {}).get(key)
        if _type_of(sub) != leaf:
            found = f", found type [{_type_of(sub)}]" if sub is not None else ""
            message = f'list items are written as {{"{key}": ...}}: needs a {leaf} subfield'
            yield f"{path}.properties.{key}", f"{message} '{key}'{found}"
        elif isinstance(sub, dict):
            yield from self._dimension(sub, f"{path}.properties.{key}")

    def _dimension(self, field: JSONObject, path: str) -> Iterator[tuple[str, str]]:
        if self.kind != "text_embedding":
            return
        data_type = str(field.get("data_type", "float")).lower()
        if data_type != "float":
            yield path, f"data_type [{data_type}]: model [{self.model_id}] writes float vectors"
        got = field.get("dimension")
        if self.dimension is not None and str(got) != str(self.dimension):
            message = f"dimension {got} != {self.dimension}, the embedding_dimension of model"
            yield f"{path}.dimension", f"{message} [{self.model_id}]"


def _check_chunking(
    step: Step, where: str, mappings: JSONObject, shapes: dict[tuple[str, ...], str]
) -> Iterator[MappingProblem]:
    object_key = step.body.get("chunk_object_key")
    for prefix, source, target in _chunking_leaves(step.body["field_map"], ()):
        path = f"{where}.field_map.{'.'.join((*prefix, source))}"
        target_path = (*prefix, *str(target).split("."))
        shapes[target_path] = _STRINGS if object_key is None else f"objects:{object_key}"
        found = _find(mappings, target_path)
        if object_key is None:
            message = _chunk_field_problem(found, "a list of chunk strings")
            if message:
                yield MappingProblem(path, found.path, message)
            continue
        kind = _type_of(found.field)
        if found.field is None:
            message = _chunk_field_problem(found, "chunk objects")
            if message:
                yield MappingProblem(path, found.path, message)
            continue
        if kind not in ("nested", "object"):
            message = f"is of type [{kind}]; chunk_object_key writes objects: use nested or object"
            yield MappingProblem(path, found.path, message)
            continue
        inner = _find(found.field, (str(object_key),), found.dynamic)
        message = _chunk_field_problem(inner, "chunk strings")
        if message:
            yield MappingProblem(path, f"{found.path}.properties.{object_key}", message)


def _chunking_leaves(
    fmap: JSONObject, prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    for key, spec in fmap.items():
        if isinstance(spec, dict):
            yield from _chunking_leaves(spec, (*prefix, key))
        else:
            yield prefix, key, spec


def _chunk_field_problem(found: _Found, what: str) -> str | None:
    if found.field is None:
        if found.dynamic == "strict":
            return f"not in the mapping and dynamic is strict: indexing {what} would fail"
        return None
    kind = _type_of(found.field)
    if kind in TEXT_TYPES:
        return None
    return f"is of type [{kind}]; text_chunking writes {what}: map it as text or keyword"


def _type_of(field: Any) -> str:
    """A field's type; a mapping without ``type`` is an object."""
    return str(field.get("type") or "object") if isinstance(field, dict) else "none"


def _find(holder: JSONObject, parts: tuple[str, ...], inherited: str = "true") -> _Found:
    """The mapping of a dotted path (dotted property names included), or where it would be;
    ``dynamic`` is the setting in force where the field is (or would be created)."""
    path = "mappings"
    dynamic = str(holder.get("dynamic", inherited)).lower()
    rest = parts
    while rest:
        props = holder.get("properties") or {}
        for cut in range(len(rest), 0, -1):
            name = ".".join(rest[:cut])
            if isinstance(props.get(name), dict):
                holder, path, rest = props[name], f"{path}.properties.{name}", rest[cut:]
                break
        else:
            return _Found(None, f"{path}.properties.{'.'.join(rest)}", dynamic)
        if rest:
            dynamic = str(holder.get("dynamic", dynamic)).lower()
    return _Found(holder, path, dynamic)
