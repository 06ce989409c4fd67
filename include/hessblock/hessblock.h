/* libhessblock — Hessian block-heterogeneity analysis of neural networks, in-process.
 *
 * The one header a user includes. Components:
 *   core.h    status codes, versions, the context (allocator, threads, RNG, errors, log)
 *   tensor.h  dense row-major tensors (f32, f64, bf16 storage), owned or wrapping
 *   params.h  named parameter blocks over one flat vector
 *   model.h   objectives with exact gradients and Hessian-vector products
 *   optim.h   optimizers (SGD, Adam, AdamW, Adam-mini) and learning-rate schedules
 *   checkpoint.h  parameters + optimizer state saved and loaded atomically
 *   slq.h     linear operators, SLQ spectra, traces, top-k, Jensen–Shannon heterogeneity
 *   train.h   the training loop (steps, evaluation, records)
 *   sst.h     SST spectral layers and the LoRA baseline (wrapper models)
 *   net.h     networks: build your own model from named ops, with exact HVPs
 *   data.h    real data: IDX files (Fashion-MNIST) and image data for mlp/cnn
 *   comm.h    the communicator hook: SLQ work across processes (MPI: hessblock/mpi.h)
 * Conventions (docs/design.md): opaque handles; hb_X_create…(…, &out) / hb_X_free(NULL ok);
 * every fallible call returns HB_OK or a negative HB_E* code and leaves a message on
 * the context; the library never prints and never aborts. */
#ifndef HESSBLOCK_H
#define HESSBLOCK_H

#include "hessblock/version.h"
#include "hessblock/core.h"
#include "hessblock/tensor.h"
#include "hessblock/params.h"
#include "hessblock/model.h"
#include "hessblock/optim.h"
#include "hessblock/checkpoint.h"
#include "hessblock/slq.h"
#include "hessblock/train.h"
#include "hessblock/sst.h"
#include "hessblock/net.h"
#include "hessblock/data.h"
#include "hessblock/text.h"
#include "hessblock/comm.h"

#endif /* HESSBLOCK_H */
