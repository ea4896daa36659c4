/* The ladder's storage, shared by the ladder type (_ladder.c) and the
 * checksum text (ladder_checksum.c), which reads levels in place. */
#ifndef LEVEL4_LADDER_ENTRY_H
#define LEVEL4_LADDER_ENTRY_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    double rank;
    PyObject *price;
    PyObject *size;
    PyObject *count; /* a tuple level's third item, its order count; else NULL */
    PyObject *digits; /* its checksum digits (price's then size's) once asked for; else NULL */
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *items;
    Py_ssize_t len;
    Py_ssize_t cap;
    double sign;
} Ladder;

/* The Python type of a ladder (defined in _ladder.c). */
extern PyTypeObject L4_LadderType;

#endif
