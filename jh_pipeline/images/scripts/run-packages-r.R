# Runs a class's packages.R so that a package that fails to install FAILS the build.
#
# Usage: Rscript run-packages-r.R PACKAGES_R CRAN_REPO
#
# R's install.packages() only warns when a package cannot be installed (not on the mirror, a
# failed compile, a missing system library). Here every install call of the script:
#   - installs from CRAN_REPO (the site's configured mirror): a `repos` argument written in the
#     script (the class files say repos='http://cran.rstudio.com/') is ignored;
#   - is followed by a check that every package it asked for is installed, and warnings that
#     report a failed install are recorded;
# and at the end the script exits non-zero naming every package that failed.
# install.packages, utils::install.packages, remotes::install_cran and BiocManager::install
# calls are routed through the same check (BiocManager also takes CRAN packages from CRAN_REPO).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2L) stop("usage: Rscript run-packages-r.R PACKAGES_R CRAN_REPO")
script <- args[[1L]]
cran <- sub("/+$", "", args[[2L]])
if (!nzchar(cran)) stop("no CRAN repository given (build arg CRAN_REPO)")

# Parallel installs (Ncpus > 1) run `make -j`: only when make is there (binary repositories and
# pure-R packages need none, and the build stages may not have it).
ncpus <- if (nzchar(Sys.which("make"))) max(1L, parallel::detectCores()) else 1L
options(repos = c(CRAN = cran), Ncpus = ncpus, warn = 1)
# Binary-package repositories (Posit Package Manager's __linux__/<distro> URLs) pick the binaries
# by the R version in the User-Agent (their documented setting); source repositories ignore it.
options(HTTPUserAgent = sprintf("R/%s R (%s)", getRversion(),
                                paste(getRversion(), R.version$platform, R.version$arch, R.version$os)))
failed <- character()

.jh_installed <- function(pkg) nzchar(system.file(package = pkg))

# Run one install call; record each requested package that is not installed afterwards or that a
# warning reported as failed.
.jh_checked <- function(what, pkgs, call) {
  pkgs <- unique(as.character(pkgs))
  warned <- character()
  withCallingHandlers(
    call(),
    warning = function(w) {
      text <- conditionMessage(w)
      if (grepl("installation of package|is not available|not available for|download of package|had non-zero exit status|dependenc(y|ies) .* not available",
                text)) {
        quoted <- function(p) any(vapply(c("\u2018%s\u2019", "'%s'", "\"%s\""),
                                         function(q) grepl(sprintf(q, p), text, fixed = TRUE), logical(1)))
        hit <- pkgs[vapply(pkgs, quoted, logical(1))]
        warned <<- c(warned, hit)
      }
    }
  )
  missing <- pkgs[!vapply(pkgs, .jh_installed, logical(1))]
  bad <- unique(c(missing, warned))
  if (length(bad)) {
    message(sprintf("packages.R: %s did not install: %s", what, paste(bad, collapse = ", ")))
    failed <<- unique(c(failed, bad))
  }
  invisible(NULL)
}

# Package names of an install call's first argument (local files: the name before '_').
.jh_names <- function(pkgs, repos_null) {
  if (repos_null) sub("_.*$", "", basename(pkgs)) else pkgs
}

.jh_install_packages <- function(pkgs, lib, repos = getOption("repos"), ...) {
  local_files <- !missing(repos) && is.null(repos)  # install.packages(file, repos = NULL)
  repos <- if (local_files) NULL else getOption("repos")
  if (missing(lib)) lib <- .libPaths()[1L]
  .jh_checked("install.packages", .jh_names(pkgs, local_files),
              function() utils::install.packages(pkgs, lib = lib, repos = repos, ...))
}

.jh_install_cran <- function(pkgs, repos = getOption("repos"), ...) {
  .jh_install_packages(pkgs, ...)
}

.jh_bioc_install <- function(pkgs = character(), ..., update = FALSE, ask = FALSE) {
  if (!requireNamespace("BiocManager", quietly = TRUE)) {
    .jh_install_packages("BiocManager")
    if (!requireNamespace("BiocManager", quietly = TRUE)) {
      failed <<- unique(c(failed, pkgs))
      message(sprintf("packages.R: BiocManager::install did not install: %s (no BiocManager)",
                      paste(pkgs, collapse = ", ")))
      return(invisible(NULL))
    }
  }
  if (length(pkgs) == 0L) {  # BiocManager::install() alone installs/updates the core packages
    return(invisible(BiocManager::install(..., update = update, ask = ask)))
  }
  .jh_checked("BiocManager::install", pkgs,
              function() BiocManager::install(pkgs, ..., update = update, ask = ask))
}

code <- readLines(script, warn = FALSE, encoding = "UTF-8")
code <- gsub("\\b(utils::)?install\\.packages\\s*\\(", ".jh_install_packages(", code, perl = TRUE)
code <- gsub("\\bremotes::install_cran\\s*\\(", ".jh_install_cran(", code, perl = TRUE)
code <- gsub("\\bBiocManager::install\\s*\\(", ".jh_bioc_install(", code, perl = TRUE)

env <- new.env(parent = globalenv())
exprs <- parse(text = code, keep.source = FALSE, encoding = "UTF-8")
message(sprintf("packages.R: %d expression(s), CRAN repository %s", length(exprs), cran))
report <- function() {
  if (length(failed)) {
    message(sprintf("packages.R FAILED: these packages did not install: %s", paste(failed, collapse = ", ")))
  }
}
for (expr in exprs) {
  tryCatch(eval(expr, envir = env), error = function(e) {
    report()
    message(sprintf("packages.R FAILED: error in `%s`: %s",
                    paste(deparse(expr, width.cutoff = 60L)[1L], collapse = ""), conditionMessage(e)))
    quit(save = "no", status = 1L)
  })
}
if (length(failed)) {
  report()
  quit(save = "no", status = 1L)
}
message("packages.R: all requested packages are installed")
