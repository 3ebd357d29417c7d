# Install a class's locked Julia environment into the image and register its Jupyter kernel.
# Runs inside the image build (r_julia stage of the Dockerfile):
#
#   JULIA_DEPOT_PATH=/opt/julia-depot: JULIA_CPU_TARGET=... \
#       julia --startup-file=no instantiate.jl ENV_SRC KERNELS_DIR [KERNEL_NAME] [DISPLAY_NAME]
#
#   ENV_SRC      directory holding the class's Project.toml + Manifest.toml (from the julia_env asset)
#   KERNELS_DIR  where Jupyter looks for kernelspecs ($CONDA_DIR/share/jupyter/kernels)
#   KERNEL_NAME  kernelspec directory name (default "julia")
#   DISPLAY_NAME kernel display name prefix (default "Julia"; IJulia appends the Julia version)
#
# The environment goes to DEPOT_PATH[1]/environments/v<major>.<minor>: the *default* environment
# (`@v#.#` in LOAD_PATH), so `julia -e 'using X'` and the kernel load the class packages with no
# --project. Exactly the locked versions: Pkg.instantiate from the Manifest, never Pkg.update /
# Pkg.resolve / Pkg.add. Every problem throws, so the build fails.
using Pkg
import TOML

length(ARGS) >= 2 || error("usage: instantiate.jl ENV_SRC KERNELS_DIR [KERNEL_NAME] [DISPLAY_NAME]")
const ENV_SRC = abspath(ARGS[1])
const KERNELS_DIR = abspath(ARGS[2])
const KERNEL_NAME = length(ARGS) >= 3 ? ARGS[3] : "julia"
const DISPLAY_NAME = length(ARGS) >= 4 ? ARGS[4] : "Julia"

for file in ("Project.toml", "Manifest.toml")
    path = joinpath(ENV_SRC, file)
    isfile(path) || error("$path is missing: the julia_env asset publishes Project.toml and Manifest.toml")
    filesize(path) > 0 || error("$path is empty: an r_julia image needs the class's julia_env files " *
                                "(jh_pipeline.images.julia_context.add_julia_files)")
end

# Deps of a Manifest (format 2.0: [[deps.Name]]; 1.0: top-level arrays), as comparable tuples.
function locked(manifest::Dict)
    format2 = startswith(string(get(manifest, "manifest_format", "1.0")), "2.")
    deps = format2 ? get(manifest, "deps", Dict()) : filter(kv -> kv.second isa Vector, manifest)
    Set((name, get(e, "uuid", ""), get(e, "version", ""), get(e, "git-tree-sha1", ""))
        for (name, entries) in deps for e in entries)
end

src_manifest = TOML.parsefile(joinpath(ENV_SRC, "Manifest.toml"))
written_by = get(src_manifest, "julia_version", nothing)
if written_by !== nothing
    v = VersionNumber(written_by)
    (v.major, v.minor) == (VERSION.major, VERSION.minor) || error(
        "the class Manifest.toml was written by Julia $written_by, but this image installs Julia $VERSION: " *
        "resolve the julia_env with the same Julia minor version (JH_JULIA_URL / JH_JULIA_IMAGE)")
end

depot = first(DEPOT_PATH)
env_dir = joinpath(depot, "environments", "v$(VERSION.major).$(VERSION.minor)")
# This must be the directory `@v#.#` resolves to, or Julia would not load it by default.
mkpath(env_dir)
for file in ("Project.toml", "Manifest.toml")
    cp(joinpath(ENV_SRC, file), joinpath(env_dir, file); force=true)
end
expanded = Base.load_path_expand("@v#.#")
expanded == joinpath(env_dir, "Project.toml") ||
    error("@v#.# resolves to $expanded, not to $env_dir: check JULIA_DEPOT_PATH")
println("instantiate.jl: Julia $VERSION, environment $env_dir, depots $(DEPOT_PATH)")
println("instantiate.jl: JULIA_CPU_TARGET=", get(ENV, "JULIA_CPU_TARGET", "(native)"))

Pkg.activate(env_dir)
Pkg.instantiate()  # exactly the Manifest: downloads, installs and builds; resolves nothing

# Pkg must not have changed what was locked.
now_locked = locked(TOML.parsefile(joinpath(env_dir, "Manifest.toml")))
now_locked == locked(src_manifest) || error(
    "Pkg changed the locked Manifest while instantiating: " *
    "added $(collect(setdiff(now_locked, locked(src_manifest)))), " *
    "removed $(collect(setdiff(locked(src_manifest), now_locked)))")

# Precompile for the generic CPU target of the build (JULIA_CPU_TARGET), so the caches are valid
# on other machines; a failing direct dependency throws.
Pkg.precompile()

direct = sort(collect(keys(Pkg.project().dependencies)))
"IJulia" in direct || error("IJulia is not in the class Project.toml: add \"IJulia\" to requirements.jl " *
                            "(the Julia kernel needs it; it must come from the lock like every package)")

# Register the kernel. IJulia writes into JUPYTER_DATA_DIR/kernels/<name>-<version>; do that in a
# scratch dir and move the spec to KERNELS_DIR/KERNEL_NAME, a stable name for notebooks and checks.
scratch = mktempdir()
ENV["JUPYTER_DATA_DIR"] = scratch
@eval using IJulia
spec = IJulia.installkernel(DISPLAY_NAME, "--project=@.")
isfile(joinpath(spec, "kernel.json")) || error("IJulia wrote no kernel.json in $spec")
dest = joinpath(KERNELS_DIR, KERNEL_NAME)
mkpath(KERNELS_DIR)
rm(dest; force=true, recursive=true)
mv(spec, dest)
rm(scratch; force=true, recursive=true)
spec_json = read(joinpath(dest, "kernel.json"), String)
occursin(Sys.BINDIR, spec_json) || error("kernel.json does not call the Julia in $(Sys.BINDIR): $spec_json")
println("instantiate.jl: kernel '$KERNEL_NAME' in $dest")
println("instantiate.jl: installed $(length(now_locked)) locked entries; direct dependencies: $(join(direct, ", "))")
