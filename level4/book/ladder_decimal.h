/* Prices and sizes as doubles, parsed once per level: exact decimals fast,
 * anything else through float() itself, so the value is always float()'s. */
#ifndef LEVEL4_LADDER_DECIMAL_H
#define LEVEL4_LADDER_DECIMAL_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* float(obj) into *out (0), or -1 with a Python exception set. */
int l4_to_double(PyObject *obj, double *out);

#endif
