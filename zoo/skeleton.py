"""Build a model on the meta device: its tensor shapes without their memory.

`zoo.load` compares these shapes with a weights file's header before allocating anything, so a
tampered config (`width=3000`) costs milliseconds, not gigabytes. Random initialisation is skipped
(meta tensors hold no values), and so is the Python meta kernel of a few ops whose first use would
import half of torch (seconds).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import torch
from torch.nn.modules import module as torch_module
from torch.overrides import TorchFunctionMode

# in-place ops that change a tensor's shape: everything else in-place (init.normal_, fill_, copy_, ...)
# leaves a meta tensor as it was
_RESHAPING_IN_PLACE = {
    "resize_",
    "resize_as_",
    "t_",
    "transpose_",
    "squeeze_",
    "unsqueeze_",
    "as_strided_",
    "set_",
    "swapdims_",
    "swapaxes_",
}

# ops whose meta kernels are Python (first use imports torch._dynamo: seconds): their output shape
_SHAPE_OF = {
    "normalize": lambda shape: shape,
    "mv": lambda shape: shape[:1],
    "vdot": lambda shape: (),
    "dot": lambda shape: (),
}

_ELEMENTWISE = {
    f"{prefix}{op}{suffix}"
    for op in ("add", "sub", "mul", "truediv", "div", "pow", "neg")
    for prefix, suffix in (("", ""), ("__", "__"), ("__r", "__"))
} | {"sqrt", "rsqrt", "abs"}


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcasting of two shapes (torch.broadcast_shapes imports sympy on first use)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise ValueError(f"shapes {a} and {b} do not broadcast")
    return tuple(y if x == 1 else x for x, y in zip(a, b))


class _ShapesOnly(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        kwargs = kwargs or {}
        first = args[0] if args else kwargs.get("tensor", kwargs.get("input"))  # nn.init passes tensor=
        if isinstance(first, torch.Tensor) and first.is_meta:
            if name.endswith("_") and not name.endswith("__") and name not in _RESHAPING_IN_PLACE:
                return first
            if name in _SHAPE_OF:  # spectral norm's power iteration at init
                return first.new_empty(_SHAPE_OF[name](first.shape))
            if name in _ELEMENTWISE and len(args) <= 2:
                other = args[1] if len(args) == 2 else None
                other_shape = other.shape if isinstance(other, torch.Tensor) else ()
                return first.new_empty(_broadcast(tuple(first.shape), tuple(other_shape)))
        if name in ("randn", "rand"):  # random values on meta: a slow Python kernel; the shape is all we need
            return torch.empty(*args, **{k: v for k, v in kwargs.items() if k != "generator"})
        return func(*args, **kwargs)


class TooManyTensors(RuntimeError):
    """The model being built registers more tensors than allowed."""


@contextlib.contextmanager
def registration_limit(limit: int):
    """Raise TooManyTensors when this thread registers more than `limit` parameters, buffers and modules
    (a config can ask for a billion layers; building them would take hours even on the meta device)."""
    me, count = threading.get_ident(), [0]

    def hook(*args):
        if threading.get_ident() == me:
            count[0] += 1
            if count[0] > limit:
                raise TooManyTensors(f"more than {limit} parameters, buffers and modules")

    handles = [
        torch_module.register_module_parameter_registration_hook(hook),
        torch_module.register_module_buffer_registration_hook(hook),
        torch_module.register_module_module_registration_hook(hook),
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def state_shapes(build: Callable[[], torch.nn.Module], max_registrations: int) -> dict[str, tuple[int, ...]]:
    """{state_dict key: shape} of the module `build()` makes, built on the meta device."""
    with torch.device("meta"), _ShapesOnly(), registration_limit(max_registrations):
        module = build()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}
