/* Decimal parsing for the ladder (see ladder_decimal.h). */
#include "ladder_decimal.h"

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Plain decimals ("-123.4500"): exact when the digits fit in 53 bits and
 * there are at most 22 after the point, since both operands of the
 * division are then exact doubles and IEEE division rounds correctly. This
 * is the value float() gives. Anything else returns 0 for the slow path. */
static int fast_decimal(const char *s, Py_ssize_t n, double *out) {
    Py_ssize_t i = 0;
    int negative = 0;
    if (n > 0 && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    unsigned long long mantissa = 0;
    int digits = 0, fraction = -1, seen = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            seen = 1;
            if (mantissa == 0 && c == '0') {
                /* leading zeros add no significant digits */
            } else if (++digits > 19) {
                return 0;
            }
            mantissa = mantissa * 10 + (unsigned long long)(c - '0');
            if (fraction >= 0) fraction++;
        } else if (c == '.' && fraction < 0) {
            fraction = 0;
        } else {
            return 0;
        }
    }
    if (!seen || mantissa > (1ULL << 53) || fraction > 22) return 0;
    double value = (double)mantissa;
    if (fraction > 0) value /= POW10[fraction];
    *out = negative ? -value : value;
    return 1;
}

/* float(obj), with a fast path for ASCII decimal strings and floats. */
int l4_to_double(PyObject *obj, double *out) {
    if (PyUnicode_CheckExact(obj) && PyUnicode_IS_COMPACT_ASCII(obj)) {
        if (fast_decimal((const char *)PyUnicode_DATA(obj), PyUnicode_GET_LENGTH(obj), out)) return 0;
    } else if (PyFloat_CheckExact(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    PyObject *f = PyNumber_Float(obj);
    if (f == NULL) return -1;
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}
