"""Catalogue files: read, validate against the format, build `Identity` records.

No numerics happen here. Every problem is a `CatalogueError` that names the
file, the key and the line. The keys of the format are data (gradcheck.schema), checked
before any expression is parsed; the rules between keys are checked here.
"""

from __future__ import annotations

import difflib
import errno
import functools
import math
import os
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradcheck import yamlsafe
from gradcheck.errors import (
    CatalogueError,
    ExpressionError,
    GradcheckError,
    Location,
    did_you_mean,
    printable,
)
from gradcheck.expr import Expr, parse
from gradcheck.functions import CONSTANTS, FUNCTIONS
from gradcheck.kinds import KINDS, shape_problem
from gradcheck.latex import Shape
from gradcheck.options import Limits
from gradcheck.schema import (
    CLAIM,
    CONVENTIONS,
    DIRECTION_KEYS,
    EXPECTS,
    FORM_SINCE,
    FORMS,
    IDENT_PATTERN,
    LAYOUTS,
    MAX_DIM,
    MAX_NDIM,
    NAME_PATTERN,
    PERTURBS,
    READ_OFF,
    STEP,
    TOP,
    VARIABLE,
    VERSIONS,
    VJP_CONVENTIONS,
    Key,
)
from gradcheck.tangents import TANGENTS

if TYPE_CHECKING:
    from gradcheck.supervisor import Lost


@dataclass(frozen=True)
class Variable:
    """An input (differentiated) or a constant (held fixed), and how to sample it."""

    name: str
    shape: tuple[str | int, ...]
    kind: str = "general"
    perturb: str | None = None  # the space its directions are restricted to (gradcheck.tangents)
    value: tuple[float, ...] | None = None  # a constant's given entries, row by row (format 2)
    below: str | int | None = None  # the bound of a constant of kind index (format 2)

    @property
    def symmetric_perturbation(self) -> bool:
        return self.perturb == "symmetric"

    @property
    def restricted(self) -> bool:
        """Whether its directions are restricted to a space (then not entry by entry)."""
        return self.perturb is not None

    def sized(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape for the given dimension sizes."""
        return tuple(dims[d] if isinstance(d, str) else d for d in self.shape)


@dataclass(frozen=True)
class Claim:
    """One claimed fact about the identity's function."""

    index: int  # 1-based position in the file
    form: str  # one of FORMS
    expr: Expr
    wrt: str | None = None
    layout: str | None = None
    label: str | None = None
    expect_fail: bool = False
    reason: str | None = None
    line: int | None = None
    # the name a vjp gives its cotangent, or a jvp its tangent (format 3)
    direction: str | None = None
    # for a chain (`equals: [a, b, c]`, format 3), the links after `expr`: f = a = b = c;
    # for a derivation, its steps after the first
    rest: tuple[Expr, ...] = ()
    by: tuple[str | None, ...] = ()  # a derivation's rule for each step, where it names one
    uses: tuple[str | None, ...] = ()  # the catalogue identity each step uses, where it names one
    read_off: Expr | None = None  # a derivation's derivative read off, in `layout`, wrt `wrt`
    blocks: tuple[str, ...] = ()  # a Hessian over several inputs (`wrt: [x, y]`, format 3), in order
    convention: str | None = None  # what a derivative wrt a complex input is (schema.CONVENTIONS, format 6)

    @property
    def source(self) -> str:
        """The claim's expression as written (a chain's links joined by ' = ')."""
        return " = ".join(e.source for e in self.links)

    @property
    def links(self) -> tuple[Expr, ...]:
        """Every expression of the claim in order (one, unless it is a chain)."""
        return (self.expr, *self.rest)

    def test_name(self) -> str:
        """Its name as a test: "claim 2: derivative wrt X (numerator)", or with its label
        (what pytest shows and what -k matches, in pytest and in `gradcheck run`)."""
        return f"claim {self.index}: {self.describe()}"

    def describe(self) -> str:
        """The label, or form + wrt + layout."""
        if self.label:
            return self.label
        if self.form == "derivation":
            read_off = f", read off wrt {self.wrt} ({self.layout})" if self.read_off is not None else ""
            return f"derivation ({len(self.links)} step{'s' if self.rest else ''}{read_off})"
        text = self.form
        if self.wrt:
            text += f" wrt {self.wrt}"
        if self.blocks:
            text += f" wrt [{', '.join(self.blocks)}]"
        if self.layout:
            text += f" ({self.layout})"
        if self.convention:
            text += f" ({self.convention})"
        if self.direction:
            text += f" ({'cotangent' if self.form == 'vjp' else 'tangent'} {self.direction})"
        if self.rest and self.form == "equals":
            text += f" (a chain of {len(self.links)})"
        return text


@dataclass(frozen=True)
class Identity:  # noqa: PLR0902 (a record)
    """A validated catalogue entry."""

    name: str
    path: str
    inputs: tuple[Variable, ...]
    function: Expr
    claims: tuple[Claim, ...]
    dims: Mapping[str, int] = field(default_factory=dict)
    constants: tuple[Variable, ...] = ()
    lets: tuple[tuple[str, Expr], ...] = ()
    title: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    latex: str = ""
    notes: str = ""
    # the line of the function ("function") and of each let ("let NAME"), for messages
    # about them found after loading (lint's shapes); claims carry their own
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    def input(self, name: str) -> Variable:
        return next(v for v in self.inputs if v.name == name)

    @property
    def entry(self) -> Entry:
        uses = tuple(Use(claim.index, k + 1, name, claim.line) for claim in self.claims
                     for k, name in enumerate(claim.uses) if name is not None)
        return Entry(self.name, self.path, uses)

    @property
    def complex_values(self) -> bool:
        """Whether an input or a constant is complex (format 6): its values are complex
        numbers, not a complex step through real ones."""
        return any(KINDS[v.kind].complex for v in (*self.inputs, *self.constants))

    @functools.cached_property
    def function_lets(self) -> tuple[tuple[str, Expr], ...]:
        """The lets the function depends on (directly or through other lets), in order:
        the only ones that must be evaluated again at a perturbed point."""
        needed = set(self.function.names)
        for name, expr in reversed(self.lets):
            if name in needed:
                needed |= expr.names
        return tuple((name, expr) for name, expr in self.lets if name in needed)

    def sizes(self, overrides: Mapping[str, int] | None = None, size: int | None = None) -> dict[str, int]:
        """Dimension sizes: the file's defaults, then `size` for all, then `overrides`."""
        dims = {name: (size if size is not None else n) for name, n in self.dims.items()}
        dims.update({k: v for k, v in (overrides or {}).items() if k in dims})
        return dims


@dataclass(frozen=True)
class Use:
    """A derivation step's `uses`: the identity it names, at step `step` (from 1) of
    claim `claim`, on `line` of its file."""

    claim: int
    step: int
    name: str
    line: int | None


@dataclass(frozen=True)
class Entry:
    """What settling a catalogue reads of an identity (see `settled`): its name, its file
    and the identities its derivations use. A run's parent holds these, a few hundred
    bytes each, where an identity with its claims' texts is some 13 kB."""

    name: str
    path: str
    uses: tuple[Use, ...] = ()


@dataclass(frozen=True)
class BadFile:
    """A catalogue file that could not be loaded, and why."""

    path: str
    error: CatalogueError
    name: str | None = None


@dataclass(frozen=True)
class Catalogue:
    identities: tuple[Identity, ...]
    bad_files: tuple[BadFile, ...] = ()


def bundled_catalogue() -> Path | None:
    """The catalogue installed with the package (or the source tree's identities/)."""
    here = Path(__file__).resolve().parent
    for path in (here / "identities", here.parents[1] / "identities"):  # installed, source tree
        if path.is_dir():
            return path
    return None


class NotFound(GradcheckError):
    """No identity of the name asked for, or no catalogue to look in (a usage error)."""


def default_paths() -> list[Path]:
    """Where identities are looked for when no path is given: ./identities, else the
    installed catalogue."""
    local = Path("identities")
    if local.is_dir():
        return [local]
    bundled = bundled_catalogue()
    if bundled is None:
        raise NotFound("no ./identities folder here and no installed catalogue; give a PATH")
    return [bundled]


def find_identity(name: str, places: Sequence[str | Path] | None = None, limits: Limits = Limits()) -> Identity:
    """The identity called `name` in the first of `places` that has it (by default
    ./identities, then the installed catalogue). A bad file of that name raises its own
    error; no identity of that name raises NotFound, with the closest name as a hint."""
    if Path(name).suffix in (".yaml", ".yml") and Path(name).is_file():  # a path to the file itself
        return load_file(name, limits)
    if places is None:
        places = [p for p in (Path("identities"), bundled_catalogue()) if p is not None and p.is_dir()]
    seen: list[str] = []
    for place in places:
        # a file named after the identity (as the catalogue names them) is read first, alone:
        # verify NAME need not load the whole catalogue
        by_file: Identity | None = None
        for path in sorted(Path(place).rglob(f"{Path(name).stem}.y*ml")):
            try:
                identity = load_file(path, limits)
            except CatalogueError:
                continue
            if identity.name == name:
                return identity
            by_file = by_file or identity
        catalogue = load_catalogue([place], limits)
        match = [i for i in catalogue.identities if i.name == name]
        if match:  # the name: key first; else the file of that name
            return match[0]
        if by_file is not None:
            return by_file
        bad = [b for b in catalogue.bad_files if b.name == name]
        if bad:
            raise bad[0].error
        seen += [i.name for i in catalogue.identities]
    searched = ", ".join(str(p) for p in places) or "no catalogue"
    raise NotFound(f"no identity named '{name}' in {searched}", hint=did_you_mean(name, seen))


@dataclass(frozen=True)
class Found:
    """What discovery found under the paths given: the files to read, and every path that
    looked like an identity file but is not read, with why (each becomes a row)."""

    files: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...] = ()


def discover(paths: Iterable[str | Path], follow_links: bool = False) -> Found:
    """The identity files named by `paths` (files, or folders searched recursively). Inside
    a folder, a symbolic link is followed only to a file inside that folder (or anywhere,
    with `follow_links`); a link out of it, a broken link or a loop is skipped with why.
    Whether a path is a regular file is decided when it is opened (`read_bounded`)."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        root = p.resolve()
        for f in sorted(p.rglob("*")):
            if f.suffix not in (".yaml", ".yml") or (f.is_dir() and not f.is_symlink()):
                continue  # a folder named a.yaml is searched as a folder
            why = _link_refusal(f, root, follow_links)
            if why:
                skipped.append((f, why))
            else:
                files.append(f)
    return Found(tuple(dict.fromkeys(files)), tuple(skipped))


def _link_refusal(path: Path, root: Path, follow_links: bool) -> str:
    """Why a symbolic link inside a folder is not followed, or "" (not a link, or a good one)."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13: a loop
        return "a symbolic link in a loop: not followed"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link in a loop: not followed"
        return "a broken symbolic link: not followed"
    if target.is_dir():
        return "a symbolic link to a folder: not followed"
    if not follow_links and not target.is_relative_to(root):
        return (f"a symbolic link out of {root}: not followed (its target is not read; "
                "--follow-links allows it)")
    return ""


MAX_READ_CHUNK = 1 << 20


def read_bounded(path: str | Path, limit: int) -> bytes:
    """A file's bytes, read only if it is a regular file of at most `limit` bytes. It is
    opened without blocking (a FIFO would wait for a writer forever) and without making a
    terminal ours, checked on the open descriptor (no race with a rename), and read with
    a bound (a file that grows, or /proc, is cut off at the limit and refused)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CatalogueError(f"not a regular file ({_file_type(info.st_mode)}): not read", Location(str(path)))
        if info.st_size > limit:  # refuse before reading a huge file into memory
            raise CatalogueError(f"file is {info.st_size:,} bytes, over the limit of {limit:,}", Location(str(path)))
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(MAX_READ_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise CatalogueError(f"file is over the limit of {limit:,} bytes", Location(str(path)))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


SIGNATURE = ("name", "inputs", "function", "claims")  # the keys every identity file has


def is_identity_file(path: str | Path, limits: Limits = Limits()) -> bool:
    """Whether a YAML file is an identity file (the pytest plugin collects those only, so
    that a CI config or a compose file in someone's project is left alone): its top level,
    as the loader reads it (a BOM, flow style, quoted keys), holds `name` and another key
    of the format, or a near miss of one (`clams:` is an identity file with a typo, which
    must fail, not vanish). A file that is not YAML at all counts when two of the keys
    start its lines. A FIFO or a device named like one counts (to be reported as such,
    unread); a file that cannot be opened, or is over the size limit, does not."""
    if Path(path).suffix not in (".yaml", ".yml"):
        return False
    try:
        text = read_bounded(path, limits.max_file_bytes).decode("utf-8-sig")
    except CatalogueError as exc:  # a FIFO or a device named like one: reported, never read
        return "not a regular file" in exc.message
    except (OSError, UnicodeDecodeError):
        return False
    try:
        top = yamlsafe.read(text, str(path), limits.max_file_bytes).data
    except CatalogueError:
        starts = {line.lstrip("{'\" ").split(":")[0].strip("'\" ") for line in text.splitlines()}
        return len(starts & set(SIGNATURE)) >= 2
    if not isinstance(top, dict):
        return False
    keys = {str(k) for k in top}
    near = {k for k in keys if difflib.get_close_matches(k, SIGNATURE[1:], n=1, cutoff=0.75)}
    return "name" in keys and bool(near)


LOADED_IN_WORKERS = 200  # files from which `load_files` reads them in worker processes


def load_catalogue(paths: Iterable[str | Path], limits: Limits = Limits(), follow_links: bool = False,
                   identity_files_only: bool = False) -> Catalogue:
    """Load every file under `paths`; bad files (and paths skipped, with why) are collected,
    never raised. With `identity_files_only`, a file that `is_identity_file` says is not one
    is left out (pre-commit hands over every YAML file of a repository)."""
    found = discover(paths, follow_links)
    if identity_files_only:
        found = Found(tuple(f for f in found.files if is_identity_file(f, limits)), found.skipped)
    return load_files(found, limits)


def load_files(found: Found, limits: Limits = Limits(), jobs: int = 1) -> Catalogue:
    """The catalogue of the files `found`, as `load_catalogue` makes it, the files read in
    `jobs` worker processes when there are LOADED_IN_WORKERS or more (`gradcheck list`: the
    catalogue's 705 files took 2.1 s of CPU to load, most of it parsing expressions and
    LaTeX). The identities come back with their expressions as text, parsed again only
    where one is evaluated. A file whose worker dies is a bad file saying so."""
    if jobs < 2 or len(found.files) < LOADED_IN_WORKERS:
        return assembled(found, [load_item(path, limits) for path in found.files])
    from gradcheck.supervisor import supervised

    return assembled(found, supervised(list(found.files), functools.partial(load_item, limits=limits),
                                       _lost_load, jobs=jobs, limit=None))


def _lost_load(path: Path, why: Lost) -> BadFile:
    error = CatalogueError(f"the process loading it died: {why.detail}", Location(str(path)))
    return BadFile(str(path), error, _guess_name(path))


def load_item(path: str | Path, limits: Limits = Limits()) -> Identity | BadFile:
    """One file of a catalogue: its identity, or the bad file it is."""
    try:
        return load_file(path, limits)
    except CatalogueError as exc:
        return BadFile(str(path), exc, _guess_name(path))


def assembled(found: Found, loaded: Iterable[Identity | BadFile]) -> Catalogue:
    """The catalogue that the files `loaded` (those of `found`, in its order) make: an
    identity whose name an earlier file has, or whose derivation `uses` an identity that no
    file holds, is a bad file; so is each path that discovery skipped (see `settled`)."""
    of: dict[int, Identity] = {}  # each entry's identity, by the entry's id (`entries` holds them)
    entries: list[Entry | BadFile] = []
    for item in loaded:
        entries.append(item.entry if isinstance(item, Identity) else item)
        if isinstance(item, Identity):
            of[id(entries[-1])] = item
    good, bad = settled(found, entries)
    return Catalogue(tuple(of[id(entry)] for entry in good), bad)


def settled(found: Found, loaded: Iterable[Entry | BadFile]) -> tuple[tuple[Entry, ...], tuple[BadFile, ...]]:
    """Which of the identities `loaded` (those of `found`, in its order) a catalogue keeps,
    and its bad files: an identity whose name an earlier file has, or whose derivation
    `uses` an identity that no file holds, is a bad file; so is each path that discovery
    skipped. Only the whole set can tell, and only names and uses decide: a run settles
    its identities' entries, not the identities (see gradcheck.checker.collected)."""
    entries: list[Entry] = []
    bad = [BadFile(str(path), CatalogueError(why, Location(str(path))), _guess_name(path))
           for path, why in found.skipped]
    seen: dict[str, str] = {}
    for item in loaded:
        if isinstance(item, BadFile):
            bad.append(item)
        elif item.name in seen:
            err = CatalogueError(f"duplicate identity name '{item.name}' (also in {seen[item.name]})",
                                 Location(item.path, "name"))
            bad.append(BadFile(item.path, err, item.name))
        else:
            seen[item.name] = item.path
            entries.append(item)
    good = []
    for entry in entries:  # a derivation step that uses an identity no file holds
        unknown = next((use for use in entry.uses if use.name not in seen), None)
        if unknown is None:
            good.append(entry)
        else:
            bad.append(BadFile(entry.path, _unknown_use(entry, unknown, seen), entry.name))
    return tuple(good), tuple(bad)


def _unknown_use(entry: Entry, use: Use, seen: Mapping[str, str]) -> CatalogueError:
    return CatalogueError(f"step {use.step} uses '{use.name}', which is not an identity of the catalogue",
                          Location(entry.path, f"claim {use.claim} step {use.step}.uses", use.line),
                          did_you_mean(use.name, list(seen)))


def _guess_name(path: str | Path) -> str:
    return Path(path).stem


def load_file(path: str | Path, limits: Limits = Limits()) -> Identity:
    """Read and validate one identity file."""
    file = str(path)
    try:
        raw = read_bounded(path, limits.max_file_bytes)
    except OSError as exc:
        raise CatalogueError(f"cannot read file ({exc.strerror or exc})", Location(file)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogueError("file is not UTF-8 text", Location(file)) from None
    return load_text(text, file, limits)


def load_text(text: str, file: str = "<string>", limits: Limits = Limits()) -> Identity:
    """Validate one identity given as YAML text; `file` names it in errors."""
    return _Loader(yamlsafe.read(text, file, limits.max_file_bytes), file, limits).identity()


def load_data(data: Mapping[str, Any], file: str) -> Identity:
    """Validate one identity given as plain data (as YAML would give it: strings, numbers,
    lists and mappings), e.g. built from the command line; `file` names it in errors."""
    return _Loader(yamlsafe.Document(dict(data), {}), file).identity()


class _Loader:
    """Checks one parsed document against the format and builds the Identity."""

    def __init__(self, doc: yamlsafe.Document, file: str, limits: Limits = Limits()) -> None:
        self.doc = doc
        self.file = file
        self.limits = limits
        self.tex_chars = 0  # LaTeX read so far, against limits.max_tex_chars
        self.deadline = time.monotonic() + limits.max_load_seconds
        self.version = 1
        # the shape of every name in scope, for LaTeX (format 4): what juxtaposition, |X|
        # and \mathbf{I} mean depends on it; None where it is not known (a Python let)
        self.shapes: dict[str, Shape] = {}
        self.last_shape: Shape = None  # the shape of the last LaTeX expression read
        self.complex_values = False  # an input or a constant is complex (format 6)
        self.complex_inputs: frozenset[str] = frozenset()

    def expression_lines(self, lets: Sequence[str]) -> dict[str, int]:
        found = {"function": self.doc.line(("function",)), **{f"let {n}": self.doc.line(("let", n)) for n in lets}}
        return {key: line for key, line in found.items() if line is not None}

    def where(self, *path: str | int, key: str | None = None) -> Location:
        label = key if key is not None else ".".join(str(p) for p in path) or "top level"
        return Location(self.file, label, self.doc.line(tuple(path)))

    def fail(self, message: str, *path: str | int, key: str | None = None, hint: str = "") -> CatalogueError:
        return CatalogueError(message, self.where(*path, key=key), hint)

    # -- structure -------------------------------------------------------

    def identity(self) -> Identity:
        data = self.doc.data
        if not isinstance(data, dict):
            raise self.fail(f"expected a mapping of keys at the top level, got {_type_name(data)}")
        self.check_keys(data, TOP, ())
        self.version = data.get("format", 1)
        if self.version not in VERSIONS:
            raise self.fail(f"unknown format {self.version}: expected one of {', '.join(map(str, VERSIONS))}",
                            "format")
        name = data["name"]
        if not NAME_PATTERN.fullmatch(name):
            raise self.fail(f"name '{name}' may use only a-z, 0-9, '_', '.' and '-'", "name")
        dims = self.dims(data.get("dims", {}))
        inputs = self.variables(data["inputs"], "inputs", dims)
        if not inputs:
            raise self.fail("at least one input is required", "inputs")
        constants = self.variables(data.get("constants", {}), "constants", dims)
        self.complex_inputs = frozenset(v.name for v in inputs if KINDS[v.kind].complex)
        self.complex_values = any(KINDS[v.kind].complex for v in (*inputs, *constants))
        self.check_names(dims, inputs, constants, data.get("let", {}))
        scope = {*dims, *(v.name for v in inputs), *(v.name for v in constants)}
        self.shapes = {**{d: () for d in dims}, **{v.name: v.shape for v in (*inputs, *constants)},
                       **{f"d{v.name}": v.shape for v in inputs}}
        lets = self.lets(data.get("let", {}), scope)
        scope |= {n for n, _ in lets}
        function = self.expression(data["function"], scope, "function")
        self.shapes["<f>"] = self.last_shape
        claims = self.claims(data["claims"], scope, inputs)
        return Identity(
            name=name, path=self.file, inputs=inputs, function=function, claims=claims,
            dims=dims, constants=constants, lets=lets, title=_line(data.get("title", "")),
            source=_line(data.get("source", "")), tags=tuple(_line(t) for t in data.get("tags", ())),
            latex=_line(data.get("latex", "")), notes=_line(data.get("notes", "")),
            lines=self.expression_lines([n for n, _ in lets]),
        )

    def check_keys(self, data: dict[str, Any], schema: Mapping[str, Key],
                   path: tuple[str | int, ...], what: str = "") -> None:
        for key in data:
            if key not in schema:
                where = Location(self.file, ".".join(map(str, path)) or "top level", self.doc.line((*path, key)))
                raise CatalogueError(f"unknown key '{key}'{what}", where, _unknown_key_hint(key, schema))
        for key, spec in schema.items():
            if spec.required and key not in data:
                raise self.fail(f"missing required key '{key}'{what}", *path)
        for key, value in data.items():
            self.check_type(value, schema[key].type, (*path, key))

    def check_type(self, value: Any, kind: str, path: tuple[str | int, ...]) -> None:
        ok = {
            "str": isinstance(value, str),
            "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "name|names": isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
            "map": isinstance(value, dict),
            "list": isinstance(value, list),
            "expr": _is_expression(value),
            "steps": isinstance(value, list) and bool(value) and all(
                isinstance(v, dict) or _is_expression(v) for v in value),
            "expr|chain": _is_expression(value) or (
                isinstance(value, list) and bool(value) and all(_is_expression(v) for v in value)),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "value": True,  # checked against the shape by `given_value`
            "below": True,  # checked by `index_bound`
        }[kind]
        if not ok:
            want = {"str": "text", "list[str]": "a list of text", "map": "a mapping", "list": "a list",
                    "expr": "an expression", "expr|chain": "an expression or a non-empty list of them",
                    "name|names": "a name or a list of names",
                    "steps": "a non-empty list of steps (expressions, or mappings with step and by)",
                    "int": "an integer", "value": "numbers",
                    "below": "a bound"}[kind]
            raise self.fail(f"expected {want}, got {_type_name(value)}", *path)

    def dims(self, raw: dict[str, Any]) -> dict[str, int]:
        for name, size in raw.items():
            if not IDENT_PATTERN.fullmatch(name):
                raise self.fail(f"dimension name '{name}' is not a valid name", "dims", name)
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_DIM:
                raise self.fail(f"dimension size must be an integer from 1 to {MAX_DIM:,}, got {size!r}",
                                "dims", name)
        return dict(raw)

    def variables(self, raw: dict[str, Any], section: str, dims: Mapping[str, int]) -> tuple[Variable, ...]:
        return tuple(self.variable(name, spec, section, dims) for name, spec in raw.items())

    def variable(self, name: str, spec: Any, section: str, dims: Mapping[str, int]) -> Variable:
        path = (section, name)
        if not IDENT_PATTERN.fullmatch(name):
            raise self.fail(f"'{name}' is not a valid variable name", *path)
        if not isinstance(spec, dict):
            raise self.fail(f"expected a mapping with 'shape', got {_type_name(spec)}", *path)
        self.check_keys(spec, VARIABLE, path)
        shape = self.shape(spec["shape"], (*path, "shape"), dims)
        kind = spec.get("kind", "general")
        if kind not in KINDS:
            raise self.fail(f"unknown kind '{kind}'", *path, "kind",
                            hint=did_you_mean(kind, KINDS) or f"expected one of {', '.join(KINDS)}")
        self.check_kind(kind, shape, (*path, "kind"))
        since = KINDS[kind].since
        if since > self.version:
            raise self.fail(f"kind '{kind}' needs format {since}", *path, "kind",
                            hint=f"add 'format: {since}' at the top of the file")
        value = self.given_value(spec, section, shape, path) if "value" in spec else None
        below = self.index_bound(spec, section, kind, dims, path)
        perturb = spec.get("perturb")
        if perturb is not None:
            if KINDS[kind].complex:
                raise self.fail(f"'perturb' does not apply to kind {kind}: a complex input moves freely",
                                *path, "perturb")
            self.check_perturb(perturb, section, kind, shape, path)
        return Variable(name, shape, kind, perturb, value, below)

    def check_perturb(self, perturb: str, section: str, kind: str, shape: tuple[str | int, ...],
                      path: tuple[str | int, ...]) -> None:
        if section != "inputs":
            raise self.fail("'perturb' applies to inputs only", *path, "perturb")
        known = PERTURBS if self.version >= 3 else PERTURBS[:1]
        if perturb not in known:
            later = " (the others need format 3)" if perturb in PERTURBS else ""
            raise self.fail(f"unknown perturb '{perturb}': expected one of {', '.join(known)}{later}", *path, "perturb",
                            hint=did_you_mean(perturb, known) or "")
        tangent = TANGENTS[perturb]
        if tangent.square and (len(shape) != 2 or shape[0] != shape[1]):
            raise self.fail(f"'perturb: {perturb}' needs a square shape", *path, "perturb")
        if len(shape) != 2:
            raise self.fail(f"'perturb: {perturb}' needs a matrix shape [m, n]", *path, "perturb")
        if tangent.needs_kind and kind != tangent.needs_kind:
            raise self.fail(f"'perturb: {perturb}' needs kind {tangent.needs_kind}: its directions depend on "
                            "the point", *path, "perturb")

    def index_bound(self, spec: dict[str, Any], section: str, kind: str, dims: Mapping[str, int],
                    path: tuple[str | int, ...]) -> str | int | None:
        """The `below` of a constant of kind index: a dimension name or a positive integer."""
        below = spec.get("below")
        if kind != "index":
            if below is not None:
                raise self.fail("'below' applies to kind index only", *path, "below")
            return None
        if section != "constants":
            raise self.fail("an index cannot be differentiated: give it under constants", *path, "kind")
        if below is None:
            raise self.fail("kind index needs 'below', the number of values (a dimension or an integer)",
                            *path, "kind")
        if isinstance(below, str):
            if below not in dims:
                raise self.fail(f"dimension '{below}' is used but not declared in dims", *path, "below",
                                hint=did_you_mean(below, dims) or "add it under dims:")
        elif isinstance(below, bool) or not isinstance(below, int) or not 1 <= below <= MAX_DIM:
            raise self.fail(f"'below' must be a dimension name or an integer from 1 to {MAX_DIM:,}, got {below!r}",
                            *path, "below")
        return below

    def given_value(self, spec: dict[str, Any], section: str, shape: tuple[str | int, ...],
                    path: tuple[str | int, ...]) -> tuple[float, ...]:
        """A constant's `value`: numbers nested as its shape, which must be all integers."""
        where = (*path, "value")
        if self.version < 2:
            raise self.fail("'value' needs format 2", *where, hint="add 'format: 2' at the top of the file")
        if section != "constants":
            raise self.fail("'value' applies to constants only (inputs are sampled)", *where)
        if "kind" in spec:
            raise self.fail("give 'kind' or 'value', not both", *where)
        if not all(isinstance(d, int) for d in shape):
            raise self.fail("a constant with a 'value' needs a shape of integers, not dimension names "
                            "(a --size would change it)", *where)
        entries = _flatten(spec["value"], [int(d) for d in shape])
        if entries is None:
            raise self.fail(f"'value' must be numbers nested as the shape {list(shape)}", *where)
        if not all(math.isfinite(e) for e in entries):
            raise self.fail("'value' must be finite numbers", *where)
        return tuple(entries)

    def shape(self, raw: list[Any], path: tuple[str | int, ...], dims: Mapping[str, int]) -> tuple[str | int, ...]:
        most = MAX_NDIM if self.version >= 6 else 2
        if len(raw) > most:
            later = " before format 6" if self.version < 6 and len(raw) <= MAX_NDIM else ""
            raise self.fail(f"shape has {len(raw)} dimensions; at most {most} are supported{later}", *path,
                            hint="add 'format: 6' at the top of the file" if later else "")
        for d in raw:
            if isinstance(d, str):
                if d not in dims:
                    raise self.fail(f"dimension '{d}' is used but not declared in dims", *path,
                                    hint=did_you_mean(d, dims) or "add it under dims:")
            elif isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= MAX_DIM:
                raise self.fail(f"shape entries must be dimension names or positive integers, got {d!r}", *path)
        return tuple(raw)

    def check_kind(self, kind: str, shape: tuple[str | int, ...], path: tuple[str | int, ...]) -> None:
        problem = shape_problem(kind, shape)
        if problem:
            raise self.fail(problem, *path)

    def check_names(self, dims: Mapping[str, int], inputs: Sequence[Variable],
                    constants: Sequence[Variable], lets: Mapping[str, Any]) -> None:
        seen: dict[str, str] = {}
        reserved = {f"d{v.name}" for v in inputs}
        groups = [("dims", list(dims)), ("inputs", [v.name for v in inputs]),
                  ("constants", [v.name for v in constants]), ("let", list(lets))]
        for section, names in groups:
            for name in names:
                if name in FUNCTIONS or name in CONSTANTS:
                    raise self.fail(f"'{name}' is a built-in name and cannot be redefined", section, name)
                if name in reserved:
                    raise self.fail(f"'{name}' is reserved for the direction of input '{name[1:]}'",
                                    section, name)
                if name in seen:
                    raise self.fail(f"'{name}' is declared twice (in {seen[name]} and {section})", section, name)
                seen[name] = section

    # -- expressions -----------------------------------------------------

    def expression(self, raw: Any, scope: set[str], *path: str | int, key: str | None = None,
                   extra: Iterable[str] = (), extra_shapes: Mapping[str, Shape] | None = None) -> Expr:
        """An expression of the file: Python syntax, or from format 4 LaTeX ({tex: ...}),
        translated into the same language first. `extra`: direction names it may use."""
        self.last_shape = None
        if time.monotonic() > self.deadline:
            raise self.fail(f"reading the file's expressions took over {self.limits.max_load_seconds:g} s", *path,
                            key=key)
        tex = raw["tex"] if isinstance(raw, dict) else ""
        if isinstance(tex, str) and tex:
            self.tex_chars += len(tex)
            if self.tex_chars > self.limits.max_tex_chars:
                raise self.fail(f"the file's LaTeX is over {self.limits.max_tex_chars:,} characters", *path, key=key,
                                hint="split the identity, or write the long expressions in Python syntax")
        if tex:
            raw = self.from_tex(tex, scope, tuple(extra), extra_shapes or {}, *path, key=key)
        try:
            expr = replace(parse(raw, scope, extra_names=tuple(extra)), tex=tex)
        except ExpressionError as exc:
            raise exc.located(self.where(*path, key=key)) from None
        newer = [(FUNCTIONS[n].since, n) for n in sorted(expr.calls) if FUNCTIONS[n].since > self.version]
        newer += [(2, "indexing (X[i, j])")] if "subscript" in expr.syntax and self.version < 2 else []
        newer += [(5, "d(...) of an expression")] if "differential" in expr.syntax and self.version < 5 else []
        newer += [(6, what) for syntax, what in (("imaginary", "an imaginary number (2j)"),
                                                 ("conjugate transpose", "the conjugate transpose (.H)"))
                  if syntax in expr.syntax and self.version < 6]
        if "differential" in expr.syntax and self.complex_values:
            raise self.fail("d(...) is computed by a complex step, which complex inputs rule out", *path, key=key,
                            hint="write the differential out with the directions (dZ)")
        if newer:
            since, what = max(newer)
            raise self.fail(f"{what} needs format {since}", *path, key=key,
                            hint=f"add 'format: {since}' at the top of the file")
        return expr

    def from_tex(self, tex: str, scope: set[str], extra: tuple[str, ...], extra_shapes: Mapping[str, Shape],
                 *path: str | int, key: str | None = None) -> str:
        """LaTeX translated into the expression language (gradcheck.latex), shapes from the file."""
        if self.version < 4:
            raise self.fail("LaTeX ({tex: ...}) needs format 4", *path, key=key,
                            hint="add 'format: 4' at the top of the file")
        from gradcheck.latex import TexError, translate

        visible = {n: s for n, s in self.shapes.items() if n in scope or n in extra}
        visible.update({n: s for n, s in extra_shapes.items() if n in extra})
        visible.update({n: None for n in extra if n not in visible})
        try:
            source, self.last_shape = translate(tex, visible)
        except TexError as exc:
            raise self.fail(f"LaTeX: {exc}", *path, key=key) from None
        return source

    def lets(self, raw: dict[str, Any], scope: set[str]) -> tuple[tuple[str, Expr], ...]:
        out: list[tuple[str, Expr]] = []
        visible = set(scope)
        for name, source in raw.items():
            if not IDENT_PATTERN.fullmatch(name):
                raise self.fail(f"'{name}' is not a valid name", "let", name)
            self.check_type(source, "expr", ("let", name))
            out.append((name, self.expression(source, visible, "let", name, key=f"let {name}")))
            self.shapes[name] = self.last_shape
            visible.add(name)
        return tuple(out)

    def claims(self, raw: list[Any], scope: set[str], inputs: Sequence[Variable]) -> tuple[Claim, ...]:
        if not raw:
            raise self.fail("at least one claim is required", "claims")
        return tuple(self.claim(i, spec, scope, inputs) for i, spec in enumerate(raw))

    def claim(self, i: int, spec: Any, scope: set[str], inputs: Sequence[Variable]) -> Claim:
        path, key = ("claims", i), f"claim {i + 1}"
        if not isinstance(spec, dict):
            raise self.fail(f"expected a mapping, got {_type_name(spec)}", *path, key=key)
        for k in spec:
            if k not in CLAIM:
                raise self.fail(f"unknown key '{k}'", *path, k, key=key, hint=_unknown_key_hint(k, CLAIM))
        for k, value in spec.items():
            self.check_type(value, CLAIM[k].type, (*path, k))
        forms = [f for f in FORMS if f in spec]
        if len(forms) != 1:
            found = " and ".join(forms) if forms else "none"
            raise self.fail(f"a claim needs exactly one of {', '.join(FORMS)}; found {found}", *path, key=key)
        form = forms[0]
        if FORM_SINCE.get(form, 1) > self.version:
            raise self.fail(f"a {form} claim needs format {FORM_SINCE[form]}", *path, key=key,
                            hint=f"add 'format: {FORM_SINCE[form]}' at the top of the file")
        wrt, layout = self.claim_target(spec, form, path, key, inputs)
        convention = self.claim_convention(spec, form, wrt, path, key)
        direction = self.claim_direction(spec, form, path, key, scope, inputs)
        expect_fail, reason = self.claim_expectation(spec, path, key)
        extra = [f"d{v.name}" for v in inputs] if form in ("differential", "second_differential") else []
        extra += [direction] if direction else []
        shapes: dict[str, Shape] = {}
        if direction and isinstance(wrt, str):  # a cotangent has f's shape, a tangent its input's
            shapes[direction] = self.shapes.get("<f>") if form == "vjp" else self.shapes.get(wrt)
        if "read_off" in spec and form != "derivation":
            raise self.fail(f"'read_off' does not apply to a {form} claim", *path, "read_off", key=f"{key}.read_off")
        if form == "derivation":
            return self.derivation(i, spec, scope, inputs, expect_fail, reason)
        raw = spec[form]
        if isinstance(raw, list) and self.version < 3:
            raise self.fail(f"a chain of {form} (a list) needs format 3", *path, form, key=key,
                            hint="add 'format: 3' at the top of the file")
        links = tuple(self.expression(source, scope, *path, form, j, key=f"{key} link {j + 1}", extra=extra,
                                      extra_shapes=shapes)
                      for j, source in enumerate(raw)) if isinstance(raw, list) else ()
        expr = links[0] if links else self.expression(raw, scope, *path, form, key=key, extra=extra,
                                                      extra_shapes=shapes)
        label = _line(spec["label"]) if "label" in spec else None
        blocks = tuple(spec["wrt"]) if isinstance(spec.get("wrt"), list) else ()
        if len(blocks) == 1:  # a list of one is that input
            wrt, blocks = blocks[0], ()
        return Claim(i + 1, form, expr, wrt, layout, label, expect_fail, reason and _line(reason),
                     self.doc.line(path), direction, links[1:], blocks=blocks, convention=convention)

    def claim_convention(self, spec: dict[str, Any], form: str, wrt: Any, path: tuple[str | int, ...],
                         key: str) -> str | None:
        """What a derivative or a vjp with respect to a complex input states (format 6); a
        second-order claim on a complex input is refused (not supported)."""
        convention = spec.get("convention")
        targets = set(wrt) if isinstance(wrt, list) else {wrt} if wrt else set(self.complex_inputs)
        on_complex = bool(targets & self.complex_inputs)
        if on_complex and form in ("hessian", "second_differential", "hvp"):
            raise self.fail(f"a {form} claim on a complex input is not supported", *path, key=key,
                            hint="state the first differential, or split Z into real inputs X and Y")
        if convention is None:
            if on_complex and form in ("derivative", "vjp"):
                choices = CONVENTIONS if form == "derivative" else VJP_CONVENTIONS
                raise self.fail(f"a {form} with respect to complex {wrt} needs 'convention' "
                                f"({', '.join(choices)})", *path, key=key,
                                hint="see 'Complex values' in docs/format.md")
            return None
        # a vjp's convention also says how a real input pairs with a complex f's cotangent
        if not (form == "vjp" and self.version >= 6) and not (form == "derivative" and on_complex):
            raise self.fail("'convention' applies to a vjp, or to a derivative with respect to a complex input",
                            *path, "convention", key=f"{key}.convention")
        choices = CONVENTIONS if form == "derivative" else VJP_CONVENTIONS
        if convention not in choices:
            raise self.fail(f"unknown convention '{convention}' for a {form}: expected one of {', '.join(choices)}",
                            *path, "convention", key=f"{key}.convention",
                            hint=did_you_mean(str(convention), choices) or "")
        return str(convention)

    def derivation(self, i: int, spec: dict[str, Any], scope: set[str], inputs: Sequence[Variable],
                   expect_fail: bool, reason: str | None) -> Claim:
        """Steps, each an expression (or {step, by}) in the inputs and their directions, and
        an optional derivative read off the last."""
        path, key = ("claims", i, "derivation"), f"claim {i + 1}"
        extra = [f"d{v.name}" for v in inputs]
        steps, by, uses = [], [], []
        for j, raw in enumerate(spec["derivation"]):
            where, step_key = (*path, j), f"{key} step {j + 1}"
            if isinstance(raw, dict) and not _is_expression(raw):  # {step, by, uses}, not {tex}
                self.check_keys(raw, STEP, where)
                by.append(_line(raw["by"]) if "by" in raw else None)
                uses.append(raw.get("uses"))
                if uses[-1] is not None and not NAME_PATTERN.fullmatch(uses[-1]):
                    raise self.fail(f"'uses' names an identity, and '{uses[-1]}' is not an identity name",
                                    *where, "uses", key=f"{step_key}.uses")
                raw = raw["step"]
            else:
                by.append(None)
                uses.append(None)
            steps.append(self.expression(raw, scope, *where, key=step_key, extra=extra))
        self.check_step_kinds(steps, extra, path, key)
        read_off = spec.get("read_off")
        wrt = layout = expr = None
        if read_off is not None:
            where_off: tuple[str | int, ...] = ("claims", i, "read_off")
            self.check_keys(read_off, READ_OFF, where_off)
            wrt, layout = read_off["wrt"], read_off["layout"]
            if wrt not in {v.name for v in inputs}:
                raise self.fail(f"wrt '{wrt}' is not an input", *where_off, "wrt", key=f"{key} read_off.wrt",
                                hint=did_you_mean(wrt, [v.name for v in inputs])
                                or f"inputs are {', '.join(v.name for v in inputs)}")
            if layout not in LAYOUTS:
                raise self.fail(f"unknown layout '{layout}': expected numerator or denominator", *where_off, "layout",
                                key=f"{key} read_off.layout")
            if wrt in self.complex_inputs:
                raise self.fail(f"reading a derivative off with respect to complex {wrt} is not supported",
                                *where_off, "wrt", key=f"{key} read_off.wrt",
                                hint="state it as a derivative claim with a convention")
            expr = self.expression(read_off["derivative"], scope, *where_off, "derivative", key=f"{key} read_off")
        label = _line(spec["label"]) if "label" in spec else None
        return Claim(i + 1, "derivation", steps[0], wrt, layout, label, expect_fail, reason and _line(reason),
                     self.doc.line(("claims", i)), None, tuple(steps[1:]), tuple(by), tuple(uses), read_off=expr)

    def check_step_kinds(self, steps: Sequence[Expr], directions: Sequence[str], path: tuple[str | int, ...],
                         key: str) -> None:
        """All steps differentials (with a direction d<input>) or all values: a value among
        differentials is a step of the wrong kind (a constant such as 0 fits either)."""
        moving = [e.moves(directions) for e in steps]
        if not any(moving):
            return
        for j, (e, m) in enumerate(zip(steps, moving)):
            if not m and e.names:
                raise self.fail(f"step {j + 1} has no direction ({', '.join(directions)}) but the derivation is of "
                                "differentials: every step is df written with them", *path, j,
                                key=f"{key} step {j + 1}")

    def check_blocks(self, wrt: list[str], form: str, path: tuple[str | int, ...], key: str,
                     names: Sequence[str]) -> None:
        """`wrt: [x, y]`: a Hessian over several inputs (format 3)."""
        if form != "hessian":
            raise self.fail(f"'wrt' of a {form} claim is one input, not a list", *path, "wrt", key=f"{key}.wrt")
        if self.version < 3:
            raise self.fail("a list of inputs as 'wrt' needs format 3", *path, "wrt", key=f"{key}.wrt",
                            hint="add 'format: 3' at the top of the file")
        for name in wrt:
            if name not in names:
                raise self.fail(f"wrt '{name}' is not an input", *path, "wrt", key=f"{key}.wrt",
                                hint=did_you_mean(name, names) or f"inputs are {', '.join(names)}")
        if len(set(wrt)) != len(wrt) or not wrt:
            raise self.fail("'wrt' lists an input twice (or none)", *path, "wrt", key=f"{key}.wrt")

    def claim_direction(self, spec: dict[str, Any], form: str, path: tuple[str | int, ...], key: str,
                        scope: set[str], inputs: Sequence[Variable]) -> str | None:
        """The name a vjp gives its cotangent or a jvp its tangent: a new name."""
        wanted = {"vjp": "cotangent", "jvp": "tangent", "hvp": "tangent"}.get(form)
        for k in DIRECTION_KEYS:
            if k in spec and k != wanted:
                raise self.fail(f"'{k}' does not apply to a {form} claim", *path, k, key=f"{key}.{k}")
        if wanted is None:
            return None
        if wanted not in spec:
            raise self.fail(f"a {form} claim needs '{wanted}' (a new name for it, such as "
                            f"{'G' if form == 'vjp' else 'V'})", *path, key=key)
        name = spec[wanted]
        taken = scope | {f"d{v.name}" for v in inputs}
        if not IDENT_PATTERN.fullmatch(name) or name in FUNCTIONS or name in CONSTANTS or name in taken:
            why = "is not a valid name" if not IDENT_PATTERN.fullmatch(name) else "is already a name"
            raise self.fail(f"{wanted} '{name}' {why}; the {wanted} needs a new name", *path, wanted,
                            key=f"{key}.{wanted}")
        return str(name)

    def claim_target(self, spec: dict[str, Any], form: str, path: tuple[str | int, ...], key: str,
                     inputs: Sequence[Variable]) -> tuple[str | None, str | None]:
        wrt, layout = spec.get("wrt"), spec.get("layout")
        names = [v.name for v in inputs]
        if isinstance(wrt, list):
            self.check_blocks(wrt, form, path, key, names)
            return None, None
        if form in ("derivative", "hessian", "vjp", "jvp", "hvp"):
            if wrt is None:
                raise self.fail(f"a {form} claim needs 'wrt' (one of {', '.join(names)})", *path, key=key)
            if wrt not in names:
                raise self.fail(f"wrt '{wrt}' is not an input", *path, "wrt", key=f"{key}.wrt",
                                hint=did_you_mean(wrt, names) or f"inputs are {', '.join(names)}")
        elif wrt is not None:
            raise self.fail(f"'wrt' does not apply to a {form} claim", *path, "wrt", key=f"{key}.wrt")
        if form == "derivative":
            if layout is None:
                raise self.fail("a derivative claim needs 'layout' (numerator or denominator)", *path, key=key)
            if layout not in LAYOUTS:
                raise self.fail(f"unknown layout '{layout}': expected numerator or denominator",
                                *path, "layout", key=f"{key}.layout")
        elif layout is not None:
            raise self.fail(f"'layout' does not apply to a {form} claim", *path, "layout", key=f"{key}.layout")
        return wrt, layout

    def claim_expectation(self, spec: dict[str, Any], path: tuple[str | int, ...],
                          key: str) -> tuple[bool, str | None]:
        expect, reason = spec.get("expect"), spec.get("reason")
        if expect is not None and expect not in EXPECTS:
            raise self.fail(f"unknown expect '{expect}': expected 'fail' or 'pass'", *path, "expect",
                            key=f"{key}.expect")
        if expect == "fail" and not reason:
            raise self.fail("'expect: fail' needs a 'reason'", *path, key=key)
        if reason is not None and expect != "fail":
            raise self.fail("'reason' is only for a claim with 'expect: fail'", *path, "reason", key=f"{key}.reason")
        return expect == "fail", reason


def _is_expression(value: Any) -> bool:
    """Text or a number (Python syntax), or from format 4 a mapping {tex: text} (LaTeX)."""
    if isinstance(value, dict):
        return set(value) == {"tex"} and isinstance(value["tex"], str)
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _unknown_key_hint(key: object, known: Mapping[str, object]) -> str:
    """The closest key, or a word on what went wrong: a key such as '1)' is the rest of an
    expression that an unquoted comma split in a flow mapping ({derivative: ones(n, 1)})."""
    text = str(key)
    if any(c in text for c in "()[]@*+") or text[:1].isdigit():
        return ("it looks like the rest of an expression: a comma in {...} ends a value, so quote "
                "the expression ('ones(n, 1)')")
    return did_you_mean(text, known) or f"expected one of {', '.join(known)}"


def _flatten(value: Any, shape: list[int]) -> list[float] | None:
    """The numbers of `value` row by row, if it is nested exactly as `shape`, else None."""
    if not shape:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [float(value)] if ok else None
    if not isinstance(value, list) or len(value) != shape[0]:
        return None
    out: list[float] = []
    for item in value:
        inner = _flatten(item, shape[1:])
        if inner is None:
            return None
        out += inner
    return out


def _line(text: str) -> str:
    """Free text as one line (folded YAML scalars keep newlines)."""
    return printable(" ".join(text.split()))


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)
