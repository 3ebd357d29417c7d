# Resolve a fresh Julia environment for a class.
# Usage: julia --startup-file=no resolve_env.jl OUT_DIR [PACKAGE ...]
# Writes OUT_DIR/Project.toml and OUT_DIR/Manifest.toml. The caller empties OUT_DIR
# first: a fresh solve picks the newest compatible versions, so no Pkg.update here.
using Pkg

length(ARGS) >= 1 || error("usage: resolve_env.jl OUT_DIR [PACKAGE ...]")
out_dir = ARGS[1]
packages = unique(ARGS[2:end])

Pkg.activate(out_dir)
isempty(packages) || Pkg.add(packages)
Pkg.resolve()

for file in ("Project.toml", "Manifest.toml")
    isfile(joinpath(out_dir, file)) || error("Pkg wrote no $file in $out_dir")
end
println("resolved $(length(packages)) packages with Julia $(VERSION) into $out_dir")
