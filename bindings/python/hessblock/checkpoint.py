"""Checkpoints (checkpoint.h): parameters + optimizer state + step count in one file or
buffer. `hb.checkpoint.save(path, params, opt)`, `load`, `to_bytes`, `from_bytes`, `size`."""
from .optim import (save_checkpoint as save, load_checkpoint as load,  # noqa: F401
                    checkpoint_size as size, checkpoint_bytes as to_bytes,
                    load_checkpoint_bytes as from_bytes, CHECKPOINT_AVAILABLE as AVAILABLE)
