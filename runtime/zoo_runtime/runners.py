"""How one batch of inputs becomes images on a session: three ways, chosen by the provider.

- `PlainRunner` (CPU): `session.run`; ONNX Runtime sessions may be run from many threads at once.
- `BoundRunner` (CUDA): IO binding with the uint8 output preallocated on the device per thread and
  batch size, so ORT allocates nothing per call and copies only the finished uint8 images back.
- `GraphRunner` (CUDA graphs): a session captured for one fixed batch; inputs and outputs live at
  fixed device addresses, smaller batches are padded, runs are serialised (a captured graph may not
  be replayed concurrently).

Bound and graph runners take a device name, so the tests run the very same code with "cpu" device
buffers; only the CUDA allocation and the graph capture itself need a GPU.
"""

from __future__ import annotations

import threading

import numpy as np

from zoo_runtime.package import OUTPUT_IMAGES


class PlainRunner:
    def __init__(self, session, image_shape: tuple[int, int, int]):
        self.session = session
        self.image_shape = image_shape

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([OUTPUT_IMAGES], feeds)[0]  # uint8 [n, H, W, C]


class BoundRunner:
    """IO binding: inputs copied from the host, the output written into a preallocated device buffer."""

    def __init__(
        self, session, image_shape: tuple[int, int, int], device: str = "cuda", device_id: int = 0, keep: int = 4
    ):
        self.session = session
        self.image_shape = image_shape
        self.device, self.device_id = device, device_id
        self.keep = keep  # output buffers kept per thread (distinct batch sizes)
        self._local = threading.local()

    def _output(self, n: int):
        import onnxruntime as ort

        buffers = self._local.__dict__.setdefault("buffers", {})
        if n not in buffers:
            if len(buffers) >= self.keep:
                buffers.pop(next(iter(buffers)))
            buffers[n] = ort.OrtValue.ortvalue_from_shape_and_type(
                (n, *self.image_shape), np.uint8, self.device, self.device_id
            )
        return buffers[n]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        n = len(feeds["z"])
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        out = self._output(n)
        binding.bind_ortvalue_output(OUTPUT_IMAGES, out)
        binding.synchronize_inputs()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        images = out.numpy()  # from a device buffer this is a copy on the host
        return images.copy() if self.device == "cpu" else images  # the buffer is reused by the next call


def pad_rows(value: np.ndarray, rows: int) -> np.ndarray:
    """`value` grown to `rows` rows by repeating its first row (a valid input: a padded label stays
    in range, a padded latent is a real latent); the extra outputs are dropped."""
    if len(value) == rows:
        return value
    extra = np.repeat(value[:1], rows - len(value), axis=0)
    return np.concatenate([value, extra])


class GraphRunner:
    """A fixed-batch session (CUDA graph capture on the GPU): inputs and output at fixed addresses."""

    def __init__(
        self,
        session,
        image_shape: tuple[int, int, int],
        batch: int,
        input_specs: dict[str, tuple],
        device: str = "cuda",
        device_id: int = 0,
    ):
        import onnxruntime as ort

        self.session = session
        self.image_shape = image_shape
        self.batch = batch
        self._lock = threading.Lock()
        self._inputs = {
            name: ort.OrtValue.ortvalue_from_shape_and_type((batch, *shape), dtype, device, device_id)
            for name, (shape, dtype) in input_specs.items()
        }
        self._output = ort.OrtValue.ortvalue_from_shape_and_type((batch, *image_shape), np.uint8, device, device_id)
        self._binding = session.io_binding()
        for name, value in self._inputs.items():
            self._binding.bind_ortvalue_input(name, value)
        self._binding.bind_ortvalue_output(OUTPUT_IMAGES, self._output)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        n = len(feeds["z"])
        out = np.empty((n, *self.image_shape), np.uint8)
        for start in range(0, n, self.batch):
            stop = min(n, start + self.batch)
            with self._lock:
                for name, value in feeds.items():
                    chunk = np.ascontiguousarray(pad_rows(value[start:stop], self.batch))
                    self._inputs[name].update_inplace(chunk)
                self.session.run_with_iobinding(self._binding)
                out[start:stop] = self._output.numpy()[: stop - start]
        return out
