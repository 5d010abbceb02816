/*
 * reader.h -- JSON Lines read in large blocks and handed out in place.
 *
 * rlvr_reader_next returns up to max_lines lines (at most about max_bytes of
 * them, and always at least one line when any is left) as pointers into the
 * reader's buffer, valid until the next call. Lines are numbered from 1,
 * blank lines included (and skipped); a UTF-8 BOM on line 1, a CR before
 * the newline and a missing last newline are accepted. rlvr_reader_unread
 * gives back the lines from a given one on, to be returned again first by
 * the next call (the engine holds back an unfinished group this way). No
 * line is ever copied: the buffer only moves its unread tail to the front.
 */
#ifndef RLVR_READER_H
#define RLVR_READER_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"

typedef struct rlvr_reader {
    FILE *f;
    char *buf;
    size_t len, cap;     /* bytes held; capacity */
    size_t pos;          /* start of the first line not yet handed out */
    int64_t lineno;      /* lines counted up to pos */
    int eof, error;      /* error: errno of a failed read */
    rlvr_line *lines;
    size_t *offs;        /* while a slice fills: each line's offset from its start */
    size_t cap_lines;
} rlvr_reader;

void rlvr_reader_init(rlvr_reader *r, FILE *f);
void rlvr_reader_free(rlvr_reader *r);

/* Lines into *lines; returns how many (0 at the end, or on an error: see
 * r->error). -1 when memory ran out. */
ssize_t rlvr_reader_next(rlvr_reader *r, size_t max_lines, size_t max_bytes, const rlvr_line **lines);

/* Give back every line from `first` (one returned by the last call) on. */
void rlvr_reader_unread(rlvr_reader *r, const rlvr_line *first);
#endif
