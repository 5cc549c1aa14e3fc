/* The library's CPython entry point (compiled with -DRNNLAB_PYEXT, as setup.py does): the extension module
 * RNNLAB_MODULE (setup.py names one per variant, e.g. _rnnlab_kernels_avx2) with forward(), which takes NumPy
 * buffers and calls rnn_forward_f32 without ctypes's conversions, variant(), and runnable_variants(), the CPU check
 * that rnnlab/kernels/native/__init__.py uses to choose a variant.  The other exported functions are reached
 * through ctypes on the same file.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#ifdef RNNLAB_PYEXT
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include "rnn_kernels.h"

/* The address of a C-contiguous buffer of exactly `items` elements of `format` ('f': float32, 'B': uint8), in
 * *ptr (None -> NULL): 0; 1 when obj is not such a buffer (view->obj then NULL: nothing to release); -1 with an
 * exception set when obj has no buffer at all. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, char format, int64_t items, void **ptr) {
    view->obj = NULL;
    *ptr = NULL;
    if (obj == Py_None) return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        /* NumPy refuses a read-only array with ValueError, others with BufferError: the caller converts and calls
         * again.  An object with no buffer at all is the caller's error (TypeError). */
        if (!PyErr_ExceptionMatches(PyExc_BufferError) && !PyErr_ExceptionMatches(PyExc_ValueError)) return -1;
        PyErr_Clear();
        view->obj = NULL;
        return 1;
    }
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') ++f; /* native or little-endian order (x86-64, aarch64) */
    const int ok = f[0] == format && f[1] == 0 && view->itemsize == (format == 'f' ? 4 : 1) &&
                   PyBuffer_IsContiguous(view, 'C') && view->len == items * view->itemsize;
    if (!ok) {
        PyBuffer_Release(view);
        view->obj = NULL;
        return 1;
    }
    *ptr = view->buf;
    return 0;
}

static int all_finite(const float *x, int64_t n) {
    uint32_t bad = 0; /* NaN and +-Inf have every exponent bit set */
    for (int64_t i = 0; i < n; ++i) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* forward(kind, B, T, D, M, x, W, U, bias, h, c, prev, out, mask, reverse, zero_output, threads, packed)
 * Arrays are C-contiguous buffers (bias, c, out, mask may be None): float32, mask uint8.  Returns None, without
 * computing, when an array is not such a buffer or its size is not what the sizes say (the caller converts and
 * calls again); False, without computing, when x holds NaN or infinity; True otherwise.  For
 * rnnlab/kernels/native_loops.py _run and _plain_call. */
static PyObject *py_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 18) { PyErr_SetString(PyExc_TypeError, "forward() takes 18 arguments"); return NULL; }
    int ints[4];
    for (int k = 0; k < 4; ++k) {
        ints[k] = (int)PyLong_AsLong(args[1 + k]);
        if (ints[k] == -1 && PyErr_Occurred()) return NULL;
    }
    const int kind = (int)PyLong_AsLong(args[0]);
    const int reverse = PyObject_IsTrue(args[14]), zero = PyObject_IsTrue(args[15]);
    const int threads = (int)PyLong_AsLong(args[16]), packed = (int)PyLong_AsLong(args[17]);
    if (PyErr_Occurred()) return NULL;
    const int64_t B = ints[0], T = ints[1], D = ints[2], M = ints[3], G = kind == 0 ? 4 : 3;
    if (B < 0 || T < 0 || D < 0 || M < 0 || (kind != 0 && kind != 1)) {
        PyErr_SetString(PyExc_ValueError, "forward(): negative size or unknown kind");
        return NULL;
    }
    /* x, W, U, bias, h, c, prev, out, mask */
    const int64_t items[9] = {B * T * D, D * G * M, M * G * M, (kind == 0 ? 1 : 2) * G * M, B * M, B * M, B * M,
                              B * T * M, B * T};
    static const int writable[9] = {0, 0, 0, 0, 1, 1, 1, 1, 0};
    Py_buffer views[9];
    void *ptrs[9];
    int n = 0, rc_get = 0;
    for (; n < 9; ++n)
        if ((rc_get = get_buffer(args[5 + n], &views[n], writable[n], n == 8 ? 'B' : 'f', items[n], &ptrs[n])))
            break;
    PyObject *result = NULL;
    if (n == 9 && (!ptrs[0] || !ptrs[1] || !ptrs[2] || !ptrs[4] || !ptrs[6] || (kind == 0 && !ptrs[5]))) {
        PyErr_SetString(PyExc_TypeError, "forward(): x, W, U, h, prev (and c for an LSTM) may not be None");
    } else if (n == 9) {
        int ok, rc = 0;
        Py_BEGIN_ALLOW_THREADS
        ok = all_finite((const float *)ptrs[0], B * T * D);
        if (ok)
            rc = rnn_forward_f32(kind, (int)B, (int)T, (int)D, (int)M, ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4],
                                 ptrs[5], ptrs[6], ptrs[7], ptrs[8], reverse, zero, threads, packed);
        Py_END_ALLOW_THREADS
        result = rc ? PyErr_NoMemory() : PyBool_FromLong(ok);
    } else if (rc_get > 0) {
        result = Py_NewRef(Py_None);
    }
    for (int k = 0; k < n; ++k)
        if (views[k].obj) PyBuffer_Release(&views[k]);
    return result;
}

#ifndef RNNLAB_MODULE
#define RNNLAB_MODULE rnn_kernels
#endif
#ifndef RNNLAB_VARIANT
#define RNNLAB_VARIANT baseline
#endif
#define RNNLAB_STR_(a) #a
#define RNNLAB_STR(a) RNNLAB_STR_(a)
#define RNNLAB_CAT_(a, b) a##b
#define RNNLAB_CAT(a, b) RNNLAB_CAT_(a, b)

/* variant(): the name of the flags this module was compiled with (setup.py). */
static PyObject *py_variant(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return PyUnicode_FromString(RNNLAB_STR(RNNLAB_VARIANT));
}

/* runnable_variants(): the variants this CPU and its operating system can run, best first.  GCC's and clang's
 * __builtin_cpu_supports read cpuid and check that the OS saves the wide registers (xgetbv). */
static PyObject *py_runnable_variants(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (avx512) return Py_BuildValue("(sss)", "avx512", "avx2", "baseline");
    if (avx2) return Py_BuildValue("(ss)", "avx2", "baseline");
#endif
    return Py_BuildValue("(s)", "baseline");
}

static PyMethodDef methods[] = {
    {"forward", (PyCFunction)(void (*)(void))py_forward, METH_FASTCALL, "Run a whole LSTM/GRU layer."},
    {"variant", py_variant, METH_NOARGS, "The variant (compiler flags) of this module."},
    {"runnable_variants", py_runnable_variants, METH_NOARGS, "The variants this CPU can run, best first."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, RNNLAB_STR(RNNLAB_MODULE), NULL, -1, methods};

PyMODINIT_FUNC RNNLAB_CAT(PyInit_, RNNLAB_MODULE)(void) { return PyModule_Create(&module); }
#endif
