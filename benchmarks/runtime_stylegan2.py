"""StyleGAN2 rows of the generation-speed benchmark: benchmarks/runtime.py (the export work's) with
fp32 packages only, because its build() also exports int8 and stops the whole run when a model
misses the int8 parity gate, which untrained stylegan2_64 does (float_mean_abs 0.0535 > 0.05).

    python benchmarks/runtime_stylegan2.py --models stylegan2_64,dcgan64 --out benchmarks/results/runtime_stylegan2

Engines: PyTorch eager, torch.compile, zoo_runtime fp32. Note: the exported graph's FLOP count
(zoo.export.flops.count_macs) leaves StyleGAN2's convolutions uncounted, so the "% of roofline"
column is wrong for it; torch.utils.flop_counter gives 214 MFLOP/image for stylegan2_64.
"""
import importlib.util, sys, warnings
from pathlib import Path
import torch, zoo
spec = importlib.util.spec_from_file_location("runtime_bench", "benchmarks/runtime.py")
rb = importlib.util.module_from_spec(spec); spec.loader.exec_module(rb)

def build(name, workdir):
    torch.manual_seed(0)
    _, tag = zoo.registry.split_name(name)
    model = zoo.create_model(name, pretrained=tag is not None).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        packages = {"fp32": zoo.export(model, workdir / f"{name}-fp32", precision="fp32", progress=False)}
    packages["int8"] = packages["fp32"]  # read_int8 is patched out below
    weights = workdir / f"{name}.safetensors"
    zoo.save(model, weights)
    return model, packages, weights

rb.build = build
rb.read_int8 = lambda pkg: None  # no int8 package here
sys.argv = ["runtime.py", "--engines", "PyTorch eager,torch.compile,zoo_runtime fp32", *sys.argv[1:]]
rb.main()
