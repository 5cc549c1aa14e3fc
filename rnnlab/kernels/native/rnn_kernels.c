/* Compiled forward loops for rnnlab's LSTM and GRU (float32, Keras default activations tanh / sigmoid), and the
 * backward pass of their training call.
 *
 * They compute the equations of rnnlab/cells/{lstm,gru}.py with Keras's mask semantics (see
 * rnnlab/layers/rnn.py): at a masked step the state is kept and the output repeats the previous output, or is
 * zero with zero_output.  Each function that mirrors a Python function names it in its comment.
 *
 * This file is the library's one compilation unit: it includes the parts below, in this order, so the compiler
 * sees the whole library at once (static functions inline across parts, and the pool's state exists once).  The
 * parts are not compiled on their own.
 *
 *   rnn_kernels.h  the exported functions, as rnnlab/kernels/native/__init__.py declares them
 *   simd.h         the vector type and its tanh and sigmoid (a rational approximation, |error| < 3e-7)
 *   pool.h         rnnlab's own thread pool, its barrier, and how a call's threads share rows or units
 *   product.h      the register-blocked product of a tile of rows and a block of units
 *   forward.c      rnn_forward_f32 and rnn_train_forward_f32: a whole layer from its raw inputs (LSTM, GRU with
 *                  reset_after); gru_sequence_f32: GRU with reset_after=False on one thread
 *   backward.c     rnn_train_backward_f32: backpropagation through time over what the training forward saved
 *   gemm.c         rnn_gemm_f32: the weight and input gradients as products over all B*T rows
 *   pyext.c        the CPython entry point of each extension module setup.py builds (one per variant)
 *
 * Inference (rnnlab/kernels/native_loops.py) calls rnn_forward_f32 and gru_sequence_f32.  Training
 * (rnnlab/kernels/fused_training.py) uses the same loop and pool: rnn_train_forward_f32 is rnn_forward_f32 that also
 * saves each step's gates and states, rnn_train_backward_f32 runs backpropagation through time over them, and
 * rnn_gemm_f32 computes the weight and input gradients.
 */
#define _GNU_SOURCE
#include "rnn_kernels.h"
#include "simd.h"
#include "pool.h"
#include "product.h"
#include "forward.c"
#include "backward.c"
#include "gemm.c"
#include "pyext.c"
