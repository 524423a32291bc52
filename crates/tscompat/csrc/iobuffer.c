/*
 * ATS's I/O buffers: a chain of blocks that one writer appends to and readers consume from,
 * each reader at its own position. A block is freed once every reader has read past it. Like
 * ATS's, a buffer is not locked: the continuation that owns it serialises its use.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ATS's default block size (TS_IOBUFFER_SIZE_INDEX_32K). */
#define HY_TS_DEFAULT_BLOCK (32 * 1024)

struct tsapi_bufferblock {
    struct tsapi_bufferblock *next;
    int64_t size;
    int64_t fill;
    char data[];
};

struct tsapi_bufferreader {
    TSIOBuffer buffer;
    TSIOBufferBlock block;
    /* Bytes of `block` already read. */
    int64_t offset;
    struct tsapi_bufferreader *next;
};

struct tsapi_iobuffer {
    TSIOBufferBlock head, tail;
    int64_t block_size;
    int64_t water_mark;
    TSIOBufferReader readers;
};

static TSIOBufferBlock block_new(int64_t size) {
    TSIOBufferBlock b = _TSmalloc(sizeof *b + (size_t)size, __FILE__);
    b->next = NULL;
    b->size = size;
    b->fill = 0;
    return b;
}

TSIOBuffer TSIOBufferSizedCreate(TSIOBufferSizeIndex index) {
    if (index < TS_IOBUFFER_SIZE_INDEX_128 || index > TS_IOBUFFER_SIZE_INDEX_2M) {
        index = TS_IOBUFFER_SIZE_INDEX_32K;
    }
    TSIOBuffer buf = _TSmalloc(sizeof *buf, __FILE__);
    buf->block_size = (int64_t)128 << index;
    buf->head = buf->tail = block_new(buf->block_size);
    buf->water_mark = 0;
    buf->readers = NULL;
    return buf;
}

TSIOBuffer TSIOBufferCreate(void) { return TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_32K); }

void TSIOBufferDestroy(TSIOBuffer bufp) {
    if (!bufp) {
        return;
    }
    for (TSIOBufferBlock b = bufp->head; b;) {
        TSIOBufferBlock next = b->next;
        free(b);
        b = next;
    }
    for (TSIOBufferReader r = bufp->readers; r;) {
        TSIOBufferReader next = r->next;
        free(r);
        r = next;
    }
    free(bufp);
}

int64_t TSIOBufferWaterMarkGet(TSIOBuffer bufp) { return bufp ? bufp->water_mark : 0; }

void TSIOBufferWaterMarkSet(TSIOBuffer bufp, int64_t water_mark) {
    if (bufp && water_mark >= 0) {
        bufp->water_mark = water_mark;
    }
}

/* A block with room at the tail, for at least `want` bytes if it must be a new one. */
static TSIOBufferBlock writable(TSIOBuffer bufp, int64_t want) {
    if (bufp->tail->fill < bufp->tail->size) {
        return bufp->tail;
    }
    TSIOBufferBlock b = block_new(want > bufp->block_size ? want : bufp->block_size);
    bufp->tail->next = b;
    bufp->tail = b;
    return b;
}

int64_t TSIOBufferWrite(TSIOBuffer bufp, const void *buf, int64_t length) {
    if (!bufp || !buf || length <= 0) {
        return 0;
    }
    const char *from = buf;
    int64_t left = length;
    while (left > 0) {
        TSIOBufferBlock b = writable(bufp, left);
        int64_t n = b->size - b->fill;
        if (n > left) {
            n = left;
        }
        memcpy(b->data + b->fill, from, (size_t)n);
        b->fill += n;
        from += n;
        left -= n;
    }
    return length;
}

TSIOBufferBlock TSIOBufferStart(TSIOBuffer bufp) { return bufp ? writable(bufp, 0) : NULL; }

char *TSIOBufferBlockWriteStart(TSIOBufferBlock blockp, int64_t *avail) {
    if (!blockp) {
        return NULL;
    }
    if (avail) {
        *avail = blockp->size - blockp->fill;
    }
    return blockp->data + blockp->fill;
}

int64_t TSIOBufferBlockWriteAvail(TSIOBufferBlock blockp) {
    return blockp ? blockp->size - blockp->fill : 0;
}

void TSIOBufferProduce(TSIOBuffer bufp, int64_t nbytes) {
    if (!bufp || nbytes <= 0) {
        return;
    }
    TSIOBufferBlock b = bufp->tail;
    if (nbytes > b->size - b->fill) {
        TSError("TSIOBufferProduce: %lld bytes past the block's end", (long long)nbytes);
        nbytes = b->size - b->fill;
    }
    b->fill += nbytes;
}

/* Frees the blocks at the head that no reader needs. */
static void trim(TSIOBuffer bufp) {
    if (!bufp->readers) {
        return;
    }
    while (bufp->head != bufp->tail) {
        for (TSIOBufferReader r = bufp->readers; r; r = r->next) {
            if (r->block == bufp->head) {
                return;
            }
        }
        TSIOBufferBlock b = bufp->head;
        bufp->head = b->next;
        free(b);
    }
}

/* Moves a reader at the end of a block to the start of the next. */
static void settle(TSIOBufferReader r) {
    while (r->offset >= r->block->fill && r->block->next) {
        r->block = r->block->next;
        r->offset = 0;
    }
}

TSIOBufferReader TSIOBufferReaderAlloc(TSIOBuffer bufp) {
    if (!bufp) {
        return NULL;
    }
    TSIOBufferReader r = _TSmalloc(sizeof *r, __FILE__);
    r->buffer = bufp;
    r->block = bufp->head;
    r->offset = 0;
    r->next = bufp->readers;
    bufp->readers = r;
    return r;
}

TSIOBufferReader TSIOBufferReaderClone(TSIOBufferReader readerp) {
    if (!readerp) {
        return NULL;
    }
    TSIOBufferReader r = TSIOBufferReaderAlloc(readerp->buffer);
    r->block = readerp->block;
    r->offset = readerp->offset;
    return r;
}

void TSIOBufferReaderFree(TSIOBufferReader readerp) {
    if (!readerp) {
        return;
    }
    TSIOBuffer bufp = readerp->buffer;
    for (TSIOBufferReader *at = &bufp->readers; *at; at = &(*at)->next) {
        if (*at == readerp) {
            *at = readerp->next;
            break;
        }
    }
    free(readerp);
    trim(bufp);
}

TSIOBufferBlock TSIOBufferReaderStart(TSIOBufferReader readerp) {
    if (!readerp) {
        return NULL;
    }
    settle(readerp);
    return readerp->block;
}

TSIOBufferBlock TSIOBufferBlockNext(TSIOBufferBlock blockp) { return blockp ? blockp->next : NULL; }

const char *TSIOBufferBlockReadStart(TSIOBufferBlock blockp, TSIOBufferReader readerp,
                                     int64_t *avail) {
    if (!blockp) {
        return NULL;
    }
    int64_t start = readerp && readerp->block == blockp ? readerp->offset : 0;
    if (avail) {
        *avail = blockp->fill - start;
    }
    return blockp->data + start;
}

int64_t TSIOBufferBlockReadAvail(TSIOBufferBlock blockp, TSIOBufferReader readerp) {
    int64_t avail = 0;
    TSIOBufferBlockReadStart(blockp, readerp, &avail);
    return avail;
}

int64_t TSIOBufferReaderAvail(TSIOBufferReader readerp) {
    if (!readerp) {
        return 0;
    }
    int64_t avail = readerp->block->fill - readerp->offset;
    for (TSIOBufferBlock b = readerp->block->next; b; b = b->next) {
        avail += b->fill;
    }
    return avail;
}

void TSIOBufferReaderConsume(TSIOBufferReader readerp, int64_t nbytes) {
    if (!readerp || nbytes <= 0) {
        return;
    }
    int64_t left = nbytes;
    while (left > 0) {
        settle(readerp);
        int64_t here = readerp->block->fill - readerp->offset;
        if (here <= 0) {
            break;
        }
        int64_t n = here < left ? here : left;
        readerp->offset += n;
        left -= n;
    }
    settle(readerp);
    trim(readerp->buffer);
}

/* Copies up to `length` bytes from `offset` bytes past the reader's position. */
static int64_t copy_out(TSIOBufferReader readerp, int64_t offset, int64_t length,
                        void (*sink)(void *, const char *, int64_t), void *ctx) {
    int64_t done = 0;
    TSIOBufferBlock b = readerp->block;
    int64_t start = readerp->offset;
    while (b && done < length) {
        int64_t here = b->fill - start;
        if (offset >= here) {
            offset -= here;
        } else {
            int64_t n = here - offset;
            if (n > length - done) {
                n = length - done;
            }
            sink(ctx, b->data + start + offset, n);
            done += n;
            offset = 0;
        }
        b = b->next;
        start = 0;
    }
    return done;
}

static void to_buffer(void *ctx, const char *data, int64_t len) {
    TSIOBufferWrite(ctx, data, len);
}

struct memory_sink {
    char *at;
};

static void to_memory(void *ctx, const char *data, int64_t len) {
    struct memory_sink *m = ctx;
    memcpy(m->at, data, (size_t)len);
    m->at += len;
}

int64_t TSIOBufferCopy(TSIOBuffer bufp, TSIOBufferReader readerp, int64_t length,
                       int64_t offset) {
    if (!bufp || !readerp || length <= 0 || offset < 0) {
        return 0;
    }
    return copy_out(readerp, offset, length, to_buffer, bufp);
}

int64_t TSIOBufferReaderCopy(TSIOBufferReader readerp, void *buf, int64_t length) {
    if (!readerp || !buf || length <= 0) {
        return 0;
    }
    struct memory_sink sink = {buf};
    return copy_out(readerp, 0, length, to_memory, &sink);
}

TSIOBuffer hy_ts_reader_buffer(TSIOBufferReader readerp) { return readerp->buffer; }
