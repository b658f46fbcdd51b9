/*
 * _attestchain: the CPython binding of libattestchain, under the Python
 * package `attestchain` (python/attestchain/), which gives it the original
 * store's interface.
 *
 * The decision that shapes it: the C API directly, not cffi, so that every
 * library call runs with the GIL released (fsync, hashing, verification and
 * the flock wait never stall other Python threads) while one lock per handle
 * keeps a handle to one thread at a time, as the library requires.  This file
 * only moves values across: records come back as tuples of Python values and
 * JSON text, errors as LibError(code, errno, index, message); the Python
 * layer gives them their shapes and exception classes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <attestchain.h>

static PyObject *lib_error; /* set once at import; the module is single-phase */

/* Raises LibError(code, sys_errno, index, message) from a library error. */
static PyObject *raise_ac(const ac_error *e)
{
    PyObject *msg = PyUnicode_DecodeUTF8(e->message, (Py_ssize_t)strnlen(e->message,
                                         sizeof e->message), "replace");
    if (msg == NULL)
        return NULL;
    PyObject *args = Py_BuildValue("(iiLN)", e->code, e->sys_errno, (long long)e->index, msg);
    if (args != NULL) {
        PyErr_SetObject(lib_error, args);
        Py_DECREF(args);
    }
    return NULL;
}

static PyObject *raise_closed(void)
{
    PyErr_SetString(PyExc_ValueError, "operation on a closed chain store");
    return NULL;
}

/* ------------------------------------------------------------------ keys */

typedef struct {
    PyObject_HEAD
    ac_key *key;
} KeyObject;

static PyTypeObject Key_Type;

static PyObject *key_wrap(ac_key *k)
{
    KeyObject *o = PyObject_New(KeyObject, &Key_Type);
    if (o == NULL) {
        ac_key_free(k);
        return NULL;
    }
    o->key = k;
    return (PyObject *)o;
}

static void Key_dealloc(KeyObject *self)
{
    ac_key_free(self->key); /* wipes the secret */
    PyObject_Free(self);
}

static PyObject *Key_generate(PyObject *cls, PyObject *unused)
{
    (void)cls;
    (void)unused;
    ac_key *k;
    ac_error err;
    if (ac_key_generate(&k, &err) != AC_OK)
        return raise_ac(&err);
    return key_wrap(k);
}

static PyObject *Key_load(PyObject *cls, PyObject *arg)
{
    (void)cls;
    PyObject *bytes;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    ac_key *k;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_key_load(PyBytes_AS_STRING(bytes), &k, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (rc != AC_OK)
        return raise_ac(&err);
    return key_wrap(k);
}

/* A PKCS#8 PEM held in memory.  The library loads keys from paths only, so
 * the PEM goes through an anonymous memory file (memfd), never the disk. */
static PyObject *Key_from_pem(PyObject *cls, PyObject *arg)
{
    (void)cls;
    Py_buffer pem;
    if (PyObject_GetBuffer(arg, &pem, PyBUF_SIMPLE) != 0)
        return NULL;
    int fd = memfd_create("attestchain-key", MFD_CLOEXEC);
    if (fd < 0) {
        PyBuffer_Release(&pem);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    const char *p = pem.buf;
    size_t left = (size_t)pem.len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = errno;
            close(fd);
            PyBuffer_Release(&pem);
            errno = saved ? saved : EIO;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        p += n;
        left -= (size_t)n;
    }
    PyBuffer_Release(&pem);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ac_key *k;
    ac_error err;
    int rc = ac_key_load(path, &k, &err);
    close(fd);
    if (rc != AC_OK)
        return raise_ac(&err);
    return key_wrap(k);
}

static PyObject *Key_save(KeyObject *self, PyObject *arg)
{
    PyObject *bytes;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_key_save(self->key, PyBytes_AS_STRING(bytes), &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (rc != AC_OK)
        return raise_ac(&err);
    Py_RETURN_NONE;
}

static PyObject *Key_public_key(KeyObject *self, void *unused)
{
    (void)unused;
    uint8_t pub[AC_PUBKEY_SIZE];
    ac_key_pubkey(self->key, pub);
    return PyBytes_FromStringAndSize((const char *)pub, sizeof pub);
}

static PyMethodDef Key_methods[] = {
    {"generate", Key_generate, METH_NOARGS | METH_CLASS, "A new key from the system's randomness."},
    {"load", Key_load, METH_O | METH_CLASS, "Loads a PKCS#8 PEM Ed25519 private key file."},
    {"from_pem", Key_from_pem, METH_O | METH_CLASS, "A key from PKCS#8 PEM bytes."},
    {"save", (PyCFunction)Key_save, METH_O,
     "Writes the key as PKCS#8 PEM to a new file (mode 0600); never overwrites."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Key_getset[] = {
    {"public_key", (getter)Key_public_key, NULL, "The 32-byte Ed25519 public key.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Key_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "attestchain._attestchain.Key",
    .tp_basicsize = sizeof(KeyObject),
    .tp_dealloc = (destructor)Key_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An Ed25519 signing key held by the library; its secret is wiped when freed.",
    .tp_methods = Key_methods,
    .tp_getset = Key_getset,
};

/* ------------------------------------------------------------------ chains */

typedef struct {
    PyObject_HEAD
    ac_chain *chain;          /* NULL once closed */
    PyThread_type_lock lock;  /* one thread in the library per handle */
    pid_t pid;                /* the process that opened `chain` */
    unsigned flags;           /* ac_chain_open's, to open it again after fork() */
} ChainObject;

static PyTypeObject Chain_Type;

/* Takes the handle's lock; a thread that must wait for it releases the GIL
 * meanwhile, so the holder can finish its call. */
static void chain_lock(ChainObject *c)
{
    if (!PyThread_acquire_lock(c->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(c->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

/* A store used in a child of fork(): the inherited handle shares its open
 * file description, and so its flock, with the parent's, so appends through
 * both would not exclude each other; and its in-memory state is the
 * parent's.  It is left untouched (never used, closed or freed here: closing
 * could write the parent's state.cbor), as is the lock, which a thread that
 * does not exist here may hold; the child opens the chain for itself.
 * Called with the GIL held, which keeps other threads out meanwhile. */
static int chain_adopt(ChainObject *c, int reopen)
{
    PyThread_type_lock lock = PyThread_allocate_lock();
    if (lock == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->lock = lock;
    c->pid = getpid();
    ac_chain *inherited = c->chain;
    c->chain = NULL;
    if (inherited == NULL || !reopen)
        return 0;
    ac_error err;
    if (ac_chain_open(ac_chain_dir(inherited), c->flags & ~AC_OPEN_CREATE, &c->chain, &err) !=
        AC_OK) {
        c->chain = NULL;
        raise_ac(&err);
        return -1;
    }
    return 0;
}

/* Takes the handle's lock.  Fails with ValueError when the store is closed
 * (then the lock is not held). */
static int chain_enter(ChainObject *c)
{
    if (c->pid != getpid() && chain_adopt(c, 1) != 0)
        return -1;
    chain_lock(c);
    if (c->chain == NULL) {
        PyThread_release_lock(c->lock);
        raise_closed();
        return -1;
    }
    return 0;
}

static void chain_leave(ChainObject *c)
{
    PyThread_release_lock(c->lock);
}

static PyObject *Chain_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"dir", "create", "readonly", NULL};
    PyObject *dir;
    int create = 1, readonly = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|pp", names, PyUnicode_FSConverter, &dir,
                                     &create, &readonly))
        return NULL;
    ChainObject *self = (ChainObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(dir);
        return NULL;
    }
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(dir);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->pid = getpid();
    self->flags = (create ? AC_OPEN_CREATE : 0) | (readonly ? AC_OPEN_READONLY : 0);
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_chain_open(PyBytes_AS_STRING(dir), self->flags, &self->chain, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(dir);
    if (rc != AC_OK) {
        Py_DECREF(self);
        return raise_ac(&err);
    }
    return (PyObject *)self;
}

static PyObject *Chain_close(ChainObject *self, PyObject *unused)
{
    (void)unused;
    if (self->pid != getpid()) { /* inherited through fork(): not this process's */
        if (chain_adopt(self, 0) != 0)
            return NULL;
        Py_RETURN_NONE;
    }
    chain_lock(self);
    if (self->chain == NULL) {
        chain_leave(self);
        Py_RETURN_NONE; /* closing twice is fine, as for files */
    }
    ac_chain *c = self->chain;
    self->chain = NULL;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_chain_close(c, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc != AC_OK)
        return raise_ac(&err);
    Py_RETURN_NONE;
}

static void Chain_dealloc(ChainObject *self)
{
    if (self->pid != getpid()) { /* inherited through fork(): see chain_adopt */
        Py_TYPE(self)->tp_free((PyObject *)self);
        return;
    }
    if (self->chain != NULL) {
        ac_error err;
        Py_BEGIN_ALLOW_THREADS
        ac_chain_close(self->chain, &err); /* the handle is freed even on failure */
        Py_END_ALLOW_THREADS
    }
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *bytes_of(const uint8_t *p, size_t n)
{
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

static PyObject *Chain_state(ChainObject *self, PyObject *unused)
{
    (void)unused;
    if (chain_enter(self) != 0)
        return NULL;
    ac_state st;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_chain_state(self->chain, &st, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc == AC_ENOTFOUND)
        Py_RETURN_NONE;
    if (rc != AC_OK)
        return raise_ac(&err);
    return Py_BuildValue("(NKNKKKKKN)", bytes_of(st.chain_id, AC_HASH_SIZE),
                         (unsigned long long)st.head_index, bytes_of(st.head_hash, AC_HASH_SIZE),
                         (unsigned long long)st.record_count, (unsigned long long)st.created_at,
                         (unsigned long long)st.last_append_at, (unsigned long long)st.chain_size,
                         (unsigned long long)st.head_offset, bytes_of(st.signer, AC_PUBKEY_SIZE));
}

static PyObject *Chain_is_empty(ChainObject *self, PyObject *unused)
{
    (void)unused;
    if (chain_enter(self) != 0)
        return NULL;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_chain_is_empty(self->chain, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc < 0)
        return raise_ac(&err);
    return PyBool_FromLong(rc);
}

/* A record with its JSON text, made while the GIL is released. */
typedef struct {
    ac_record *rec;
    char *meta, *witnesses;
} loaded_record;

static int record_load_json(loaded_record *lr, ac_error *err)
{
    int rc = ac_record_metadata_json(lr->rec, &lr->meta, err);
    if (rc == AC_OK)
        rc = ac_record_witnesses_json(lr->rec, &lr->witnesses, err);
    return rc;
}

static void record_release(loaded_record *lr)
{
    ac_record_free(lr->rec);
    ac_free(lr->meta);
    ac_free(lr->witnesses);
    memset(lr, 0, sizeof *lr);
}

/* (version, record_id, chain_index, prev_hash, content_hash, content_type,
 *  metadata_json, claimed_ts, witnesses_json, signer_pubkey, signature,
 *  record_hash, offset); frees the record. */
static PyObject *record_tuple(loaded_record *lr)
{
    const ac_record *r = lr->rec;
    const char *ct = ac_record_content_type(r);
    PyObject *t = Py_BuildValue(
        "(KNKNNNNKNNNNK)", (unsigned long long)ac_record_version(r),
        bytes_of(ac_record_id(r), AC_RECORD_ID_SIZE), (unsigned long long)ac_record_index(r),
        bytes_of(ac_record_prev_hash(r), AC_HASH_SIZE),
        bytes_of(ac_record_content_hash(r), AC_HASH_SIZE),
        PyUnicode_DecodeUTF8(ct, (Py_ssize_t)strlen(ct), "strict"),
        PyUnicode_DecodeUTF8(lr->meta, (Py_ssize_t)strlen(lr->meta), "strict"),
        (unsigned long long)ac_record_claimed_ts(r),
        PyUnicode_DecodeUTF8(lr->witnesses, (Py_ssize_t)strlen(lr->witnesses), "strict"),
        bytes_of(ac_record_signer(r), AC_PUBKEY_SIZE),
        bytes_of(ac_record_signature(r), AC_SIGNATURE_SIZE), bytes_of(ac_record_hash(r),
        AC_HASH_SIZE), (unsigned long long)ac_record_offset(r));
    record_release(lr);
    return t;
}

/* get(index) or, with index None, the head; None when the chain is empty
 * and the head was asked for. */
static PyObject *chain_fetch(ChainObject *self, int head, unsigned long long index)
{
    if (chain_enter(self) != 0)
        return NULL;
    loaded_record lr = {0};
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = head ? ac_chain_head(self->chain, &lr.rec, &err)
              : ac_chain_get_verified(self->chain, (uint64_t)index, &lr.rec, &err);
    if (rc == AC_OK)
        rc = record_load_json(&lr, &err);
    if (rc != AC_OK)
        record_release(&lr);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (head && rc == AC_ENOTFOUND)
        Py_RETURN_NONE;
    if (rc != AC_OK)
        return raise_ac(&err);
    return record_tuple(&lr);
}

static PyObject *Chain_get(ChainObject *self, PyObject *arg)
{
    unsigned long long index = PyLong_AsUnsignedLongLong(arg);
    if (index == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return chain_fetch(self, 0, index);
}

static PyObject *Chain_head(ChainObject *self, PyObject *unused)
{
    (void)unused;
    return chain_fetch(self, 1, 0);
}

/* records(start, end, max) -> up to `max` records start..end (inclusive;
 * the library stops at the head) as tuples.  The library's iterator lives
 * inside this one call, under the handle's lock, so no append on the handle
 * can come between its steps; Python iterates by calling again from the next
 * index.  An error after some records returns those, and the next call meets
 * it first. */
static PyObject *Chain_records(ChainObject *self, PyObject *args)
{
    unsigned long long start, end;
    Py_ssize_t max;
    if (!PyArg_ParseTuple(args, "KKn", &start, &end, &max))
        return NULL;
    if (max <= 0 || max > 65536) {
        PyErr_SetString(PyExc_ValueError, "max must be 1..65536");
        return NULL;
    }
    loaded_record *recs = PyMem_Calloc((size_t)max, sizeof *recs);
    if (recs == NULL)
        return PyErr_NoMemory();
    if (chain_enter(self) != 0) {
        PyMem_Free(recs);
        return NULL;
    }
    Py_ssize_t n = 0;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    ac_iter *it = NULL;
    rc = ac_iter_open(self->chain, start, end, &it, &err);
    while (rc == AC_OK && n < max) {
        int got = ac_iter_next(it, &recs[n].rec, &err);
        if (got == 1 && (got = record_load_json(&recs[n], &err)) == AC_OK) {
            n++;
            continue;
        }
        record_release(&recs[n]);
        rc = got; /* 0 at the end, or an error */
        break;
    }
    if (it != NULL)
        ac_iter_free(it);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    PyObject *list = NULL;
    if (rc < 0 && n == 0)
        raise_ac(&err);
    else if ((list = PyList_New(n)) != NULL)
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *t = record_tuple(&recs[i]);
            if (t == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, i, t);
        }
    for (Py_ssize_t i = 0; i < n; i++)
        record_release(&recs[i]); /* those not handed over after a failure */
    PyMem_Free(recs);
    return list;
}

/* Entries: a sequence of (content_hash, content_type, metadata_json or None). */
static PyObject *Chain_append(ChainObject *self, PyObject *args)
{
    KeyObject *key;
    PyObject *entries;
    if (!PyArg_ParseTuple(args, "O!O", &Key_Type, &key, &entries))
        return NULL;
    PyObject *seq = PySequence_Fast(entries, "entries must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        return PyList_New(0);
    }
    ac_entry *ents = PyMem_Calloc((size_t)n, sizeof *ents);
    const char **json = PyMem_Calloc((size_t)n, sizeof *json);
    ac_appended *out = PyMem_Calloc((size_t)n, sizeof *out);
    ac_meta **metas = PyMem_Calloc((size_t)n, sizeof *metas);
    PyObject *result = NULL;
    if (ents == NULL || json == NULL || out == NULL || metas == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* The strings stay valid while `seq` holds the tuples. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        const char *hash, *ctype;
        Py_ssize_t hash_len;
        PyObject *meta;
        if (!PyArg_ParseTuple(e, "y#sO", &hash, &hash_len, &ctype, &meta))
            goto done;
        if (hash_len != AC_HASH_SIZE) {
            PyErr_Format(PyExc_ValueError, "content_hash must be %d bytes, not %zd",
                         AC_HASH_SIZE, hash_len);
            goto done;
        }
        memcpy(ents[i].content_hash, hash, AC_HASH_SIZE);
        ents[i].content_type = ctype;
        if (meta != Py_None && (json[i] = PyUnicode_AsUTF8(meta)) == NULL)
            goto done;
    }
    if (chain_enter(self) != 0)
        goto done;
    ac_error err;
    int rc = AC_OK;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && rc == AC_OK; i++) {
        if (json[i] == NULL)
            continue;
        rc = ac_meta_new(&metas[i], &err);
        if (rc == AC_OK)
            rc = ac_meta_add_json(metas[i], json[i], &err);
        if (rc == AC_OK)
            ents[i].metadata = metas[i];
    }
    if (rc == AC_OK)
        rc = n == 1 ? ac_append(self->chain, key->key, ents, out, &err)
                    : ac_append_batch(self->chain, key->key, ents, (size_t)n, out, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc != AC_OK) {
        raise_ac(&err);
        goto done;
    }
    if ((result = PyList_New(n)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(KN)", (unsigned long long)out[i].index,
                                    bytes_of(out[i].hash, AC_HASH_SIZE));
        if (t == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, t);
    }
done:
    if (metas != NULL)
        for (Py_ssize_t i = 0; i < n; i++)
            ac_meta_free(metas[i]);
    PyMem_Free(metas);
    PyMem_Free(out);
    PyMem_Free(json);
    PyMem_Free(ents);
    Py_DECREF(seq);
    return result;
}

static PyObject *Chain_rotate(ChainObject *self, PyObject *args)
{
    KeyObject *old_key;
    const char *pub;
    Py_ssize_t pub_len;
    if (!PyArg_ParseTuple(args, "O!y#", &Key_Type, &old_key, &pub, &pub_len))
        return NULL;
    if (pub_len != AC_PUBKEY_SIZE) {
        PyErr_Format(PyExc_ValueError, "new public key must be %d bytes", AC_PUBKEY_SIZE);
        return NULL;
    }
    uint8_t newpub[AC_PUBKEY_SIZE];
    memcpy(newpub, pub, sizeof newpub);
    if (chain_enter(self) != 0)
        return NULL;
    ac_appended out;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_append_rotation(self->chain, old_key->key, newpub, &out, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc != AC_OK)
        return raise_ac(&err);
    return Py_BuildValue("(KN)", (unsigned long long)out.index, bytes_of(out.hash, AC_HASH_SIZE));
}

static PyObject *opt_hash(const uint8_t *h)
{
    if (h == NULL)
        Py_RETURN_NONE;
    return bytes_of(h, AC_HASH_SIZE);
}

/* verify(start, end, threads) -> (valid, records, fail_index or None, reason,
 * detail, [(warning, index, offset, bytes, delta_us)], warnings_total,
 * chain_id or None, last_hash or None) */
static PyObject *Chain_verify(ChainObject *self, PyObject *args)
{
    ac_verify_options opt;
    ac_verify_options_init(&opt);
    unsigned long long start, end;
    unsigned int threads;
    if (!PyArg_ParseTuple(args, "KKI", &start, &end, &threads))
        return NULL;
    opt.start = start;
    opt.end = end;
    opt.threads = threads;
    if (chain_enter(self) != 0)
        return NULL;
    ac_report *rep;
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_verify(self->chain, &opt, &rep, &err);
    Py_END_ALLOW_THREADS
    chain_leave(self);
    if (rc != AC_OK)
        return raise_ac(&err);
    PyObject *warnings = PyList_New((Py_ssize_t)ac_report_warning_count(rep));
    for (size_t i = 0; warnings != NULL && i < ac_report_warning_count(rep); i++) {
        const ac_warning *w = ac_report_warning(rep, i);
        PyObject *t = Py_BuildValue("(sLKKL)", ac_warning_name(w->code), (long long)w->index,
                                    (unsigned long long)w->offset, (unsigned long long)w->bytes,
                                    (long long)w->delta_us);
        if (t == NULL)
            Py_CLEAR(warnings);
        else
            PyList_SET_ITEM(warnings, (Py_ssize_t)i, t);
    }
    PyObject *result = NULL;
    if (warnings != NULL) {
        int64_t fail = ac_report_fail_index(rep);
        PyObject *fail_obj = fail < 0 ? (Py_INCREF(Py_None), Py_None)
                                      : PyLong_FromLongLong((long long)fail);
        result = Py_BuildValue("(NKNssNKNN)", PyBool_FromLong(ac_report_valid(rep)),
                               (unsigned long long)ac_report_records(rep), fail_obj,
                               ac_reason_name(ac_report_reason(rep)), ac_report_detail(rep),
                               warnings, (unsigned long long)ac_report_warnings_total(rep),
                               opt_hash(ac_report_chain_id(rep)),
                               opt_hash(ac_report_last_hash(rep)));
    }
    ac_report_free(rep);
    return result;
}

static PyObject *Chain_closed(ChainObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->chain == NULL);
}

static PyMethodDef Chain_methods[] = {
    {"close", (PyCFunction)Chain_close, METH_NOARGS, "Writes the checkpoint and frees the handle."},
    {"state", (PyCFunction)Chain_state, METH_NOARGS, "The head state as a tuple, or None."},
    {"is_empty", (PyCFunction)Chain_is_empty, METH_NOARGS, "True if no complete record."},
    {"get", (PyCFunction)Chain_get, METH_O, "Record `index` as a tuple."},
    {"head", (PyCFunction)Chain_head, METH_NOARGS, "The last record as a tuple, or None."},
    {"records", (PyCFunction)Chain_records, METH_VARARGS,
     "Up to `max` records start..end as tuples."},
    {"append", (PyCFunction)Chain_append, METH_VARARGS,
     "Appends entries (one lock, one fsync): a list of (index, hash)."},
    {"rotate", (PyCFunction)Chain_rotate, METH_VARARGS, "Appends a key rotation."},
    {"verify", (PyCFunction)Chain_verify, METH_VARARGS, "Verifies start..end: a report tuple."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Chain_getset[] = {
    {"closed", (getter)Chain_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Chain_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "attestchain._attestchain.Chain",
    .tp_basicsize = sizeof(ChainObject),
    .tp_dealloc = (destructor)Chain_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Chain(dir, create=True, readonly=False): a libattestchain handle.",
    .tp_methods = Chain_methods,
    .tp_getset = Chain_getset,
    .tp_new = Chain_new,
};

/* ------------------------------------------------------------------ module */

static PyObject *mod_sha256_file(PyObject *mod, PyObject *arg)
{
    (void)mod;
    PyObject *bytes;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    uint8_t out[AC_HASH_SIZE];
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_sha256_file(PyBytes_AS_STRING(bytes), NULL, NULL, out, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (rc != AC_OK)
        return raise_ac(&err);
    return bytes_of(out, sizeof out);
}

static PyObject *mod_sha256(PyObject *mod, PyObject *arg)
{
    (void)mod;
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) != 0)
        return NULL;
    uint8_t out[AC_HASH_SIZE];
    ac_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ac_sha256(buf.buf, (size_t)buf.len, out, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (rc != AC_OK)
        return raise_ac(&err);
    return bytes_of(out, sizeof out);
}

static PyMethodDef module_methods[] = {
    {"sha256_file", mod_sha256_file, METH_O, "SHA-256 of a file, streamed."},
    {"sha256", mod_sha256, METH_O, "SHA-256 of a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "attestchain._attestchain",
    .m_doc = "The binding of libattestchain; use the package `attestchain`.",
    .m_size = -1,
    .m_methods = module_methods,
};

/* The ac_status codes, by their names without the AC_ prefix. */
static int add_codes(PyObject *m)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {
        {"EINVAL", AC_EINVAL}, {"ENOMEM", AC_ENOMEM}, {"EIO", AC_EIO},
        {"ECORRUPT", AC_ECORRUPT}, {"ENOTFOUND", AC_ENOTFOUND},
        {"EUNAUTHORIZED", AC_EUNAUTHORIZED}, {"EKEY", AC_EKEY}, {"EEXIST", AC_EEXIST},
        {"ECRYPTO", AC_ECRYPTO},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (PyModule_AddIntConstant(m, codes[i].name, codes[i].code) < 0)
            return -1;
    return 0;
}

PyMODINIT_FUNC PyInit__attestchain(void)
{
    if (PyType_Ready(&Key_Type) < 0 || PyType_Ready(&Chain_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (lib_error == NULL)
        lib_error = PyErr_NewExceptionWithDoc(
            "attestchain._attestchain.LibError",
            "A library error: args are (code, sys_errno, index, message).", NULL, NULL);
    if (lib_error == NULL || PyModule_AddObjectRef(m, "LibError", lib_error) < 0 ||
        PyModule_AddObjectRef(m, "Key", (PyObject *)&Key_Type) < 0 ||
        PyModule_AddObjectRef(m, "Chain", (PyObject *)&Chain_Type) < 0 ||
        PyModule_AddStringConstant(m, "VERSION", AC_VERSION_STRING) < 0 ||
        PyModule_AddIntConstant(m, "MAX_RECORD_SIZE", AC_MAX_RECORD_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "MAX_CONTENT_TYPE", AC_MAX_CONTENT_TYPE) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DEPTH", AC_MAX_DEPTH) < 0 ||
        PyModule_AddStringConstant(m, "ROTATION_CONTENT_TYPE", AC_ROTATION_CONTENT_TYPE) < 0 ||
        add_codes(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
