/* The library's CPython entry point, compiled when Python's headers are found (-DRNNLAB_PYEXT): the module
 * rnn_kernels with forward(), which takes NumPy buffers and calls rnn_forward_f32 without ctypes's conversions.
 *
 * Part of the one compilation unit rnn_kernels.c (see there). */
#ifdef RNNLAB_PYEXT
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include "rnn_kernels.h"

/* The address of a C-contiguous buffer (None -> NULL), or -1 with an exception set. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, void **ptr) {
    if (obj == Py_None) { view->obj = NULL; *ptr = NULL; return 0; }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
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
 * Arrays are C-contiguous buffers (bias, c, out, mask may be None).  Returns False, without computing, when x
 * holds NaN or infinity; True otherwise.  For rnnlab/kernels/native_loops.py _run. */
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
    Py_buffer views[9];
    void *ptrs[9];
    static const int writable[9] = {0, 0, 0, 0, 1, 1, 1, 1, 0};
    int n = 0;
    for (; n < 9; ++n)
        if (get_buffer(args[5 + n], &views[n], writable[n], &ptrs[n]) < 0) break;
    PyObject *result = NULL;
    if (n == 9) {
        const int B = ints[0], T = ints[1], D = ints[2], M = ints[3];
        int ok, rc = 0;
        Py_BEGIN_ALLOW_THREADS
        ok = all_finite((const float *)ptrs[0], (int64_t)B * T * D);
        if (ok)
            rc = rnn_forward_f32(kind, B, T, D, M, ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6],
                                 ptrs[7], ptrs[8], reverse, zero, threads, packed);
        Py_END_ALLOW_THREADS
        result = rc ? PyErr_NoMemory() : PyBool_FromLong(ok);
    }
    for (int k = 0; k < n; ++k)
        if (views[k].obj) PyBuffer_Release(&views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"forward", (PyCFunction)(void (*)(void))py_forward, METH_FASTCALL, "Run a whole LSTM/GRU layer."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "rnn_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit_rnn_kernels(void) { return PyModule_Create(&module); }
#endif
