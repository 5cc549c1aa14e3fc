/* The functions the kernel library exports, as rnnlab/kernels/native/__init__.py declares them to ctypes (_declare).
 * Each is documented where it is defined. */
#ifndef RNNLAB_RNN_KERNELS_H
#define RNNLAB_RNN_KERNELS_H

#include <stdint.h>

/* pool.h: the threads later calls may use (the caller included), test switches of the work sharing, and whether
 * a call is expected at a regular pace (tests) */
void rnnlab_set_threads(int n);
int rnnlab_get_threads(void);
void rnnlab_test_solo_at(int phase);
void rnnlab_test_split(int mode);
int rnnlab_test_call_expected(void);

/* forward.c: a whole layer's forward pass; for rnnlab/kernels/native_loops.py native_layer */
int rnn_forward_f32(int kind, int B, int T, int D, int M, const float *x, const float *W, const float *U,
                    const float *bias, float *h, float *c, float *prev, float *out, const uint8_t *mask,
                    int reverse, int zero_output, int threads, int packed);
int rnn_vector_width(void);
void rnnlab_test_precompute(int mode);
void rnnlab_test_block_order(int mode);

/* forward.c: GRU with reset_after=False; for rnnlab/kernels/native_loops.py _gru_v1_sequence */
void gru_sequence_f32(int B, int T, int M, const float *xw, const float *U, float *buf, const uint8_t *mask,
                      int zero_output, int has_out);

/* forward.c, backward.c, gemm.c: the training call of rnnlab/kernels/fused_training.py _sequence_call */
int rnn_train_forward_f32(int kind, int B, int T, int D, int M, const float *x, const float *W, const float *U,
                          const float *bias, float *h, float *c, float *prev, float *out, const uint8_t *mask,
                          int reverse, int zero_output, int threads, float *gates, float *hs, float *cs,
                          float *aux);
int rnn_train_backward_f32(int kind, int B, int T, int M, const float *U, const float *gates, const float *hs,
                           const float *cs, const float *aux, const uint8_t *mask, int zero_output,
                           const float *d_out, const float *d_last, float *dz, float *drh, float *dh, float *dc,
                           int want_initial, int threads);
int rnn_gemm_f32(int R1, const float *A1, int64_t a1_rs, int64_t a1_ks, int R2, const float *A2, int64_t a2_rs,
                 int64_t a2_ks, int K, int N, const float *Bm, int64_t b_ks, int64_t b_ns, float *C, float *colsum,
                 int threads);

#endif /* RNNLAB_RNN_KERNELS_H */
