"""How TensorFlow runs: settings made before it loads, so that every x86-64 CPU with AVX2 computes the same bytes.

oneDNN, which runs TensorFlow's matrix multiplies, convolutions and batch normalisation on the CPU, picks its
kernels by the instruction sets the CPU has (AVX2, AVX-512, AMX), and each kernel sums in its own order; and it
splits an op's work by the number of threads, and for small matrix multiplies by the L2 cache size of the CPU.
So by default the project caps oneDNN at AVX2 kernels and runs each op on one thread (independent ops still run
side by side, one per core): the same kernels and the same order of sums on every such CPU, whatever its
newer instruction sets, its caches or its number of cores. MNIST_FAST=1 lifts both for speed: results then
differ in the last digits from machine to machine, and from what dvc.lock records.
"""

import os
import platform
from pathlib import Path

FAST_ENV = "MNIST_FAST"
# oneDNN's names for instruction sets, lowest first (ONEDNN_MAX_CPU_ISA); the project's kernels are AVX2's.
ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16")
REPRODUCIBLE_ISA = "AVX2"
REPRODUCIBLE_INTRA_OP_THREADS = "1"
# What configure() may set, and the value each had in this process's environment before it did (None: unset).
CONFIGURED = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TF_NUM_INTRAOP_THREADS")
_as_started: dict[str, str | None] = {}


def fast() -> bool:
    """Whether the user traded the same bytes on every machine for speed (MNIST_FAST=1)."""
    return os.environ.get(FAST_ENV, "") not in ("", "0")


def configure() -> None:
    """Set TensorFlow's environment, before it loads. A value the user set wins, but for the two that make results
    the same everywhere: an instruction-set cap above AVX2 (which stands for a machine that has more) is AVX2."""
    for key in CONFIGURED:
        _as_started.setdefault(key, os.environ.get(key))
    # TensorFlow's C++ logs (absl) keep INFO and WARNING lines out at 2; errors show. 0 shows everything.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The same oneDNN kernels on every x86 CPU (TensorFlow's own default turns them on only on CPUs with
    # AVX512-VNNI, AVX-VNNI or AMX). This does not silence oneDNN's notice, it prints it.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if fast():
        return
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if cap not in ISAS or ISAS.index(cap) > ISAS.index(REPRODUCIBLE_ISA):
        os.environ["ONEDNN_MAX_CPU_ISA"] = REPRODUCIBLE_ISA
    os.environ["TF_NUM_INTRAOP_THREADS"] = REPRODUCIBLE_INTRA_OP_THREADS


def environment_as_started() -> dict[str, str]:
    """This process's environment without what configure() set in it, for a program it starts that must not inherit
    this process's settings: a script that a benchmark times as its user would run it, with TensorFlow's defaults."""
    env = dict(os.environ)
    for key, value in _as_started.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def machine() -> str:
    """One line on what computes this run: the CPU and its instruction sets, the cores it may use, how TensorFlow
    runs. For the run's log only: it must never enter an output, which is the same on every machine."""
    flags = _cpu_flags()
    features = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("amx_tile", "AMX")) if flag in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "the CPU's best")
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    how = f"{isa} kernels, {'one thread' if threads == '1' else 'all cores'} per op"
    if (isa, threads) == (REPRODUCIBLE_ISA, REPRODUCIBLE_INTRA_OP_THREADS):
        how += ": the same bytes on every AVX2 CPU"
    elif fast():
        how += f" ({FAST_ENV}=1): results differ in the last digits between machines"
    import tensorflow as tf

    cores_line = f"{cores} core" if cores == 1 else f"{cores} cores"
    return (
        f"{_cpu_name()} ({platform.machine()}; {', '.join(features) or 'no AVX2'}), {cores_line}, "
        f"TensorFlow {tf.__version__}: {how}"
    )


def _cpu_flags() -> set[str]:
    for line in _cpuinfo():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _cpu_name() -> str:
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "an unknown CPU"


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:  # not Linux
        return []
