"""`packages.R`: kept as a script; package names written literally in install calls are extracted.

Read statically (no R): `install.packages`, `BiocManager::install`, `remotes::`/`devtools::`
`install_github` (also bare, after `library(remotes)`), `install_cran` and `install_version`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from jh_pipeline.catalog.findings import Finding, Location, error, warning


class RSource(StrEnum):
    CRAN = "cran"
    BIOCONDUCTOR = "bioconductor"
    GITHUB = "github"


@dataclass(frozen=True)
class RPackage:
    name: str  # the package name (for GitHub: the repository, or its subfolder)
    source: RSource
    location: Location
    github: str | None = None  # "owner/repo[/subdir][@ref]" as written, for GitHub packages


# Common Bioconductor packages, for the "asked for through install.packages" rule when no index is
# given (preflight passes the names of the configured Bioconductor index instead).
KNOWN_BIOCONDUCTOR: frozenset[str] = frozenset({
    "AnnotationDbi", "AnnotationHub", "BSgenome", "Biobase", "BiocFileCache", "BiocGenerics", "BiocParallel",
    "BiocSingular", "Biostrings", "ChIPseeker", "ComplexHeatmap", "DESeq2", "DEXSeq", "DOSE", "DelayedArray",
    "DiffBind", "DropletUtils", "EnhancedVolcano", "ExperimentHub", "GEOquery", "GO.db", "GenomeInfoDb",
    "GenomicAlignments", "GenomicFeatures", "GenomicRanges", "Gviz", "HDF5Array", "IRanges", "KEGGREST",
    "MAST", "MultiAssayExperiment", "Rsamtools", "Rsubread", "S4Vectors", "SingleCellExperiment",
    "SummarizedExperiment", "VariantAnnotation", "affy", "apeglm", "batchelor", "biomaRt", "bluster",
    "clusterProfiler", "dada2", "edgeR", "enrichplot", "fgsea", "ggtree", "graph", "limma", "minfi", "oligo",
    "org.Hs.eg.db", "org.Mm.eg.db", "phyloseq", "rhdf5", "rtracklayer", "scater", "scran", "scuttle", "sva",
    "tximport", "vsn", "zellkonverter",
})

_CALL = re.compile(
    r"(?<![\w.:])(?P<fn>(?:utils::)?install\.packages|BiocManager::install"
    r"|(?:remotes|devtools)::install_(?:cran|version)|(?:(?:remotes|devtools)::)?install_github)\s*\("
)
_STRING = re.compile(r"""(["'])(?P<s>[^"'\\]*)\1""")
# No "^": with a start position, match() anchors there (and "^" would not).
_NAMED = re.compile(r"\s*(?P<name>[A-Za-z.][A-Za-z0-9._]*)\s*=(?!=)")
_GITHUB = re.compile(
    r"^(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)(?P<subdir>(?:/[^@#/]+)*)/?"
    r"(?:@(?P<ref>[^@#]*)|#(?P<pr>\d+))?$"
)
# Refs that move: a build next month may get other code.
_MOVING_REFS = {"", "HEAD", "main", "master", "*release"}


@dataclass(frozen=True)
class _Kind:
    source: RSource
    package_arg: str  # the argument's name when given by name


def _kind(fn: str) -> _Kind:
    if fn.endswith("install_github"):
        return _Kind(RSource.GITHUB, "repo")
    if fn.startswith("BiocManager"):
        return _Kind(RSource.BIOCONDUCTOR, "pkgs")
    if fn.endswith("install_version"):
        return _Kind(RSource.CRAN, "package")
    return _Kind(RSource.CRAN, "pkgs")


def strip_r_comments(text: str) -> str:
    """Blank out `#` comments outside strings, keeping offsets (and so line numbers) intact."""
    out = []
    quote: str | None = None
    escaped = False
    in_comment = False
    for char in text:
        if char == "\n":
            in_comment = False
        elif in_comment:
            char = " "
        elif quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            in_comment, char = True, " "
        out.append(char)
    return "".join(out)


def _arguments(code: str, start: int) -> list[tuple[int, int]]:
    """Spans of the top-level arguments of the call whose '(' ends just before `start`."""
    spans: list[tuple[int, int]] = []
    depth, begin, quote, escaped = 0, start, None, False
    for i in range(start, len(code)):
        char = code[i]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                spans.append((begin, i))
                break
            depth -= 1
        elif char == "," and depth == 0:
            spans.append((begin, i))
            begin = i + 1
    else:
        spans.append((begin, len(code)))
    return [(b, e) for b, e in spans if code[b:e].strip()]


def _split_named(code: str, span: tuple[int, int]) -> tuple[str | None, tuple[int, int]]:
    """(argument name or None, span of its value)."""
    named = _NAMED.match(code, span[0], span[1])
    return (named.group("name"), (named.end(), span[1])) if named else (None, span)


def _literals(code: str, span: tuple[int, int]) -> list[tuple[str, int]]:
    """Strings written literally in a value (`"a"` or `c("a", "b")`), with their offsets."""
    value = code[span[0]:span[1]].strip()
    if not (value.startswith("c(") or value[:1] in "\"'"):
        return []  # a variable or an expression: not written literally
    return [(m.group("s"), m.start()) for m in _STRING.finditer(code, span[0], span[1])]


def parse_r_script(
    text: str, path: Path, bioconductor: Iterable[str] | None = None
) -> tuple[list[RPackage], list[Finding]]:
    """Packages installed by literal names, and findings: unpinned `install_github`, Bioconductor
    packages asked for through `install.packages`. `bioconductor`: known Bioconductor names
    (default KNOWN_BIOCONDUCTOR). Pure: reads nothing but `text`."""
    bioc = frozenset(KNOWN_BIOCONDUCTOR if bioconductor is None else bioconductor)
    code = strip_r_comments(text)
    packages: list[RPackage] = []
    findings: list[Finding] = []

    def line_of(offset: int) -> int:
        return code.count("\n", 0, offset) + 1

    for call in _CALL.finditer(code):
        fn = call.group("fn")
        kind = _kind(fn)
        named: dict[str, tuple[int, int]] = {}
        positional: list[tuple[int, int]] = []
        for span in _arguments(code, call.end()):
            name, value = _split_named(code, span)
            if name is None:
                positional.append(value)
            else:
                named.setdefault(name, value)
        target = named.get(kind.package_arg) or (positional[0] if positional else None)
        if target is None:
            continue  # e.g. BiocManager::install(version = "3.19")
        ref_literals = _literals(code, named["ref"]) if "ref" in named else []
        ref_arg = ref_literals[0][0] if ref_literals else None
        for literal, offset in _literals(code, target):
            line = line_of(offset)
            location = Location(path, line)
            if kind.source is RSource.GITHUB:
                package, finding = _github_package(literal, ref_arg, location, fn)
                if package is not None:
                    packages.append(package)
                if finding is not None:
                    findings.append(finding)
                continue
            packages.append(RPackage(literal, kind.source, location))
            if kind.source is RSource.CRAN and literal in bioc:
                findings.append(error(
                    path, line, "r-bioconductor",
                    f"'{literal}' is a Bioconductor package, which {fn.split('::')[-1]} cannot install: use "
                    f"BiocManager::install(\"{literal}\") (after install.packages(\"BiocManager\")), "
                    f"or add bioconductor-{literal.lower()} to requirements.txt with the bioconda channel",
                ))
    return packages, findings


def _github_package(
    written: str, ref_arg: str | None, location: Location, fn: str
) -> tuple[RPackage | None, Finding | None]:
    path, line = location.path, location.line
    match = _GITHUB.match(written.strip())
    if match is None:
        return None, error(path, line, "r-github", f"{fn}(\"{written}\"): expected \"owner/repo@ref\"")
    subdir = match.group("subdir").strip("/")
    name = subdir.rsplit("/", 1)[-1] if subdir else match.group("repo").removesuffix(".git")
    ref = match.group("ref")
    if match.group("pr") is not None:
        ref = ""  # a pull request's head moves
    elif ref is None:
        ref = ref_arg
    package = RPackage(name, RSource.GITHUB, location, github=written)
    if ref is None or ref.strip() in _MOVING_REFS:
        how = "no pinned ref" if ref is None else "a moving ref"
        return package, warning(
            path, line, "r-github-unpinned",
            f"{fn}(\"{written}\") installs {how}, so each build may get other code: pin a tag or commit, "
            f"e.g. \"{match.group('owner')}/{match.group('repo')}@v1.2.3\"",
        )
    return package, None


def r_packages(text: str, path: Path) -> list[RPackage]:
    return parse_r_script(text, path)[0]


def has_code(text: str) -> bool:
    return bool(strip_r_comments(text).strip())
