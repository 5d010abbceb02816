/*
 * tokenizer.h -- text <-> token ids for the policy: Hugging Face tokenizer.json
 * byte-level BPE (Qwen2/Qwen2.5/Qwen3, Llama 3, GPT-2 style), a byte-level
 * tokenizer for tiny models, and the ChatML chat template.
 *
 * What a tokenizer promises:
 *  - It is immutable once made: every function taking a const tokenizer may run
 *    on many threads at once (encode allocates its scratch per call).
 *  - encode gives the ids that Hugging Face `tokenizers` gives for
 *    Tokenizer.encode(text, add_special_tokens=False) on the same
 *    tokenizer.json, where `text` is the input decoded as Python's
 *    bytes.decode("utf-8", "replace") does: each maximal invalid UTF-8
 *    subpart becomes U+FFFD, and *n_invalid counts them (never a failure).
 *    Embedded NULs are ordinary characters. The post-processor is not
 *    applied: encode never adds BOS/EOS; callers write every control token
 *    themselves (the chat template below does).
 *  - Added tokens (tokenizer.json's added_tokens) are found in the raw text
 *    before normalisation, leftmost then longest first, as HF does.
 *    allow_special = 0 treats added tokens marked "special" as plain text
 *    (HF's encode_special_tokens = True), so text from users or models cannot
 *    forge <|im_end|>; added tokens not marked special (Qwen3's <think> and
 *    </think>) are matched either way, as in HF.
 *  - Every id has its bytes: decode concatenates them (raw bytes, so a
 *    sequence may end inside a UTF-8 character; rlvr_tok_utf8_replace makes
 *    text of it exactly as HF's decode does).
 *
 * The byte tokenizer (rlvr_tokenizer_bytes): ids 0..255 are the bytes
 * themselves, then RLVR_TOK_BYTES_SPECIALS below. It keeps input bytes as
 * they are (invalid UTF-8 included, still counted in *n_invalid), so
 * decode(encode(x)) == x for every byte string x.
 *
 * Errors: functions returning int give 0 on success and -1 on failure with a
 * one-line message in err[err_len] (err may be NULL); nothing prints or exits.
 */
#ifndef RLVR_TOKENIZER_H
#define RLVR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct rlvr_tokenizer rlvr_tokenizer;

/* A growable array of token ids; owns v. Zero-initialise it; encode
 * functions append to it (so a sequence can be built piece by piece). */
typedef struct rlvr_tok_ids {
    int32_t *v;
    size_t n, cap;
} rlvr_tok_ids;
void rlvr_tok_ids_free(rlvr_tok_ids *a);
int rlvr_tok_ids_push(rlvr_tok_ids *a, int32_t id); /* 0, or -1 out of memory */

/* Ids of the byte tokenizer's specials (256 + index in this order). The
 * first three are "special" (skipped by decode with skip_special, literal
 * text under allow_special = 0); the tag tokens are not, as in Qwen3 where
 * <think> is an ordinary added token, so reward plugins see them in decoded
 * text. */
enum {
    RLVR_TOK_BYTES_ENDOFTEXT = 256, /* <|endoftext|> */
    RLVR_TOK_BYTES_IM_START,        /* <|im_start|> */
    RLVR_TOK_BYTES_IM_END,          /* <|im_end|> */
    RLVR_TOK_BYTES_THINK,           /* <think> */
    RLVR_TOK_BYTES_THINK_END,       /* </think> */
    RLVR_TOK_BYTES_ANSWER,          /* <answer> */
    RLVR_TOK_BYTES_ANSWER_END,      /* </answer> */
    RLVR_TOK_BYTES_VOCAB            /* 263 ids in all */
};

/* Loads a tokenizer.json. Supported (anything else is refused by name):
 *   model            BPE; merges as "a b" strings or ["a", "b"] pairs;
 *                    ignore_merges; dropout null; byte_fallback false; no
 *                    subword prefix or suffix; ids 0 .. 2^24-1; every one
 *                    of the 256 byte symbols in the vocabulary
 *   normalizer       null, NFC, or a Sequence of NFC
 *   pre_tokenizer    ByteLevel (use_regex true: the GPT-2 pattern), or a
 *                    Sequence of Split (Regex or String pattern, behavior
 *                    Isolated, invert false) steps ending in ByteLevel;
 *                    add_prefix_space honoured
 *   decoder          ByteLevel
 *   added_tokens     special and normalized honoured; lstrip, rstrip and
 *                    single_word must be false
 *   post_processor, truncation, padding: ignored (see above).
 * Split patterns are compiled with PCRE2 (UTF, UCP, JIT when available);
 * \s and \S outside character classes, and \s inside them, are rewritten to
 * Unicode White_Space so PCRE2 agrees with the Oniguruma engine HF uses. */
int rlvr_tokenizer_load(const char *path, rlvr_tokenizer **out, char *err, size_t err_len);
/* The same from a tokenizer.json already in memory; name is used in
 * messages in place of the path. */
int rlvr_tokenizer_load_json(const char *json, size_t len, const char *name, rlvr_tokenizer **out,
                             char *err, size_t err_len);
/* The byte tokenizer (RLVR_TOK_BYTES_VOCAB ids). */
int rlvr_tokenizer_bytes(rlvr_tokenizer **out, char *err, size_t err_len);
void rlvr_tokenizer_free(rlvr_tokenizer *t);

/* Largest id + 1 (Qwen3's file: 151,669; its models' embedding tables have
 * 151,936 rows, the rest never produced by the tokenizer). */
int32_t rlvr_tok_vocab_size(const rlvr_tokenizer *t);

/* Appends the ids of text[0..len) to *out. n_invalid (may be NULL) gets the
 * number of invalid UTF-8 subparts found (replaced by U+FFFD for BPE, kept
 * for the byte tokenizer). Fails only on allocation failure or when a
 * Split regex exceeds its PCRE2 match limit; *out then holds what it held
 * before the call. */
int rlvr_tok_encode(const rlvr_tokenizer *t, const char *text, size_t len, int allow_special,
                    rlvr_tok_ids *out, size_t *n_invalid, char *err, size_t err_len);

/* Appends the bytes of ids[0..n) to *out (skipping special tokens when
 * skip_special). An id without a token is refused, naming it. */
int rlvr_tok_decode(const rlvr_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                    rlvr_buf *out, char *err, size_t err_len);

/* The bytes of one token (owned by the tokenizer, valid while it lives, not
 * NUL-terminated); NULL with *len = 0 for an id without a token. */
const char *rlvr_tok_token_bytes(const rlvr_tokenizer *t, int32_t id, size_t *len);
/* The id whose bytes are s[0..len) ("<|im_end|>", " the"), added tokens
 * first; -1 if none. */
int32_t rlvr_tok_token_id(const rlvr_tokenizer *t, const char *s, size_t len);
/* 1 for an added token marked special, else 0 (also for ids out of range). */
int rlvr_tok_is_special(const rlvr_tokenizer *t, int32_t id);

/* Appends s[0..n) to *out with every maximal invalid UTF-8 subpart replaced
 * by U+FFFD (EF BF BD), as Python's bytes.decode("utf-8", "replace") and
 * Rust's String::from_utf8_lossy do; returns the number replaced. */
size_t rlvr_tok_utf8_replace(const char *s, size_t n, rlvr_buf *out);

/* 1 for the code points that encode takes as NFC without asking utf8proc
 * (text made only of them is its own NFC in any context): ASCII and Latin
 * below U+0300, basic Greek and Cyrillic, CJK ideographs, kana, Hangul
 * syllables, full-width forms, punctuation, arrows and mathematical
 * operators, emoji. Public so that a test can prove the set. */
int rlvr_tok_nfc_quick(uint32_t cp);

/* ---- ChatML (Qwen's chat format) ----------------------------------------- */

/* One message: role is a NUL-terminated, non-empty string without '\n'
 * ("system", "user", "assistant", "tool"); content is content[0..content_len)
 * and may hold any bytes. */
typedef struct rlvr_tok_chat_msg {
    const char *role;
    const char *content;
    size_t content_len;
} rlvr_tok_chat_msg;

/* Appends the conversation as ChatML text:
 *   <|im_start|>ROLE\nCONTENT<|im_end|>\n   for each message, then
 *   <|im_start|>assistant\n                  when add_generation_prompt.
 * Contents are copied verbatim. No system message is invented: Qwen2.5's
 * template inserts "You are Qwen, created by Alibaba Cloud. You are a
 * helpful assistant." when the first message is not a system message; rlvr
 * does not, so a caller who wants it passes it. Qwen3's template extras
 * (dropping earlier turns' reasoning, enable_thinking) are not applied. */
int rlvr_tok_chatml_render(const rlvr_tok_chat_msg *msgs, size_t n, int add_generation_prompt,
                           rlvr_buf *out, char *err, size_t err_len);

/* Appends the ids of the same conversation: <|im_start|> and <|im_end|> are
 * written as their ids, the text between them is encoded with
 * allow_special = 0. Equals rlvr_tok_encode(render(...), allow_special = 1)
 * whenever no content holds the text of a special token; where one does, it
 * stays text here (no injected turns). Fails if the tokenizer lacks
 * <|im_start|> or <|im_end|>. */
int rlvr_tok_encode_chat(const rlvr_tokenizer *t, const rlvr_tok_chat_msg *msgs, size_t n,
                         int add_generation_prompt, rlvr_tok_ids *out, size_t *n_invalid,
                         char *err, size_t err_len);

#endif
