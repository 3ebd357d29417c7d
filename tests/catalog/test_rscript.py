from pathlib import Path

from jh_pipeline.catalog.rscript import RSource, r_packages

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
