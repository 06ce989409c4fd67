"""hessblock: Python bindings (ctypes + numpy) of libhessblock.

Hessian block-heterogeneity analysis in-process: parameter blocks over one flat vector,
models with exact Hessian-vector products, and (as the library grows) SLQ spectra,
optimizers and checkpoints. See docs/python.md.

    import hessblock as hb
    with hb.Context(seed=0) as ctx:
        model = hb.Model.from_callbacks(ctx, [("w", (3,))], loss_grad)
        model.params.data[:] = 1.0          # zero-copy view of the flat vector
        loss, grad = model.loss_grad()
        Hv = model.hvp(np.ones(3))

`hessblock.torch` (the PyTorch bridge: any torch.nn.Module as a model) is imported on
first use of `hessblock.torch`, never by `import hessblock`.

Each component lives in its own module (core, tensor, params, model, ...); a component
the loaded library lacks is simply not exported (see `components`).
"""
from ._version import __version__
from ._lib import declared as _declared  # noqa: F401
from .errors import (Error, InvalidArgument, OutOfMemory, ShapeError, DtypeError, NotFound,
                     NonFinite, FileIOError, FormatError, StateError, Unsupported, RangeError,
                     SizeOverflowError, CallbackError, Canceled, ClosedError, ArgumentTypeError,
                     error_class, strerror)
from .core import (Status, ContextOption, LogLevel, Distribution, Context, version_number,
                   version_string, library_path)
from .tensor import DType, Tensor, dtype_size, f32_to_bf16, bf16_to_f32
from .params import BlockKind, Init, BlockInfo, Params, block_kind_name
from .model import ModelKind, ModelKey, Activation, QuadraticFamily, ModelConfig, Model
from .model import BatchPart
from .data import idx_read, images_stats, FASHION_MNIST_DIR  # noqa: F401
from .model import BatchPart, TextSplit, TextCorpus

from . import slq as _slq, optim as _optim, checkpoint, study  # noqa: F401
from . import train as _train, sst as _sst, plot  # noqa: F401 (plot imports matplotlib lazily)
from .slq import (SLQOption, Reorth, Probe, EigWhich, JSGrid, LinOp, Spectrum, SLQ, TopK,
                  js_matrix, zero_flags, js_matrix_stderr)
from .checkpoint import CheckpointKey, CheckpointData, CheckpointInfo  # noqa: F401
from .optim import (OptimizerKind, OptimizerOption, Optimizer, save_checkpoint,
                    load_checkpoint, checkpoint_bytes, load_checkpoint_bytes)

from .train import TrainerOption, RecordKey, Trainer
from .sst import SSTMethod, SSTOption, SSTGradient, SSTReset, SSTConfig, SSTModel, SSTLayer
from . import net as _net
from .net import Net, Pool

# Components whose functions the loaded library has (classes of a missing one raise
# Unsupported when constructed).
components = ["core", "tensor", "params", "model"]
if _slq.AVAILABLE:
    components.append("slq")
if _optim.AVAILABLE:
    components.append("optim")
if checkpoint.AVAILABLE:
    components.append("checkpoint")
if _train.AVAILABLE:
    components.append("train")
if _sst.AVAILABLE:
    components.append("sst")
if _net.AVAILABLE:
    components.append("net")


def __getattr__(name):
    # hessblock.torch (the PyTorch bridge) is imported on first use only, so that
    # `import hessblock` never imports torch (CI has no torch; importing it costs seconds).
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
