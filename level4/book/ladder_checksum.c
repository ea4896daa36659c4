/* Checksum text for the ladder (see ladder_checksum.h). */
#include "ladder_checksum.h"

#include <string.h>

#include "ladder_entry.h"

typedef struct {
    char *data;
    Py_ssize_t len, cap;
    int levels; /* written so far: every one after the first is preceded by sep */
    char stack[4096];
} Buffer;

static int buffer_reserve(Buffer *b, Py_ssize_t n) {
    if (b->len + n <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    char *data = b->data == b->stack ? PyMem_Malloc((size_t)cap) : PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->data == b->stack) memcpy(data, b->stack, (size_t)b->len);
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buffer_put(Buffer *b, const char *s, Py_ssize_t n) {
    if (buffer_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

/* A number's text as stored; `digits` keeps only its digits without leading
 * zeros ("0.0500" -> "500"). */
static int put_number(Buffer *b, PyObject *obj, int digits) {
    PyObject *text = NULL;
    const char *s;
    Py_ssize_t n;
    if (PyUnicode_CheckExact(obj) && PyUnicode_IS_COMPACT_ASCII(obj)) {
        s = (const char *)PyUnicode_DATA(obj);
        n = PyUnicode_GET_LENGTH(obj);
    } else {
        text = PyObject_Str(obj);
        if (text == NULL) return -1;
        s = PyUnicode_AsUTF8AndSize(text, &n);
        if (s == NULL) {
            Py_DECREF(text);
            return -1;
        }
    }
    int rc = 0;
    if (!digits) {
        rc = buffer_put(b, s, n);
    } else if (buffer_reserve(b, n) < 0) {
        rc = -1;
    } else {
        char *out = b->data + b->len;
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (s[i] == '.' || (k == 0 && s[i] == '0')) continue;
            out[k++] = s[i];
        }
        b->len += k;
    }
    Py_XDECREF(text);
    return rc;
}

static int put_level(Buffer *b, Entry *e, const char *sep, Py_ssize_t sep_len, int digits) {
    if (digits && sep_len == 0) {
        /* Kraken's form, the same few levels on top after every update: each
         * level's digits are worked out once and kept beside it */
        b->levels++;
        if (e->digits == NULL) {
            Py_ssize_t start = b->len;
            if (put_number(b, e->price, 1) < 0 || put_number(b, e->size, 1) < 0) return -1;
            e->digits = PyBytes_FromStringAndSize(b->data + start, b->len - start);
            return e->digits == NULL ? -1 : 0;
        }
        return buffer_put(b, PyBytes_AS_STRING(e->digits), PyBytes_GET_SIZE(e->digits));
    }
    if (b->levels++ > 0 && buffer_put(b, sep, sep_len) < 0) return -1;
    if (put_number(b, e->price, digits) < 0) return -1;
    if (buffer_put(b, sep, sep_len) < 0) return -1;
    return put_number(b, e->size, digits);
}

PyObject *l4_checksum_text(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"first", "second", "depth", "interleave", "sep", "digits", NULL};
    PyObject *first, *second;
    Py_ssize_t depth;
    int interleave = 0, digits = 0;
    const char *sep = "";
    Py_ssize_t sep_len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!n|ps#p", kwlist, &L4_LadderType, &first, &L4_LadderType, &second,
                                     &depth, &interleave, &sep, &sep_len, &digits))
        return NULL;
    Ladder *a = (Ladder *)first, *z = (Ladder *)second;
    Py_ssize_t na = depth < a->len ? depth : a->len, nz = depth < z->len ? depth : z->len;
    if (na < 0) na = 0;
    if (nz < 0) nz = 0;
    Buffer b;
    b.data = b.stack;
    b.len = 0;
    b.levels = 0;
    b.cap = sizeof(b.stack);
    int rc = 0;
    if (interleave) {
        for (Py_ssize_t i = 0; rc == 0 && i < (na > nz ? na : nz); i++) {
            if (i < na) rc = put_level(&b, &a->items[a->len - 1 - i], sep, sep_len, digits);
            if (rc == 0 && i < nz) rc = put_level(&b, &z->items[z->len - 1 - i], sep, sep_len, digits);
        }
    } else {
        for (Py_ssize_t i = 0; rc == 0 && i < na; i++) rc = put_level(&b, &a->items[a->len - 1 - i], sep, sep_len, digits);
        for (Py_ssize_t i = 0; rc == 0 && i < nz; i++) rc = put_level(&b, &z->items[z->len - 1 - i], sep, sep_len, digits);
    }
    PyObject *out = rc == 0 ? PyBytes_FromStringAndSize(b.data, b.len) : NULL;
    if (b.data != b.stack) PyMem_Free(b.data);
    return out;
}
