"""Every example in README.md and docs/ works as written (issue 12, item 4).

The fenced blocks of each page run in document order, in a temporary folder holding a copy of
``configs/``, as a reader with a clone of the repository would run them:

- ``python`` blocks are executed; the blocks of one page share one namespace;
- ``yaml`` blocks are validated with recframe's config loader: a run file (it has ``name``) as
  it is, a fragment as the section it shows, put into the quickstart run; those that read no
  file (built-in synthetic data) are then run with ``recframe run``;
- ``bash``, ``console``, ``shell`` and ``sh`` blocks: each line is a ``recframe`` command,
  run through :func:`recframe.cli.main`, that must exit 0; ``> FILE`` writes its output to FILE.

A block on the line after ``<!-- excerpt -->`` (or ``<!-- excerpt: why -->``; mkdocs renders the
comment invisibly) is only parsed: python compiled, YAML loaded. ``<!-- test-setup: COMMAND -->``
runs COMMAND at that point of the page, for a state an excerpt would have left (the README's
set-up runs the quickstart). Any other block that can't run fails, naming its page and line.
docs/plugins.md's python and yaml blocks are run by tests/test_plugin_guide.py, as plugin modules.

So that every page runs in seconds, the copied ``configs/`` and the run files shown use the
built-in synthetic data at a small size (:data:`SMALL`): the commands and code are the pages'
own, on less data. The engine guide's own checks (its plugin in a recommender and under the
similarity contract) are at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import textwrap
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from recframe import PluginRegistry, Recommender
from recframe.cli import main
from recframe.config import validate_run
from recframe.testing import SimilarityContract

# one pytest-xdist worker runs them all: docs/engine.md runs twice here (its page's test and the module fixture
# of the guide's plugin), and on a cold cache the engine kernels it calls compile once, not on both workers
pytestmark = pytest.mark.xdist_group("docs_examples")

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md"))]
LANGUAGES = {"python": "python", "yaml": "yaml", "bash": "shell", "console": "shell", "shell": "shell", "sh": "shell"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^`]*$")
EXCERPT = re.compile(r"^\s*<!--\s*excerpt\b.*-->\s*$")
SETUP = re.compile(r"^\s*<!--\s*test-setup:\s*(?P<command>.*?)\s*-->\s*$")
RUN_ELSEWHERE = {("docs/plugins.md", "python"), ("docs/plugins.md", "yaml")}
"""(page, language) pairs whose blocks another test runs: tests/test_plugin_guide.py."""
SMALL = {"n_users": 300, "n_items": 500}
"""Size of the synthetic data in the copied configs and the run files shown (item ids up to 499)."""
TINY = {"n_users": 100, "n_items": 60}
"""Size of the synthetic data of the quickstart run a fragment is put into (a sweep runs it often)."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a page (or a ``test-setup`` command, as a one-line shell block)."""

    page: str
    line: int
    """Line of the opening fence, 1-based."""
    language: str
    """``python``, ``yaml`` or ``shell``."""
    code: str
    excerpt: bool

    @property
    def where(self) -> str:
        """``page:line`` of the block."""
        return f"{self.page}:{self.line}"


def page_blocks(page: str) -> list[Block]:
    """Return the python, yaml and shell blocks of `page` and its ``test-setup`` commands, in order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        setup = SETUP.match(lines[number])
        if setup:
            blocks.append(Block(page, number + 1, "shell", setup["command"] + "\n", excerpt=False))
        fence = FENCE.match(lines[number])
        if not fence:
            number += 1
            continue
        end = next((j for j in range(number + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{page}:{number + 1}: the fenced block is never closed"
        language = LANGUAGES.get(fence["lang"].lower())
        if language:
            before = next((text for text in reversed(lines[:number]) if text.strip()), "")
            code = textwrap.dedent("\n".join(lines[number + 1 : end])) + "\n"
            blocks.append(Block(page, number + 1, language, code, excerpt=bool(EXCERPT.match(before))))
        number = end + 1
    return blocks


def shrink(config: dict[str, Any], size: Mapping[str, int] = SMALL) -> dict[str, Any]:
    """Return `config` with built-in synthetic data reduced to `size`."""
    data = config.get("data")
    if isinstance(data, Mapping) and data.get("type") == "synthetic":
        config = {**config, "data": {**data, **{key: value for key, value in size.items() if key in data}}}
    return config


def copy_configs(folder: Path) -> None:
    """Copy ``configs/`` into `folder`, with synthetic data sets at the small size."""
    (folder / "configs").mkdir()
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "type: synthetic" in text:
            for key, value in SMALL.items():
                text = re.sub(rf"\b{key}: \d+", f"{key}: {value}", text)
        (folder / "configs" / path.name).write_text(text, encoding="utf-8")


@contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    """Run the body with `folder` as the current directory."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class Reader:
    """A reader working through one page: one folder, one Python namespace, one command line."""

    def __init__(self, page: str, folder: Path, capsys: pytest.CaptureFixture[str] | None = None) -> None:
        self.page = page
        self.folder = folder
        self.capsys = capsys
        self.module = types.ModuleType(f"docs_{Path(page).stem.replace('-', '_')}")
        """The page's python blocks run in this module's namespace."""
        self.registry = PluginRegistry.from_environment(entry_points=False)
        quickstart = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text(encoding="utf-8"))
        self.base = shrink({**quickstart, "name": "example"}, TINY)

    def read(self, blocks: list[Block]) -> None:
        """Run every block of the page in order."""
        with working_directory(self.folder):
            for block in blocks:
                if block.excerpt:
                    self.parse(block)
                elif (block.page, block.language) not in RUN_ELSEWHERE:
                    getattr(self, f"run_{block.language}")(block)

    def parse(self, block: Block) -> None:
        """Check that an excerpt is at least valid Python or YAML."""
        if block.language == "python":
            compile("\n" * block.line + block.code, str(ROOT / block.page), "exec", dont_inherit=True)
        elif block.language == "yaml":
            yaml.safe_load(block.code)

    def run_python(self, block: Block) -> None:
        """Execute a python block in the page's namespace; tracebacks show the page's own lines."""
        code = compile("\n" * block.line + block.code, str(ROOT / block.page), "exec", dont_inherit=True)
        try:
            exec(code, self.module.__dict__)
        except Exception as exc:
            raise AssertionError(f"{block.where}: the python block fails: {exc!r}") from exc

    def run_yaml(self, block: Block) -> None:
        """Validate a run file or fragment, and run it if its data are the built-in synthetic ones."""
        shown = yaml.safe_load(block.code)
        assert isinstance(shown, dict), f"{block.where}: a yaml block shows a run file or its sections"
        config = shrink(shown if "name" in shown else {**self.base, **shown})
        validate_run(config, self.registry, source=block.where)
        if (config.get("data") or {}).get("type") != "synthetic":
            return  # it reads a file the reader has and the test has not: validated only
        path = Path(f"example-{block.line}.yaml")
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.command(f"recframe -q run {path} --output runs/example-{block.line}", block.where)

    def run_shell(self, block: Block) -> None:
        """Run each command line of a shell block."""
        for offset, line in enumerate(block.code.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                self.command(line, f"{block.page}:{block.line + offset}")

    def command(self, line: str, where: str) -> None:
        """Run one ``recframe`` command line and check that it exits 0."""
        words = shlex.split(line, comments=True)
        output = None
        if ">" in words and words.index(">") == len(words) - 2:
            output, words = words[-1], words[:-2]
        unrunnable = [w for w in words if w in {"|", "||", "&&", ";", "<", ">", "&"} or w.startswith("[")]
        assert words[:1] == ["recframe"] and not unrunnable, (
            f"{where}: {line.strip()!r} is not a recframe command this test can run; "
            "make it one, or mark the block <!-- excerpt -->"
        )
        assert self.capsys is not None, f"{where}: a command needs the captured output"
        self.capsys.readouterr()
        code = main(words[1:])
        out, err = self.capsys.readouterr()
        assert code == 0, f"{where}: {line.strip()!r} exited {code}:\n{err}"
        if output:
            Path(output).write_text(out, encoding="utf-8")


def read_page(page: str, folder: Path, capsys: pytest.CaptureFixture[str] | None = None) -> types.ModuleType:
    """Work through `page` in `folder`; return the module its python blocks ran in."""
    copy_configs(folder)
    reader = Reader(page, folder, capsys)
    reader.read(page_blocks(page))
    return reader.module


@pytest.mark.parametrize("page", PAGES)
def test_every_example_of_the_page_runs(page, tmp_path, capsys, monkeypatch):
    # charts are the report tests' business; without matplotlib a report takes a tenth of the time
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    read_page(page, tmp_path, capsys)


def test_the_pages_have_examples_and_excerpts_are_few():
    blocks = [block for page in PAGES for block in page_blocks(page)]
    assert len(blocks) > 40
    excerpts = [block.where for block in blocks if block.excerpt]
    assert len(excerpts) <= len(blocks) // 4, excerpts


def test_an_unrunnable_block_fails_naming_its_page_and_line(tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n```bash\nrecframe run configs/quickstart.yaml [--quiet]\n```\n", encoding="utf-8")
    (block,) = page_blocks(str(page))
    with pytest.raises(AssertionError, match=r"page\.md:4: 'recframe run configs/quickstart\.yaml \[--quiet\]' is not"):
        Reader(str(page), tmp_path, capsys).read([block])
    page.write_text("<!-- excerpt: a synopsis -->\n```bash\nrecframe run CONFIG [--quiet]\n```\n", encoding="utf-8")
    (block,) = page_blocks(str(page))
    assert block.excerpt
    Reader(str(page), tmp_path, capsys).read([block])


# docs/engine.md: the guide's plugin is registered and checked like the built-in backends


@pytest.fixture(scope="module")
def engine_guide(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The module docs/engine.md's python blocks ran in."""
    return read_page("docs/engine.md", tmp_path_factory.mktemp("engine"))


def test_the_engine_guide_has_its_examples():
    codes = [b.code for b in page_blocks("docs/engine.md") if b.language == "python"]
    assert len(codes) >= 6
    assert all("from recframe.engine import" in code for code in codes[:2])


def test_the_engine_guides_neighbours_are_as_printed(engine_guide):
    assert engine_guide.neighbours.tolist() == [[1, 4], [0, 3], [3, -1], [4, 2], [3, 0]]


def test_the_engine_guide_plugin_registers_and_runs_in_a_recommender(engine_guide):
    registry = PluginRegistry.from_environment(entry_points=False)
    registry.register(engine_guide, name=engine_guide.__name__, package="recframe-engine-guide", version="0.0")
    assert registry.get("similarity", "engine_cosine") is engine_guide.EngineCosineSimilarity
    rec = Recommender(similarity=engine_guide.EngineCosineSimilarity(k=2), registry=registry)
    rec.fit({"user": ["ann", "ann", "bob", "bob", "cy"], "item": ["a", "b", "a", "c", "b"]})
    # c's only neighbour is a (users {bob} and {ann, bob}: cosine 1/sqrt(2)); ann has a and b
    assert rec.recommend(["ann"]).to_dict() == {"ann": [("c", pytest.approx(2**-0.5))]}


def test_the_engine_guide_plugin_keeps_the_similarity_contract(engine_guide):
    class TestEngineCosine(SimilarityContract):
        component = engine_guide.EngineCosineSimilarity
        configs = [{"k": 3}, {"k": 5, "engine": "scipy", "max_memory_mb": 1}]

    contract = TestEngineCosine()
    names = [name for name in dir(contract) if name.startswith("test_")]
    assert names
    for name in names:
        getattr(contract, name)()
