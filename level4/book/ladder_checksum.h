/* The text venues compute book checksums over (Kraken, OKX), written from
 * two ladders' own storage without a Python object per level. */
#ifndef LEVEL4_LADDER_CHECKSUM_H
#define LEVEL4_LADDER_CHECKSUM_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* checksum_text(first, second, depth, interleave=False, sep="", digits=False) -> bytes */
PyObject *l4_checksum_text(PyObject *module, PyObject *args, PyObject *kwds);

#endif
