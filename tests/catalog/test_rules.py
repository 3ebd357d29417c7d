"""Each validation rule, on its own small tree."""

from __future__ import annotations

import pytest

from tests.catalog.conftest import BASE_CLASS, R_CLASS, MakeCatalog, lines


def test_clean_class_has_no_findings(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"data1010": BASE_CLASS})
    assert lines(catalog) == []
    assert catalog.classes["data1010"].ok


def test_unparseable_conda_spec(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": "numpy\n\npandas==\nfoo bar baz qux\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:3: error: cannot parse conda spec 'pandas==': "
        "unable to parse version spec: ==",
        "requirements/classes/c1/requirements.txt:4: error: cannot parse conda spec 'foo bar baz qux': too many fields",
    ]


def test_comments_blank_lines_and_trailing_spaces(make_catalog: MakeCatalog) -> None:
    text = "# header\n\ndask \nscipy  # inline comment\n   \n"
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": text}})
    assert lines(catalog) == []
    assert [s.spec for s in catalog.classes["c1"].conda] == ["dask", "scipy"]


def test_unparseable_pip_line(make_catalog: MakeCatalog) -> None:
    pip = "requests\nfoo >=> 1\n-r other.txt\ngit+https://example.org/a/tool.git\npkg <= v1.6.0\n"
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.pip.txt": pip}})
    found = lines(catalog)
    assert len(found) == 2
    assert found[0].startswith("requirements/classes/c1/requirements.pip.txt:2: error: cannot parse pip requirement 'foo >=> 1'")
    assert found[1] == "requirements/classes/c1/requirements.pip.txt:3: error: pip option '-r other.txt' is not supported in package lists"
    names = [r.name for r in catalog.classes["c1"].pip]
    assert names == ["requests", "tool", "pkg"]
    assert catalog.classes["c1"].pip[1].is_vcs


def test_unparseable_class_yaml(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "class.yaml": "target: base\npython_version: [3.11\n"}})
    [finding] = lines(catalog)
    assert finding.startswith("requirements/classes/c1/class.yaml:3: error: invalid YAML")
    assert catalog.classes["c1"].config is None


def test_class_yaml_schema_errors_point_at_their_line(make_catalog: MakeCatalog) -> None:
    text = 'target: base\nmysql: maybe\npython_version: 3.10\ncolour: blue\nimage_size_budget: "8GB"\n'
    catalog = make_catalog({"c1": {**BASE_CLASS, "class.yaml": text}})
    assert lines(catalog) == [
        "requirements/classes/c1/class.yaml:2: error: mysql: Input should be a valid boolean, unable to interpret input",
        "requirements/classes/c1/class.yaml:3: error: python_version: write the version as a quoted string "
        '("3.1" may have lost a trailing zero)',
        "requirements/classes/c1/class.yaml:4: error: unknown setting 'colour'",
    ]


def test_size_budget_units(make_catalog: MakeCatalog) -> None:
    text = 'target: base\npython_version: "3.11"\nimage_size_budget: 7.5GiB\n'
    catalog = make_catalog({"c1": {**BASE_CLASS, "class.yaml": text}})
    assert catalog.classes["c1"].config.image_size_budget == int(7.5 * 1024**3)


def test_missing_required_files(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {"requirements.pip.txt": "six\n"}, "c2": BASE_CLASS})
    assert lines(catalog) == [
        "requirements/classes/c1/class.yaml:1: error: required file is missing",
        "requirements/classes/c1/requirements.txt:1: error: required file is missing",
    ]
    assert catalog.classes["c2"].ok  # one broken class never hides another


def test_unknown_target(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "class.yaml": 'python_version: "3.11"\ntarget: r_python\n'}})
    assert lines(catalog) == [
        "requirements/classes/c1/class.yaml:2: error: unknown target 'r_python' (expected one of: base, r_lang, r_julia)"
    ]


def test_conda_name_not_lowercase_is_normalised(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": "netCDF4\nr-randomForest=4.*\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:1: warning: conda package name 'netCDF4' is not lowercase; using 'netcdf4'",
        "requirements/classes/c1/requirements.txt:2: warning: conda package name 'r-randomForest' is not lowercase; "
        "using 'r-randomforest'",
    ]
    assert [s.spec for s in catalog.classes["c1"].conda] == ["netcdf4", "r-randomforest 4.*"]


def test_compatible_duplicate_warns_and_merges(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": "r-caret\nnumpy\nr-caret=6.*\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:3: warning: 'r-caret=6.*' repeats 'r-caret' (line 1); merged as 'r-caret 6.*'"
    ]
    assert [s.spec for s in catalog.classes["c1"].conda] == ["r-caret 6.*", "numpy"]
    assert catalog.classes["c1"].ok


def test_conflicting_duplicate_is_an_error(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.txt": "x=1.*\nx=2.*\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:2: error: 'x=2.*' conflicts with 'x=1.*' (line 1): no version satisfies both"
    ]
    assert not catalog.classes["c1"].ok


def test_pip_duplicates_follow_the_same_rules(make_catalog: MakeCatalog) -> None:
    pip = "PyYAML>=6.0.0\npyyaml<7\nsix<1\nsix>=2\n"
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.pip.txt": pip}})
    found = lines(catalog)
    assert found[0] == "requirements/classes/c1/requirements.pip.txt:2: warning: 'pyyaml<7' repeats 'PyYAML>=6.0.0' (line 1); merged"
    assert found[1].startswith("requirements/classes/c1/requirements.pip.txt:4: error: 'six>=2' conflicts with 'six<1'")


def test_class_pin_conflicting_with_common_pin(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog(
        {"c1": {**BASE_CLASS, "requirements.txt": "numpy=1.*\nipykernel=6.*\n"}},
        common={"requirements.txt": "# shared\nnumpy>=2\nipykernel\n"},
    )
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:1: error: 'numpy=1.*' conflicts with 'numpy>=2' "
        "(requirements/common/requirements.txt:2): no version satisfies both"
    ]


def test_duplicate_julia_packages_warn(make_catalog: MakeCatalog) -> None:
    jl = 'const julia_packages = [\n  "IJulia", # DO NOT REMOVE\n  "CSV",\n  # comment "Fake",\n  "CSV",\n]\n'
    catalog = make_catalog({"c1": {**R_CLASS, "class.yaml": 'target: r_julia\npython_version: "3.11"\n', "requirements.jl": jl}})
    assert lines(catalog) == ["requirements/classes/c1/requirements.jl:5: warning: Julia package 'CSV' repeats line 3"]
    assert [p.name for p in catalog.classes["c1"].julia] == ["IJulia", "CSV"]


def test_broken_julia_file(make_catalog: MakeCatalog) -> None:
    jl = 'const julia_packages = [\n  "IJulia",\n  Plots,\n'
    catalog = make_catalog({"c1": {**R_CLASS, "class.yaml": 'target: r_julia\npython_version: "3.11"\n', "requirements.jl": jl}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.jl:1: error: julia_packages: missing closing ']'",
        "requirements/classes/c1/requirements.jl:3: error: unexpected 'Plots' in julia_packages",
    ]


def test_r_target_without_r_interpreter(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**R_CLASS, "requirements.txt": "r-irkernel\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:1: error: target r_lang needs an R interpreter: "
        "add 'r-base' to the conda list"
    ]


def test_r_julia_without_julia_file(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**R_CLASS, "class.yaml": 'target: r_julia\npython_version: "3.11"\n'}})
    assert lines(catalog) == ["requirements/classes/c1/requirements.jl:1: error: target r_julia needs requirements.jl"]


def test_files_a_target_never_uses(make_catalog: MakeCatalog) -> None:
    files = {
        **BASE_CLASS,
        "requirements.jl": 'const julia_packages = [\n "IJulia",\n "CSV",\n]\n',
        "packages.R": '# just a comment\ninstall.packages("ggplot2")\n',
    }
    catalog = make_catalog({"c1": files, "c2": {**BASE_CLASS, "packages.R": "# only comments\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/packages.R:1: warning: packages.R has code but target base has no R; it is ignored",
        "requirements/classes/c1/requirements.jl:3: warning: requirements.jl lists packages but target base has no Julia; "
        "they are ignored",
    ]


def test_julia_file_with_only_ijulia_is_fine_without_julia(make_catalog: MakeCatalog) -> None:
    # The template's requirements.jl lists IJulia alone; r_lang and base classes keep it quietly.
    template = 'const julia_packages = [\n    "IJulia", # DO NOT REMOVE\n    # add packages here\n]\n'
    catalog = make_catalog({"c1": {**BASE_CLASS, "requirements.jl": template},
                            "r1": {**R_CLASS, "requirements.jl": template}})
    assert lines(catalog) == []


def test_folder_names_are_normalised_and_collisions_are_the_two_classes_problem(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"CS-101": BASE_CLASS, "cs_101": BASE_CLASS, "Data.2020": BASE_CLASS, "other": BASE_CLASS})
    assert lines(catalog) == [
        "requirements/classes/CS-101/class.yaml:1: warning: class folder 'CS-101' is not a valid asset key part "
        "([a-z0-9_]); using 'cs_101'",
        "requirements/classes/CS-101/class.yaml:1: error: class folders 'CS-101' and 'cs_101' both normalise to "
        "'cs_101'; rename one (neither is built until then)",
        "requirements/classes/Data.2020/class.yaml:1: warning: class folder 'Data.2020' is not a valid asset key part "
        "([a-z0-9_]); using 'data_2020'",
        "requirements/classes/cs_101/class.yaml:1: error: class folders 'cs_101' and 'CS-101' both normalise to "
        "'cs_101'; rename one (neither is built until then)",
    ]
    # The folder named like the key holds it; the other is left out; neither builds, the rest do.
    assert sorted(catalog.classes) == ["cs_101", "data_2020", "other"]
    assert catalog.classes["cs_101"].folder.name == "cs_101"
    assert [s.folder.name for s in catalog.left_out] == ["CS-101"]
    assert catalog.class_has_errors("cs_101") and catalog.left_out[0].has_errors
    assert catalog.common_errors == []  # nothing catalog-wide: other classes are not blocked
    assert not catalog.class_has_errors("other") and catalog.errors_of("other") == []
    assert not catalog.class_has_errors("data_2020")


def test_unparseable_apt_and_condarc(make_catalog: MakeCatalog) -> None:
    files = {**BASE_CLASS, "apt.txt": "curl\nNot_A_Package\n", "condarc": "channels: [conda-forge\n"}
    catalog = make_catalog({"c1": files})
    found = lines(catalog)
    assert found[0] == "requirements/classes/c1/apt.txt:2: error: 'Not_A_Package' is not a valid Debian package name"
    assert found[1].startswith("requirements/classes/c1/condarc:2: error: invalid YAML")


def test_condarc_channels(make_catalog: MakeCatalog) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "condarc": "channels:\n  - conda-forge\n  - bioconda\n"}, "c2": BASE_CLASS})
    assert catalog.classes["c1"].channels == ("conda-forge", "bioconda")
    assert catalog.classes["c2"].channels == ("conda-forge",)


def test_mysql_class_gets_a_python_client(make_catalog: MakeCatalog) -> None:
    from jh_pipeline.catalog import class_conda_specs

    yaml = 'target: base\npython_version: "3.11"\nmysql: true\n'
    catalog = make_catalog({"db": {**BASE_CLASS, "class.yaml": yaml}, "own": {**BASE_CLASS, "class.yaml": yaml,
                            "requirements.txt": "mysql-connector-python\n"}})
    names = {key: [s.name for s in class_conda_specs(catalog.common, catalog.classes[key])[0]] for key in ("db", "own")}
    assert names["db"][-1] == "pymysql"
    assert "pymysql" not in names["own"]


def test_sqlite_class_gets_the_xeus_sqlite_kernel(make_catalog: MakeCatalog) -> None:
    from jh_pipeline.catalog import class_conda_specs

    yaml = 'target: base\npython_version: "3.11"\nsqlite: true\n'
    catalog = make_catalog({"sq": {**BASE_CLASS, "class.yaml": yaml}, "plain": BASE_CLASS})
    specs = {key: class_conda_specs(catalog.common, catalog.classes[key])[0] for key in ("sq", "plain")}
    assert specs["sq"][-1].name == "xeus-sqlite" and str(specs["sq"][-1].location).endswith("sq/class.yaml:1")
    assert "xeus-sqlite" not in [s.name for s in specs["plain"]]  # sqlite: false is never a kernel


def test_r_target_without_r_kernel(make_catalog: MakeCatalog) -> None:
    julia = {"class.yaml": 'target: r_julia\npython_version: "3.11"\n', "requirements.jl": 'julia_packages = ["IJulia"]\n'}
    catalog = make_catalog({"c1": {**R_CLASS, "requirements.txt": "r-base=4.3.*\n"},
                            "c2": {**R_CLASS, **julia, "requirements.txt": "r-base\n"}},
                           common={"requirements.txt": "ipykernel\nr-irkernel\n"})  # from the common list is fine
    assert lines(catalog) == []
    catalog = make_catalog({"c1": {**R_CLASS, "requirements.txt": "r-base=4.3.*\n"},
                            "c2": {**R_CLASS, **julia, "requirements.txt": "r-base\n"}})
    assert lines(catalog) == [
        "requirements/classes/c1/requirements.txt:1: error: target r_lang needs the R kernel: add 'r-irkernel' to the conda list",
        "requirements/classes/c2/requirements.txt:1: error: target r_julia needs the R kernel: add 'r-irkernel' to the conda list",
    ]


def test_python_past_end_of_life_warns_with_the_date(make_catalog: MakeCatalog) -> None:
    from datetime import date

    yaml = 'target: base\n# the class env\npython_version: "{}"\n'
    classes = {f"c{v.replace('.', '')}": {**BASE_CLASS, "class.yaml": yaml.format(v)} for v in ("3.9.17", "3.10", "3.13")}
    assert lines(make_catalog(classes, today=date(2026, 3, 1))) == [
        "requirements/classes/c3917/class.yaml:3: warning: python_version 3.9.17: Python 3.9 reached its end of life "
        "on 2025-10-31 (no more security fixes); move the class to a newer Python",
    ]
    assert lines(make_catalog(classes, today=date(2026, 11, 1)))[0] == (
        "requirements/classes/c310/class.yaml:3: warning: python_version 3.10: Python 3.10 reached its end of life "
        "on 2026-10-31 (no more security fixes); move the class to a newer Python"
    )
    assert len(lines(make_catalog(classes, today=date(2026, 10, 31)))) == 1  # 3.10 not past it on the day itself
    assert make_catalog(classes, today=date(2026, 11, 1)).classes["c310"].ok  # a warning only


@pytest.mark.parametrize("version", ["3.8", "3.8.18", "3.14", "3.15.0"])
def test_python_the_server_stack_does_not_support_is_an_error(make_catalog: MakeCatalog, version: str) -> None:
    catalog = make_catalog({"c1": {**BASE_CLASS, "class.yaml": f'python_version: "{version}"\ntarget: base\n'}})
    assert lines(catalog) == [
        f"requirements/classes/c1/class.yaml:1: error: python_version {version}: the server stack runs class envs "
        "on Python 3.9 to 3.13 only"
    ]


def test_python_version_table_is_complete_for_the_supported_range() -> None:
    from jh_pipeline.catalog.python_versions import EOL_DATES, MAX_PYTHON, MIN_PYTHON

    assert all((3, m) in EOL_DATES for m in range(MIN_PYTHON[1], MAX_PYTHON[1] + 1))
    assert sorted(EOL_DATES.values()) == [EOL_DATES[k] for k in sorted(EOL_DATES)]


def test_packages_r_findings_only_for_targets_with_r(make_catalog: MakeCatalog) -> None:
    script = 'install.packages(c("ggplot2", "DESeq2"))\nremotes::install_github("owner/tool")\n'
    catalog = make_catalog({"r1": {**R_CLASS, "packages.R": script}, "b1": {**BASE_CLASS, "packages.R": script}})
    found = lines(catalog)
    assert [f.split(": ")[0] + ": " + f.split(": ")[1] for f in found] == [
        "requirements/classes/b1/packages.R:1: warning",  # only "it is ignored"
        "requirements/classes/r1/packages.R:1: error",
        "requirements/classes/r1/packages.R:2: warning",
    ]
    assert [(p.name, p.source.value) for p in catalog.classes["r1"].r_packages] == [
        ("ggplot2", "cran"), ("DESeq2", "cran"), ("tool", "github"),
    ]
    # Preflight passes the names of its Bioconductor index instead of the built-in list.
    assert not make_catalog({"r1": {**R_CLASS, "packages.R": script}}, bioconductor={"limma"}).classes["r1"].errors
