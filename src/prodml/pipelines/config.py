"""A pipeline's config: one YAML tree, overridden from the command line with
``-s train.max_depth=8`` (the value read as YAML: ``8`` is a number, ``[1, 2]`` a
list, ``'8'`` text, and a date such as ``2013-04-01`` its text, as in the file: the
config is stored as JSON). Overriding a key the file does not have is refused, since
it is most often a typo; ``-s +train.new_key=1`` adds one on purpose. A key that holds
a dot (a column such as ``Solar.R``) is quoted: ``-s 'impute."Solar.R"=mean'``."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from prodml import yaml_text
from prodml.domain.run import flatten_config
from prodml.errors import ECHOED, InvalidInputError, echoed

SEED_KEYS = ("seed", "random_state", "random_seed")


def override(config: Mapping[str, Any], settings: Iterable[str]) -> dict[str, Any]:
    """``config`` with each ``KEY=VALUE`` applied in order; the input is left alone."""
    result: dict[str, Any] = _plain(copy.deepcopy(dict(config)))
    for setting in settings:
        path, value = _split(setting)
        adding = path.startswith("+")
        keys = key_parts(path.removeprefix("+"))
        place = result
        for depth, key in enumerate(keys[:-1]):
            nested = place.get(key)
            if nested is None and adding:
                nested = place[key] = {}
            if nested is not None and not isinstance(nested, dict):
                raise InvalidInputError(_not_mapping(setting, keys[: depth + 2], nested))
            if not isinstance(nested, dict):
                raise InvalidInputError(_unknown(setting, keys[: depth + 1], result, keys))
            place = nested
        if keys[-1] not in place and not adding:
            raise InvalidInputError(_unknown(setting, keys, result, keys))
        if keys[-1] in place and adding:
            raise InvalidInputError(
                f"Override {echoed(setting)} adds {joined(keys)}, which the config already "
                f"has (= {place[keys[-1]]!r:.40}). Set it without the '+': "
                f"-s {_again(setting.strip().lstrip('+'), 'KEY=VALUE')}."
            )
        place[keys[-1]] = _plain(value)
    return result


def key_parts(path: str) -> list[str]:
    """The keys of the dotted ``path``, a key quoted where it holds a dot
    (``impute."Solar.R"`` is ``["impute", "Solar.R"]``). ValueError for a quote left open."""
    parts: list[str] = []
    current, quote = "", ""
    for char in path:
        if quote:
            current, quote = (current, "") if char == quote else (current + char, quote)
        elif char in "\"'" and not current:
            quote = char
        elif char == ".":
            parts, current = [*parts, current], ""
        else:
            current += char
    if quote:
        raise ValueError(f"the quote {quote} is not closed")
    return [*parts, current]


def joined(keys: list[str]) -> str:
    """Keys as one dotted path, those holding a dot quoted: what :func:`key_parts` reads."""
    return ".".join(f'"{key}"' if "." in key or "=" in key else key for key in keys)


def texts(values: Iterable[str] | str, what: str, example: str) -> list[str]:
    """``values`` as a list of text, one text being one item (never its characters);
    ``what`` and ``example`` name the argument and an item in errors."""
    if isinstance(values, str):
        return [values]
    try:
        items = list(values)
    except TypeError:
        raise InvalidInputError(
            f"{what} is {values!r:.40}; give a list of text, e.g. [{example!r}]."
        ) from None
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInputError(
                f"{what}[{index}] is {item!r:.40} ({type(item).__name__}); give text, "
                f"e.g. {example!r}."
            )
    return items


def config_slice(
    config: Mapping[str, Any], path: str, step: str, named: bool = False
) -> dict[str, Any]:
    """The mapping at dotted ``path``: empty when the tree has none, unless the step
    ``named`` the path itself (``config: train.model``), where a missing one is a typo."""
    place: Any = config
    for key in path.split("."):
        if not isinstance(place, Mapping) or key not in place:
            if not named:
                return {}
            known = ", ".join(sorted(flatten_config(dict(config)))[:20]) or "none"
            raise InvalidInputError(
                f"Step {step!r} takes the config at {path!r}, which the config does not "
                f"have (keys: {known}). Fix the step's config: or add {path} to the config."
            )
        place = place[key]
    if not isinstance(place, Mapping):
        raise InvalidInputError(
            f"Step {step!r} takes the config at {path!r}, which is {place!r:.40}, not a "
            "mapping. Point the step's config: at a mapping of its arguments."
        )
    return dict(place)


def seeded(config: Mapping[str, Any]) -> bool:
    """Whether a config slice sets a seed (``seed``, ``random_state``, ``*_seed``)."""
    return any(
        key.rsplit(".", 1)[-1] in SEED_KEYS or key.endswith("_seed")
        for key in flatten_config(dict(config))
    )


def canonical(value: Any) -> str:
    """The text a value's digest is taken over: equal values, equal text."""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """``value`` with each YAML date (``2013-03-15`` unquoted) as its ISO text."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


def _split(setting: str) -> tuple[str, Any]:
    path, equals, text = _at_equals(setting)
    try:
        keys = key_parts(path.strip().lstrip("+"))
    except ValueError as error:
        raise InvalidInputError(
            f"Override {echoed(setting)}: {error}; quote a key that holds a dot whole, e.g. "
            "-s 'impute.\"Solar.R\"=mean'."
        ) from None
    if not equals or not path.strip().lstrip("+") or any(not k for k in keys):
        raise InvalidInputError(
            f"Override {echoed(setting)} is not KEY=VALUE; write e.g. -s train.max_depth=8."
        )
    if not text.strip():
        raise InvalidInputError(
            f"Override {echoed(setting)} has no value after '='. Give one "
            f"(-s {_again(path.strip(), 'KEY')}=8), or null for none "
            f"(-s {_again(path.strip(), 'KEY')}=null)."
        )
    return path.strip(), yaml_text.parse(text, f"The value of override {echoed(path.strip())}")


def _at_equals(setting: str) -> tuple[str, str, str]:
    """``setting`` split at its first ``=`` outside a quoted key (``a."b=c"=1``)."""
    quote = ""
    for index, char in enumerate(setting):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and (index == 0 or setting[index - 1] in ".+"):
            quote = char
        elif char == "=":
            return setting[:index], "=", setting[index + 1 :]
    return setting.partition("=")


def _listing(config: Mapping[str, Any], above: list[str] | None = None) -> list[str]:
    """Every leaf key of ``config``, spelled as an override takes it (dots quoted)."""
    found: list[str] = []
    for key, value in config.items():
        path = [*(above or []), str(key)]
        if isinstance(value, Mapping) and value:
            found += _listing(value, path)
        else:
            found.append(joined(path))
    return found


def _not_mapping(setting: str, keys: list[str], value: Any) -> str:
    """A key asked for inside a value that holds no keys (``-s train.depth.max=3``)."""
    above = joined(keys[:-1])
    return (
        f"Override {echoed(setting)}: {above} is {value!r:.40}, not a mapping, so it has no "
        f"key {echoed(keys[-1])}. Override {above} itself (-s {_again(above, 'KEY')}=VALUE)."
    )


def _unknown(setting: str, keys: list[str], config: Mapping[str, Any], typed: list[str]) -> str:
    """``keys`` (the start of the ``typed`` path) are not in the config."""
    spelled = _spelled(config, ".".join(typed))
    if spelled is not None and spelled != typed:  # typed unquoted, a key holds a dot
        value = setting.partition("=")[2].strip()
        return (
            f"Override {echoed(setting)}: a key on that path holds a dot; quote it whole: "
            f"-s '{_again(joined(spelled) + '=' + value, joined(spelled) + '=VALUE')}'."
        )
    known = ", ".join(sorted(_listing(config))[:20]) or "none"
    return (
        f"Override {echoed(setting)}: the config has no {echoed(joined(keys))} (keys: {known}). "
        f"Fix the name, or add a new key with -s +{_again(setting.lstrip('+'), 'KEY=VALUE')}."
    )


def _spelled(config: Mapping[str, Any], text: str) -> list[str] | None:
    """The keys of a path through ``config`` that, joined by dots, read ``text``."""
    for key, value in config.items():
        if str(key) == text:
            return [str(key)]
        if text.startswith(f"{key}.") and isinstance(value, Mapping):
            inside = _spelled(value, text[len(str(key)) + 1 :])
            if inside is not None:
                return [str(key), *inside]
    return None


def _again(typed: str, placeholder: str) -> str:
    """What a user typed, repeated in a suggestion when short enough to read."""
    return typed if len(typed) <= ECHOED else placeholder
