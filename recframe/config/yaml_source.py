"""Reading a run file: the text, bounded YAML parsing, and the line of every key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from recframe.config.messages import PathKey, dotted
from recframe.errors import SHOWN_CHARACTERS, ConfigError, short_text
from recframe.interfaces import (
    INT64_MAX,
    expand_home,
    path_text_problem,
)


def user_path(text: str) -> Path:
    """Return a path the user typed (``--output``), checked and with ``~`` expanded like a path field.

    Raises
    ------
    ValueError
        If it is empty, holds a NUL character or is longer than
        :data:`~recframe.interfaces.MAX_PATH_LENGTH`, or its ``~`` names no known home folder.
    """
    problem = path_text_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return Path(expand_home(Path(text)))


MAX_CONFIG_BYTES = 10 * 1024 * 1024
"""Largest run file read (10 MB); a run file is a few kilobytes of YAML."""


def _file_kind(mode: int) -> str:
    """Name what a non-regular file is, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_config_text(path: Path) -> str:
    """Return the text of the run file `path`: a regular file of UTF-8 text, at most :data:`MAX_CONFIG_BYTES`.

    The file is opened without blocking and checked before anything is read, so a named pipe or
    a device such as ``/dev/zero`` is refused instead of hanging or filling memory.

    Raises
    ------
    ConfigError
        Naming the file and what is wrong with it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        msg = f"{path}: no such config file"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"{path}: can't read the config file: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        msg = f"{path}: can't read the config file: it is {_file_kind(mode)}; give a YAML run file (a regular file)"
        raise ConfigError(msg)
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            msg = f"{path}: can't read the config file: {exc.strerror or exc}"
            raise ConfigError(msg) from exc
    if len(data) > MAX_CONFIG_BYTES:
        msg = (
            f"{path}: can't read the config file: it is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MB; "
            "a run file is a few kilobytes of YAML, so this is likely not one"
        )
        raise ConfigError(msg)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"{path}:{line}: can't read the config file: byte {data[exc.start]:#04x} is not UTF-8; save it as UTF-8"
        raise ConfigError(msg) from None


def yaml_problem(exc: yaml.YAMLError, text: str = "") -> tuple[int | None, str]:
    """Return the 1-based line of a YAML error and a one-line description of it."""
    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return text.count("\n", 0, exc.position) + 1, f"{exc.reason}: {character!r}"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return None, short_text(" ".join(str(exc).split()), 2 * SHOWN_CHARACTERS)
    description = f"{short_text(problem, 2 * SHOWN_CHARACTERS)} (column {mark.column + 1}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        description += f", {short_text(context, SHOWN_CHARACTERS)}"
        if context_mark is not None and context_mark.line != mark.line:
            description += f" started on line {context_mark.line + 1}"
    return mark.line + 1, description + ")"


MAX_NESTING = 50
"""Deepest nesting of lists and mappings a run file (or a ``--set`` value) may have."""


MAX_VALUES = 100_000
"""Most values (scalars, lists and mappings, every alias expanded) a run file may hold."""


def check_yaml_bounds(text: str, source: str, *, with_line: bool = True) -> None:
    """Refuse a YAML document that nests too deeply or expands into too many values.

    One pass over the parser's events (no recursion, nothing built) counts how many values the
    document holds once every alias is expanded, so that a "billion laughs" alias bomb or
    thousands of nested brackets are refused before anything walks or validates them.

    Raises
    ------
    ConfigError
        Naming `source` and (`with_line`) the line where the limit was passed.
    yaml.YAMLError
        If the text is not valid YAML.
    """
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    stack: list[tuple[str | None, int]] = [(None, 0)]  # open collections: anchor, values so far
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        where = f"{source}:{event.start_mark.line + 1}" if with_line and event.start_mark else source
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            if any(open_anchor == name for open_anchor, _ in stack):
                msg = f"{where}: alias *{short_text(name)} refers to a list or mapping that contains it"
                raise ConfigError(msg)
            added = sizes.get(name, 1)  # an undefined alias is reported by the composer
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > MAX_NESTING:
                msg = (
                    f"{where}: lists and mappings nest more than {MAX_NESTING} levels deep here; "
                    "a run file needs only a few"
                )
                raise ConfigError(msg)
            stack.append((event.anchor, 1))
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            closed, added = stack.pop()
            if closed is not None:
                sizes[closed] = added
        elif isinstance(event, yaml.ScalarEvent):
            added = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        parent, count = stack[-1]
        stack[-1] = (parent, count + added)
        if count + added > MAX_VALUES:
            what = f"alias *{short_text(event.anchor or '')} expands" if isinstance(event, yaml.AliasEvent) else "grows"
            msg = (
                f"{where}: {what} the document past {MAX_VALUES} values (aliases counted as "
                "expanded); a run file needs far fewer, so this looks like a YAML alias bomb"
            )
            raise ConfigError(msg)


def parse_yaml(text: str, source: str) -> tuple[object, dict[PathKey, int], list[tuple[PathKey, int]]]:
    """Return the parsed document, :func:`line_index` and the repeated keys of a YAML text.

    The text is checked by :func:`check_yaml_bounds` first, then composed once: the values and
    the line index come from the same nodes.

    Raises
    ------
    ConfigError
        If the text is not valid YAML, or nests too deeply or expands into too many values.
    """
    try:
        check_yaml_bounds(text, source)
        loader = _RunFileLoader(text)
        try:
            root = loader.get_single_node()
            # index before constructing: construction merges `<<` keys into the nodes in place
            lines, duplicates, scalar_problems = _index_nodes(root)
            if scalar_problems:
                shown = [f"{source}:{line}: {dotted(path) + ': ' if path else ''}{problem}"
                         for path, line, problem in scalar_problems]
                raise ConfigError("\n".join(shown))
            raw = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except _UnreadableScalar as exc:  # where the walk does not look, such as inside a list used as a key
        where = "" if exc.problem_mark is None else f":{exc.problem_mark.line + 1}"
        msg = f"{source}{where}: {exc.problem}"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc, text)
        msg = f"{source}{'' if line is None else f':{line}'}: not valid YAML: {problem}"
        raise ConfigError(msg) from exc
    return raw, lines, duplicates


MAX_INT_CHARACTERS = 100
"""Longest integer a run file may write; integers beyond int64 are refused anyway, and Python
refuses to read integers of more than 4300 digits."""


_INT_TAG = "tag:yaml.org,2002:int"


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _scalar_problem(node: yaml.Node) -> str | None:
    """Return why a YAML scalar can't be read as its type (an integer too long), or ``None``."""
    if node.tag == _INT_TAG and isinstance(node.value, str) and len(node.value) > MAX_INT_CHARACTERS:
        return f"integer {short_text(node.value, 40)} is too long; integers must be within +-{INT64_MAX}"
    return None


class _UnreadableScalar(yaml.constructor.ConstructorError):
    """A scalar that is valid YAML but can't be read as its type (:func:`_scalar_problem`)."""


class _RunFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing integers too long to be read (see :data:`MAX_INT_CHARACTERS`)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        problem = _scalar_problem(node)
        if problem is not None:
            raise _UnreadableScalar(None, None, problem, node.start_mark)
        return super().construct_yaml_int(node)


_RunFileLoader.add_constructor(_INT_TAG, _RunFileLoader.construct_yaml_int)


def load_yaml_value(text: str, label: str) -> object:
    """Return the YAML value `text` (a ``--set`` value or a sweep entry), bounded like a run file.

    Raises
    ------
    ConfigError
        Starting with `label`, if it nests too deeply, expands into too many values, is not valid
        YAML or holds an integer too long to read.
    """
    if not text.strip():
        return None
    try:
        check_yaml_bounds(text, label, with_line=False)
        return yaml.load(text, Loader=_RunFileLoader)  # a safe loader
    except _UnreadableScalar as exc:
        msg = f"{label}: {exc.problem}"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        msg = f"{label}: the value is not valid YAML: {yaml_problem(exc, text)[1]}"
        raise ConfigError(msg) from exc


def line_index(text: str) -> dict[PathKey, int]:
    """Map each dotted path of a YAML document to the 1-based line where it is written."""
    check_yaml_bounds(text, "<config>")
    return _index_nodes(yaml.compose(text, Loader=yaml.SafeLoader))[0]


def _merged_keys(node: yaml.Node, depth: int = 0) -> list[str]:
    """Return the keys a ``<<`` merge value brings in: a mapping's keys, or those of a list of mappings."""
    sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
    keys: list[str] = []
    for source in sources:
        if isinstance(source, yaml.MappingNode) and depth < MAX_NESTING:
            for key_node, value_node in source.value:
                if key_node.tag == _MERGE_TAG:
                    keys.extend(_merged_keys(value_node, depth + 1))
                elif isinstance(key_node, yaml.ScalarNode):
                    keys.append(key_node.value)
    return keys


def _index_nodes(
    root: yaml.Node | None,
) -> tuple[dict[PathKey, int], list[tuple[PathKey, int]], list[tuple[PathKey, int, str]]]:
    """Return :func:`line_index`, the repeated mapping keys and the scalars that can't be read.

    Each repeated key comes with the line it first appeared on; keys brought in by a ``<<``
    merge are not repeats (the mapping's own key overrides them, as YAML says), and they are
    located at the ``<<`` line. Each unreadable scalar (:func:`_scalar_problem`) comes with its
    line and problem.

    Each node is visited once: a node reached again through an alias keeps the path where it
    was first written, so the walk stays linear in the size of the text.
    """
    index: dict[PathKey, int] = {}
    duplicates: list[tuple[PathKey, int]] = []
    scalar_problems: list[tuple[PathKey, int, str]] = []
    visited: set[int] = set()

    def check(node: yaml.Node, path: PathKey) -> None:
        problem = _scalar_problem(node) if isinstance(node, yaml.ScalarNode) else None
        if problem is not None:
            scalar_problems.append((path, node.start_mark.line + 1, problem))

    def walk(node: yaml.Node, path: PathKey) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            return
        visited.add(id(node))
        check(node, path)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            merges: list[tuple[int, yaml.Node]] = []
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    merges.append((line, value_node))
                    walk(value_node, (*path, "<<"))
                    continue
                check(key_node, path)
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<a list or mapping>"
                if key in seen:
                    duplicates.append(((*path, key), seen[key]))
                seen.setdefault(key, line)
                index[(*path, key)] = line
                walk(value_node, (*path, key))
                index[(*path, key)] = line
            for line, value_node in merges:
                for key in _merged_keys(value_node):
                    index.setdefault((*path, key), line)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index, duplicates, scalar_problems
