"""params.yaml, read strictly: every stage checks what it reads before doing any work.

Each section's schema is a pydantic model, kept with the code it configures (data/params.py, model/params.py,
report/params.py). A value that does not fit fails in a second, in one line that names the key, the value and
what is allowed; an unknown key gets the nearest known one as a suggestion. Every number must be finite, and
every YAML spelling of a float reads as one (`1e-05` included, which YAML 1.1 would read as a string).
"""

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mnist_dvc.core.errors import ParamsError

Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
Schema = TypeVar("Schema", bound=BaseModel)


class Section(BaseModel):
    """A section of params.yaml: no unknown keys, no values of another type, no NaN or infinity; read-only."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, but for floats, which it reads the YAML 1.2 way: 1e-05 and 2E3 are numbers."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping safely, with a one-line error for a missing or broken file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; run from the project root") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """A YAML mapping read from text as load_yaml reads a file (floats the YAML 1.2 way); source names it in errors."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ParamsError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, found {type(data).__name__}")
    _check_keys(data, source)
    return data


def _check_keys(node: object, path: Path | str, where: str = "") -> None:
    """Every key a name: YAML allows `1:` or `null:` as keys, which no schema has, nor any message can spell."""
    if isinstance(node, dict):
        for key, child in node.items():
            if not isinstance(key, str):
                inside = f" in {where}" if where else ""
                raise ParamsError(f"{path}: key {key!r}{inside} is not a name; expected a string key")
            _check_keys(child, path, f"{where}.{key}".lstrip("."))
    elif isinstance(node, list):
        for item in node:
            _check_keys(item, path, where)


def compose(target: Path, overrides: list[str] = (), root: Path = Path(".")) -> None:
    """Write target as `dvc exp run -S OVERRIDE...` writes params.yaml: composed from root/conf/ (the defaults,
    the model family, a recipe) by DVC's own Hydra composition, then the overrides applied."""
    from dvc.utils.hydra import compose_and_dump

    root = Path(root).resolve()
    compose_and_dump(target, str(root / "conf"), None, "config", str(root), list(overrides))


def read_params(path: Path, schema: type[Schema]) -> Schema:
    """The sections of params.yaml that schema names (a model whose fields are sections, and seed), checked."""
    data = load_yaml(path)
    return validate({key: data[key] for key in schema.model_fields if key in data}, schema, str(path))


def read_all_params(path: Path, schema: type[Schema]) -> Schema:
    """All of params.yaml, checked against schema, which names every section: a key at the top that it does not
    name (a misspelt section) is refused too, with the nearest section as a suggestion."""
    return validate(load_yaml(path), schema, str(path))


def validate(data: dict[str, Any], schema: type[Schema], source: str) -> Schema:
    """data checked against schema; a ParamsError in one line, naming the first problem, if it does not fit."""
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ParamsError(f"{source}: {describe(error.errors()[0], schema.model_json_schema())}") from None


def describe(error: dict, schema: dict) -> str:
    """One pydantic error in the words of params.yaml: the dotted key, the value and what is allowed.

    What is allowed is read from the schema as JSON Schema, which spells out every type, bound and choice.
    """
    keys, node = _at(schema, error["loc"])
    key, value = ".".join(keys), repr(error.get("input"))
    if error["type"] == "extra_forbidden":
        return f"unknown key {key}; {_suggestion(schema, key, node)}"
    if error["type"] == "value_error":  # a combination of values that the schema's own checks refuse
        return error["msg"]
    if error["type"].startswith("union_tag"):  # the key that picks the member: train.model.family
        key, value = f"{key}.{node['discriminator']['propertyName']}", repr(error["ctx"].get("tag"))
        node = {"enum": list(node["discriminator"]["mapping"])}
    if error["type"] in ("missing", "union_tag_not_found"):
        return f"{key} is missing; expected {expected(schema, node)}"
    return f"{key} = {value}; expected {expected(schema, node)}"


def expected(schema: dict, node: dict) -> str:
    """What a value must be, in words: 'an integer >= 1', 'one of: max, average, none'."""
    node = _deref(schema, node)
    if "anyOf" in node:  # an optional value: what it must be when given
        return " or ".join(expected(schema, option) for option in node["anyOf"] if option.get("type") != "null")
    if "discriminator" in node:
        return f"a mapping with {node['discriminator']['propertyName']}: one of " + ", ".join(
            node["discriminator"]["mapping"]
        )
    if "properties" in node:
        return "a mapping of: " + ", ".join(node["properties"])
    if node.get("type") == "object":
        return f"a {'non-empty ' if node.get('minProperties') else ''}mapping"
    if "enum" in node:
        return "one of: " + ", ".join(map(str, node["enum"]))
    if node.get("type") == "array":
        items = re.sub(r"^an? (\w+)", r"\1s", expected(schema, node["items"]))
        return f"a {'non-empty ' if node.get('minItems') else ''}list of {items}"
    symbols = {"exclusiveMinimum": ">", "minimum": ">=", "exclusiveMaximum": "<", "maximum": "<="}
    bounds = " and ".join(f"{symbol} {_number(node[bound])}" for bound, symbol in symbols.items() if bound in node)
    kinds = {"boolean": "true or false", "string": "a non-empty string", "integer": "an integer", "number": "a number"}
    return f"{kinds.get(node.get('type'), 'a value')} {bounds}".rstrip()


def _number(bound: float) -> str:
    """A bound as params.yaml would write it: 4294967295 rather than 4.29497e+09, 0.5 rather than 0.500000."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _deref(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _at(schema: dict, loc: tuple) -> tuple[list[str], dict]:
    """The keys of params.yaml that an error's location names, and the schema found there (for an unknown key,
    the mapping it is in).

    Pydantic puts the tag of a tagged union into the location (train.model.cnn.filters); params.yaml has no such
    key, so it is left out.
    """
    keys: list[str] = []
    node = parent = schema
    for part in loc:
        node = _deref(schema, node)
        mapping = node.get("discriminator", {}).get("mapping", {})
        if part in mapping:
            node = {"$ref": mapping[part]}
        elif isinstance(part, int):
            keys[-1], node = f"{keys[-1]}[{part}]", node.get("items", {})
        else:
            keys.append(str(part))
            parent, node = node, node.get("properties", {}).get(part)
    return keys, _deref(schema, node if node is not None else parent)


def _suggestion(schema: dict, key: str, mapping: dict) -> str:
    """What to write instead of an unknown key: a close spelling beside it, the same name elsewhere, or what the
    mapping it is in holds."""
    known = _keys(schema, schema)
    if key in known:  # a key of another member of a tagged union: a param of another model family
        return f"it is a param of {known[key]}, not of the one chosen"
    section, _, name = key.rpartition(".")
    close = difflib.get_close_matches(name, mapping.get("properties", {}), n=1, cutoff=0.6)
    elsewhere = [other for other in known if other.rpartition(".")[2] == name]
    if close or elsewhere:
        return f"did you mean {f'{section}.{close[0]}'.lstrip('.') if close else elsewhere[0]}?"
    return "expected one of: " + ", ".join(sorted(mapping.get("properties", {})))


def _keys(schema: dict, node: dict, prefix: str = "", member: str = "") -> dict[str, str]:
    """Every dotted key the schema knows, with the tagged-union member it is a key of ('family cnn'), if any."""
    node = _deref(schema, node)
    found: dict[str, str] = {}
    for tag, ref in node.get("discriminator", {}).get("mapping", {}).items():
        found.update(_keys(schema, {"$ref": ref}, prefix, f"{node['discriminator']['propertyName']} {tag}"))
    for name, child in node.get("properties", {}).items():
        found |= {f"{prefix}{name}": member, **_keys(schema, child, f"{prefix}{name}.", member)}
    return found
