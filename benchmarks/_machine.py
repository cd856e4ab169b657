"""What the benchmarks ran on: the instruction set the numba kernels were compiled for.

Times from a CPU with AVX-512 and from one with AVX2 only differ a lot (the
fused scan kernels vectorise over kernels); every benchmark prints this line
so that its numbers can be compared. ``NUMBA_CPU_NAME=haswell`` (and
``NUMBA_CPU_FEATURES``) make numba compile for another CPU, e.g. to time the
AVX2 code on an AVX-512 machine.
"""

from __future__ import annotations

# CPU names (LLVM's) of the AVX-512 and AVX2 generations, for NUMBA_CPU_NAME.
_AVX512_CPUS = (
    "skylake-avx512",
    "cascadelake",
    "cooperlake",
    "cannonlake",
    "icelake-client",
    "icelake-server",
    "tigerlake",
    "rocketlake",
    "sapphirerapids",
    "graniterapids",
    "emeraldrapids",
    "znver4",
    "znver5",
    "x86-64-v4",
)
_AVX2_CPUS = (
    "haswell",
    "broadwell",
    "skylake",
    "alderlake",
    "raptorlake",
    "meteorlake",
    "znver1",
    "znver2",
    "znver3",
    "x86-64-v3",
)


def _level(name: str, features: set[str]) -> str:
    if "avx512f" in features or name in _AVX512_CPUS:
        return "AVX-512"
    if "avx2" in features or name in _AVX2_CPUS:
        return "AVX2"
    if "sse4.2" in features:
        return "SSE4.2, no AVX"
    return "no AVX"


def instruction_set() -> str:
    """One line: the CPU numba compiles the kernels for and its widest vector instructions.

    Returns
    -------
    str
        E.g. ``"numba kernels: znver4, AVX-512 (avx512f avx512bw ...); host znver4"``;
        ``"numba kernels: not installed"`` without numba.
    """
    try:
        import llvmlite.binding as llvm
        import numba
    except ImportError:
        return "numba kernels: not installed (the pure-torch paths ran)"
    host = llvm.get_host_cpu_name()
    host_features = {name for name, on in llvm.get_host_cpu_features().items() if on}
    name = numba.config.CPU_NAME or host
    if numba.config.CPU_FEATURES is not None:
        features = {f[1:] for f in numba.config.CPU_FEATURES.split(",") if f.startswith("+")}
    elif numba.config.CPU_NAME:
        features = set()  # those of the named CPU
    else:
        features = host_features
    wide = sorted(f for f in features if f.startswith(("avx512", "avx2")))
    shown = f" ({' '.join(wide)})" if wide else ""
    chosen = " (NUMBA_CPU_NAME)" if numba.config.CPU_NAME else ""
    return (
        f"numba kernels: {name}{chosen}, {_level(name, features)}{shown}; host CPU {host}, "
        f"{_level(host, host_features)}"
    )


if __name__ == "__main__":
    print(instruction_set())
