/*
 * wordfreq: counts the words of stdin and prints the most frequent ones.
 *
 * A word is a run of ASCII letters, compared case-insensitively (printed in lower case); every other
 * byte separates words. Output on stdout:
 *
 *   words <total>
 *   distinct <number of different words>
 *   <count> <word>      one line per word, most frequent first, ties in byte order of the word,
 *                       at most WORDFREQ_TOP lines (environment variable; 10 when unset or invalid)
 *
 * and one diagnostic line on stderr. Exits 1 (with a message on stderr) if memory runs out.
 * Exercises what a C program built with wasi-libc uses: stdio on stdin/stdout/stderr, getenv, malloc.
 *
 * Build (Debian clang 14 + lld + wasi-libc, see examples/c/README.md), from the repository root:
 *   PATH=/usr/bin:/bin clang --target=wasm32-wasi -O2 -Wl,--strip-all \
 *     -o examples/c/wordfreq.wasm examples/c/wordfreq.c
 * (the PATH keeps clang from running a wasm-opt it finds on PATH, e.g. npm's in node_modules/.bin).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  char *word; /* NULL: empty slot */
  size_t count;
};

static struct entry *table;
static size_t capacity = 1024; /* a power of two */
static size_t distinct;

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL) {
    fprintf(stderr, "wordfreq: out of memory\n");
    exit(1);
  }
  return p;
}

/* FNV-1a, 32-bit. */
static size_t hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s != '\0'; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static struct entry *slot(struct entry *t, size_t cap, const char *word) {
  size_t i = hash(word) & (cap - 1);
  while (t[i].word != NULL && strcmp(t[i].word, word) != 0) i = (i + 1) & (cap - 1);
  return &t[i];
}

static void grow(void) {
  size_t cap = capacity * 2;
  struct entry *t = xmalloc(cap * sizeof *t);
  memset(t, 0, cap * sizeof *t);
  for (size_t i = 0; i < capacity; i++) {
    if (table[i].word != NULL) *slot(t, cap, table[i].word) = table[i];
  }
  free(table);
  table = t;
  capacity = cap;
}

static void add(const char *word, size_t len) {
  char *w = xmalloc(len + 1);
  memcpy(w, word, len);
  w[len] = '\0';
  struct entry *e = slot(table, capacity, w);
  if (e->word != NULL) {
    e->count++;
    free(w);
    return;
  }
  e->word = w;
  e->count = 1;
  if (++distinct * 2 > capacity) grow();
}

static int by_count_then_word(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->word, y->word);
}

int main(void) {
  size_t top = 10;
  const char *env = getenv("WORDFREQ_TOP");
  if (env != NULL) {
    char *end;
    long n = strtol(env, &end, 10);
    if (*end == '\0' && n >= 0) top = (size_t)n;
  }

  table = xmalloc(capacity * sizeof *table);
  memset(table, 0, capacity * sizeof *table);
  char *word = xmalloc(64);
  size_t word_cap = 64, len = 0, total = 0, bytes = 0;
  int c;
  while ((c = getchar()) != EOF) {
    bytes++;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (len + 1 == word_cap) {
        char *bigger = xmalloc(word_cap * 2);
        memcpy(bigger, word, len);
        free(word);
        word = bigger;
        word_cap *= 2;
      }
      word[len++] = (char)(c | 0x20); /* ASCII lower case */
      continue;
    }
    if (len > 0) {
      add(word, len);
      total++;
      len = 0;
    }
  }
  if (len > 0) {
    add(word, len);
    total++;
  }

  struct entry *sorted = xmalloc((distinct + 1) * sizeof *sorted);
  size_t n = 0;
  for (size_t i = 0; i < capacity; i++) {
    if (table[i].word != NULL) sorted[n++] = table[i];
  }
  qsort(sorted, n, sizeof *sorted, by_count_then_word);

  printf("words %zu\ndistinct %zu\n", total, distinct);
  for (size_t i = 0; i < n && i < top; i++) printf("%zu %s\n", sorted[i].count, sorted[i].word);
  fprintf(stderr, "wordfreq: %zu bytes, %zu words, %zu distinct, top %zu (WORDFREQ_TOP %s)\n", bytes, total,
          distinct, top, env == NULL ? "unset" : "set");
  return 0;
}
