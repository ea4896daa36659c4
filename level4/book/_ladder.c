/* One side of an order book in C: the native twin of level4/book/pyladder.py.
 *
 * A ladder is an array of levels sorted by rank, best last. A bid's rank is
 * its price, an ask's the negated price, so on both sides a greater rank is
 * a better level. Almost every change a venue sends is near the top, so a
 * binary search and a short memmove at the array's end is all most changes
 * cost.
 *
 * A level keeps the venue's own price and size objects (decimal strings, in
 * practice) and an optional order count; the price is parsed once, when the
 * level is set. Nothing the venue sent is rounded: the double only orders
 * and identifies levels, as float(price) does in the pure twin.
 *
 * Stored objects are leaf values (str, int, float), which can never refer
 * back to a ladder, so the type takes no part in cyclic garbage collection;
 * that also keeps a deep book's levels out of every collection's walk.
 *
 * This file is the type and the module; prices are parsed by
 * ladder_decimal.c and checksum text is written by ladder_checksum.c, over
 * the storage declared in ladder_entry.h.
 */
#include "ladder_entry.h" /* Python.h first, as the C API asks */

#include <math.h>
#include <string.h>

#include "ladder_checksum.h"
#include "ladder_decimal.h"

/* A level as the scheme passed it: a venue's own list [price, size, ...]
 * (whatever follows the size is the venue's) or a tuple (price, size[,
 * count]) built by the scheme, whose third item is always an order count. */
typedef struct {
    double rank;
    int zero;
    PyObject *price; /* new references */
    PyObject *size;
    PyObject *count;
    Py_ssize_t order; /* its place in what was sent: the last of equal prices wins */
} Parsed;

static void parsed_release(Parsed *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_XDECREF(p[i].price);
        Py_XDECREF(p[i].size);
        Py_XDECREF(p[i].count);
    }
}

static int parse_level(Ladder *self, PyObject *level, Parsed *out) {
    out->price = out->size = out->count = NULL;
    Py_ssize_t n;
    if (PyTuple_CheckExact(level)) {
        n = PyTuple_GET_SIZE(level);
        if (n >= 2) {
            out->price = Py_NewRef(PyTuple_GET_ITEM(level, 0));
            out->size = Py_NewRef(PyTuple_GET_ITEM(level, 1));
            if (n >= 3) out->count = Py_NewRef(PyTuple_GET_ITEM(level, 2));
        }
    } else if (PyList_CheckExact(level)) {
        n = PyList_GET_SIZE(level);
        if (n >= 2) {
            out->price = Py_NewRef(PyList_GET_ITEM(level, 0));
            out->size = Py_NewRef(PyList_GET_ITEM(level, 1));
        }
    } else {
        /* not even "12", which as a sequence would read as price 1, size 2 */
        PyErr_Format(PyExc_TypeError, "a level is a list or a tuple, not %.100s", Py_TYPE(level)->tp_name);
        return -1;
    }
    if (out->price == NULL) {
        PyErr_Format(PyExc_ValueError, "a level needs a price and a size: %R", level);
        return -1;
    }
    double price, size;
    if (l4_to_double(out->price, &price) < 0 || l4_to_double(out->size, &size) < 0) return -1;
    /* a NaN would break the array's order; no venue quotes an infinite or negative size */
    if (!isfinite(price) || !isfinite(size) || size < 0.0) {
        PyErr_Format(PyExc_ValueError, "not a price and a size: %R", level);
        return -1;
    }
    out->rank = self->sign * price;
    out->zero = size == 0.0;
    return 0;
}

/* Every level parsed before any is applied: a bad one changes nothing. */
static Parsed *parse_all(Ladder *self, PyObject *levels, Py_ssize_t *count, Parsed *stack, Py_ssize_t stack_len) {
    PyObject *seq = PySequence_Fast(levels, "levels must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Parsed *parsed = n <= stack_len ? stack : PyMem_Malloc(sizeof(Parsed) * (size_t)n);
    if (parsed == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (parse_level(self, items[i], &parsed[i]) < 0) {
            parsed_release(parsed, i + 1);
            if (parsed != stack) PyMem_Free(parsed);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *count = n;
    return parsed;
}

/* --- storage ------------------------------------------------------------ */

static int reserve(Ladder *self, Py_ssize_t want) {
    if (want <= self->cap) return 0;
    Py_ssize_t cap = self->cap ? self->cap : 16;
    while (cap < want) cap *= 2;
    Entry *items = PyMem_Realloc(self->items, sizeof(Entry) * (size_t)cap);
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->items = items;
    self->cap = cap;
    return 0;
}

static void entry_release(Entry *e) {
    Py_XDECREF(e->price);
    Py_XDECREF(e->size);
    Py_XDECREF(e->count);
    Py_CLEAR(e->digits);
}

static void release_all(Ladder *self) {
    for (Py_ssize_t i = 0; i < self->len; i++) entry_release(&self->items[i]);
    self->len = 0;
}

/* The first index whose rank is not below `rank`. */
static Py_ssize_t lower_bound(Ladder *self, double rank) {
    Py_ssize_t lo = 0, hi = self->len;
    /* most changes are at the top: look there first */
    if (hi > 0 && self->items[hi - 1].rank < rank) return hi;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (self->items[mid].rank < rank)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Takes the parsed level's references. */
static void set_level(Ladder *self, Parsed *p) {
    Py_ssize_t at = lower_bound(self, p->rank);
    int found = at < self->len && self->items[at].rank == p->rank;
    if (p->zero) {
        if (found) {
            entry_release(&self->items[at]);
            memmove(&self->items[at], &self->items[at + 1], sizeof(Entry) * (size_t)(self->len - at - 1));
            self->len--;
        }
        Py_DECREF(p->price);
        Py_DECREF(p->size);
        Py_XDECREF(p->count);
        return;
    }
    if (found) {
        entry_release(&self->items[at]);
    } else {
        memmove(&self->items[at + 1], &self->items[at], sizeof(Entry) * (size_t)(self->len - at));
        self->len++;
    }
    Entry *e = &self->items[at];
    e->rank = p->rank;
    e->price = p->price;
    e->size = p->size;
    e->count = p->count;
    e->digits = NULL;
}

static PyObject *entry_tuple(Entry *e) {
    if (e->count != NULL) return PyTuple_Pack(3, e->price, e->size, e->count);
    return PyTuple_Pack(2, e->price, e->size);
}

/* --- methods ------------------------------------------------------------ */

static int Ladder_init(Ladder *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"sign", NULL};
    double sign;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "d", kwlist, &sign)) return -1;
    if (sign != 1.0 && sign != -1.0) {
        PyErr_SetString(PyExc_ValueError, "sign must be 1.0 (bids) or -1.0 (asks)");
        return -1;
    }
    release_all(self);
    self->sign = sign;
    return 0;
}

static void Ladder_dealloc(Ladder *self) {
    release_all(self);
    PyMem_Free(self->items);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define STACK_LEVELS 64

static PyObject *Ladder_apply(Ladder *self, PyObject *levels) {
    Parsed stack[STACK_LEVELS];
    Py_ssize_t n = 0;
    Parsed *parsed = parse_all(self, levels, &n, stack, STACK_LEVELS);
    if (parsed == NULL) return NULL;
    if (reserve(self, self->len + n) < 0) {
        parsed_release(parsed, n);
        if (parsed != stack) PyMem_Free(parsed);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) set_level(self, &parsed[i]);
    if (parsed != stack) PyMem_Free(parsed);
    Py_RETURN_NONE;
}

static int by_rank_then_order(const void *a, const void *b) {
    const Parsed *x = a, *y = b;
    if (x->rank < y->rank) return -1;
    if (x->rank > y->rank) return 1;
    return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

static PyObject *Ladder_replace(Ladder *self, PyObject *levels) {
    Parsed stack[STACK_LEVELS];
    Py_ssize_t n = 0;
    Parsed *parsed = parse_all(self, levels, &n, stack, STACK_LEVELS);
    if (parsed == NULL) return NULL;
    if (reserve(self, n) < 0) {
        parsed_release(parsed, n);
        if (parsed != stack) PyMem_Free(parsed);
        return NULL;
    }
    release_all(self);
    /* zero sizes are no levels; a snapshot's zero never deletes an earlier duplicate */
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (parsed[i].zero) {
            parsed_release(&parsed[i], 1);
        } else {
            parsed[kept++] = parsed[i];
        }
    }
    /* Venues send each side best first (ranks descending) or, rarely,
     * ascending; either is put in order in one pass, anything else sorted. */
    int descending = 1, ascending = 1;
    for (Py_ssize_t i = 1; i < kept && (descending || ascending); i++) {
        if (!(parsed[i].rank < parsed[i - 1].rank)) descending = 0;
        if (!(parsed[i].rank > parsed[i - 1].rank)) ascending = 0;
    }
    if (descending) {
        for (Py_ssize_t i = 0, j = kept - 1; i < j; i++, j--) {
            Parsed swap = parsed[i];
            parsed[i] = parsed[j];
            parsed[j] = swap;
        }
    } else if (!ascending) {
        /* by rank, then by sending order: of equal ranks the last sent is kept
         * below, as in the pure twin's dict */
        for (Py_ssize_t i = 0; i < kept; i++) parsed[i].order = i;
        qsort(parsed, (size_t)kept, sizeof(Parsed), by_rank_then_order);
    }
    Py_ssize_t len = 0;
    for (Py_ssize_t i = 0; i < kept; i++) {
        Parsed *p = &parsed[i];
        if (i + 1 < kept && parsed[i + 1].rank == p->rank) {
            parsed_release(p, 1);
            continue;
        }
        self->items[len++] = (Entry){p->rank, p->price, p->size, p->count};
    }
    self->len = len;
    if (parsed != stack) PyMem_Free(parsed);
    Py_RETURN_NONE;
}

static PyObject *Ladder_best(Ladder *self, PyObject *Py_UNUSED(ignored)) {
    if (self->len == 0) Py_RETURN_NONE;
    return entry_tuple(&self->items[self->len - 1]);
}

static PyObject *Ladder_best_rank(Ladder *self, PyObject *Py_UNUSED(ignored)) {
    if (self->len == 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->items[self->len - 1].rank);
}

static Py_ssize_t depth_arg(Ladder *self, PyObject *const *args, Py_ssize_t nargs, int *ok) {
    *ok = 1;
    if (nargs == 0 || args[0] == Py_None) return self->len;
    Py_ssize_t depth = PyLong_AsSsize_t(args[0]);
    if (depth == -1 && PyErr_Occurred()) {
        *ok = 0;
        return 0;
    }
    if (depth < 0) depth = 0;
    return depth < self->len ? depth : self->len;
}

static PyObject *Ladder_levels(Ladder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "levels takes at most one argument (depth)");
        return NULL;
    }
    int ok;
    Py_ssize_t depth = depth_arg(self, args, nargs, &ok);
    if (!ok) return NULL;
    PyObject *out = PyList_New(depth);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < depth; i++) {
        PyObject *level = entry_tuple(&self->items[self->len - 1 - i]);
        if (level == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, level);
    }
    return out;
}

static PyObject *Ladder_truncate(Ladder *self, PyObject *arg) {
    Py_ssize_t depth = PyLong_AsSsize_t(arg);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    if (depth < 0) depth = 0;
    Py_ssize_t extra = self->len - depth;
    if (extra > 0) {
        for (Py_ssize_t i = 0; i < extra; i++) entry_release(&self->items[i]);
        memmove(&self->items[0], &self->items[extra], sizeof(Entry) * (size_t)depth);
        self->len = depth;
    }
    Py_RETURN_NONE;
}

static PyObject *Ladder_clear(Ladder *self, PyObject *Py_UNUSED(ignored)) {
    release_all(self);
    Py_RETURN_NONE;
}

static Py_ssize_t Ladder_len(Ladder *self) { return self->len; }

static PyMethodDef Ladder_methods[] = {
    {"apply", (PyCFunction)Ladder_apply, METH_O, "Set these levels; a zero size removes the level."},
    {"replace", (PyCFunction)Ladder_replace, METH_O, "Hold exactly these levels (zero sizes skipped)."},
    {"best", (PyCFunction)Ladder_best, METH_NOARGS, "The best level, or None."},
    {"best_rank", (PyCFunction)Ladder_best_rank, METH_NOARGS, "The best level's rank, or None."},
    {"levels", (PyCFunction)(void (*)(void))Ladder_levels, METH_FASTCALL, "Levels best first, down to depth."},
    {"truncate", (PyCFunction)Ladder_truncate, METH_O, "Keep only the best depth levels."},
    {"clear", (PyCFunction)Ladder_clear, METH_NOARGS, "Remove every level."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Ladder_as_sequence = {
    .sq_length = (lenfunc)Ladder_len,
};

PyTypeObject L4_LadderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "level4.book._ladder.Ladder",
    .tp_doc = PyDoc_STR("One side of a book: levels sorted by rank, best last."),
    .tp_basicsize = sizeof(Ladder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Ladder_init,
    .tp_dealloc = (destructor)Ladder_dealloc,
    .tp_methods = Ladder_methods,
    .tp_as_sequence = &Ladder_as_sequence,
};

static PyMethodDef module_methods[] = {
    {"checksum_text", (PyCFunction)(void (*)(void))l4_checksum_text, METH_VARARGS | METH_KEYWORDS,
     "The text a venue's book checksum is computed over (see pyladder.checksum_text)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ladder_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "level4.book._ladder",
    .m_doc = "One side of an order book, in C (see level4/book/pyladder.py for its pure twin).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__ladder(void) {
    if (PyType_Ready(&L4_LadderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&ladder_module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Ladder", (PyObject *)&L4_LadderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
