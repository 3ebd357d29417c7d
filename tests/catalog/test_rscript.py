from pathlib import Path

from jh_pipeline.catalog.rscript import KNOWN_BIOCONDUCTOR, RSource, parse_r_script, r_packages

SCRIPT = """# install.packages("commented")
install.packages(
    c("HDSinRdata", "GGally"),  # trailing "comment"
    dependencies=TRUE, repos='http://cran.rstudio.com/')
install.packages('zoo', repos = "http://cran.rstudio.com/")
BiocManager::install(c("DESeq2",
                       "vsn"))
pkgs <- c("notliteral")
install.packages(pkgs)
"""


def test_literal_package_names_are_extracted_with_lines() -> None:
    found = [(p.name, p.source, p.location.line) for p in r_packages(SCRIPT, Path("packages.R"))]
    assert found == [
        ("HDSinRdata", RSource.CRAN, 3),
        ("GGally", RSource.CRAN, 3),
        ("zoo", RSource.CRAN, 5),
        ("DESeq2", RSource.BIOCONDUCTOR, 6),
        ("vsn", RSource.BIOCONDUCTOR, 7),
    ]


def parse(script: str, **options: object) -> tuple[list[tuple[str, str, int]], list[str]]:
    packages, findings = parse_r_script(script, Path("packages.R"), **options)  # type: ignore[arg-type]
    return [(p.name, p.source.value, p.location.line) for p in packages], [f.format() for f in findings]


def test_named_arguments_are_ignored_and_pkgs_may_be_named() -> None:
    script = (
        'install.packages(repos = c("https://a.example", "https://b.example"), pkgs = c("zoo", "car"))\n'
        'utils::install.packages("glmnet", dependencies = c("Depends", "Imports"))\n'
        'install.packages(pkgs)\n'
        'BiocManager::install(version = "3.19")\n'
        'BiocManager::install("limma", update = FALSE, ask = FALSE)\n'
        'remotes::install_version("ggplot2", version = "3.4.4", repos = "https://cloud.r-project.org")\n'
        'if (!requireNamespace("BiocManager", quietly = TRUE)) install.packages("BiocManager")\n'
        'my.install.packages("not_this")\n'
    )
    assert parse(script) == ([
        ("zoo", "cran", 1), ("car", "cran", 1), ("glmnet", "cran", 2), ("limma", "bioconductor", 5),
        ("ggplot2", "cran", 6), ("BiocManager", "cran", 7),
    ], [])


def test_install_github_names_the_repository_and_wants_a_pin() -> None:
    script = (
        'devtools::install_github("satijalab/seurat-data@v0.2.2")\n'
        'remotes::install_github(c("owner/pinned@1f2e3d4c", "owner/floating"))\n'
        'library(remotes)\n'
        'install_github("owner/bymain@main")\n'
        'remotes::install_github("owner/byarg", ref = "v1.0.0")\n'
        'remotes::install_github("owner/monorepo/pkgs/subpkg@v2")\n'
        'remotes::install_github("owner/pr#42")\n'
        'remotes::install_github("not-a-repo")\n'
    )
    packages, findings = parse(script)
    assert packages == [
        ("seurat-data", "github", 1), ("pinned", "github", 2), ("floating", "github", 2), ("bymain", "github", 4),
        ("byarg", "github", 5), ("subpkg", "github", 6), ("pr", "github", 7),
    ]
    assert findings == [
        'packages.R:2: warning: remotes::install_github("owner/floating") installs no pinned ref, so each build may '
        'get other code: pin a tag or commit, e.g. "owner/floating@v1.2.3"',
        'packages.R:4: warning: install_github("owner/bymain@main") installs a moving ref, so each build may get '
        'other code: pin a tag or commit, e.g. "owner/bymain@v1.2.3"',
        'packages.R:7: warning: remotes::install_github("owner/pr#42") installs a moving ref, so each build may get '
        'other code: pin a tag or commit, e.g. "owner/pr@v1.2.3"',
        'packages.R:8: error: remotes::install_github("not-a-repo"): expected "owner/repo@ref"',
    ]
    [github] = [p for p in parse_r_script(script, Path("packages.R"))[0] if p.name == "byarg"]
    assert github.github == "owner/byarg"


def test_bioconductor_package_through_install_packages_is_an_error_with_the_fix() -> None:
    script = 'install.packages(c("ggplot2",\n  "DESeq2"))\nBiocManager::install("edgeR")\n'
    packages, findings = parse(script)
    assert packages == [("ggplot2", "cran", 1), ("DESeq2", "cran", 2), ("edgeR", "bioconductor", 3)]
    assert findings == [
        "packages.R:2: error: 'DESeq2' is a Bioconductor package, which install.packages cannot install: use "
        'BiocManager::install("DESeq2") (after install.packages("BiocManager")), or add bioconductor-deseq2 to '
        "requirements.txt with the bioconda channel"
    ]
    # The known names can be passed in (e.g. from a Bioconductor index); the default is a built-in list.
    assert parse(script, bioconductor={"ggplot2"})[1][0].startswith("packages.R:1: error: 'ggplot2' is a Bioconductor")
    assert parse(script, bioconductor=())[1] == []
    assert {"DESeq2", "edgeR", "limma", "GenomicRanges", "Biostrings", "SummarizedExperiment"} <= KNOWN_BIOCONDUCTOR


def test_strings_with_commas_parentheses_and_comment_signs() -> None:
    script = 'install.packages("a", repos = "https://x.example/r(1),#2")  # c("b")\ninstall.packages("d") # "e"\n'
    assert parse(script) == ([("a", "cran", 1), ("d", "cran", 2)], [])
