/*
 * Injects a signature into a MIME message on disk with a signature configuration file:
 *
 *   inject CONFIG.toml MESSAGE.eml [OUT.eml]
 *
 * Prints the outcome (injected, skipped or failed, with the reason) and writes the message
 * to send on (always with the loop header) to OUT.eml, or to standard output.
 *
 * Build (see include/README.md):
 *   cargo build -p sigsync-ffi
 *   cc -std=c11 -Iinclude examples/c/inject.c -Ltarget/debug -lsigsync \
 *      -Wl,-rpath,target/debug -o inject
 *   ./inject examples/signature.toml examples/c/sample.eml
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sigsync.h"

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    unsigned char *bigger = realloc(buf, cap *= 2);
    if (!bigger) free(buf);
    buf = bigger;
  }
  fclose(f);
  *len = n;
  return buf;
}

static const char *outcome_name(sigsync_inject_outcome o) {
  switch (o) {
  case SIGSYNC_INJECT_OUTCOME_INJECTED: return "injected";
  case SIGSYNC_INJECT_OUTCOME_SKIPPED: return "skipped";
  default: return "failed";
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CONFIG MESSAGE.eml [OUT.eml]\n", argv[0]);
    return 2;
  }
  int rc = 1;
  sigsync_error *err = NULL;
  sigsync_injector *injector = NULL;
  sigsync_string *reason = NULL;
  unsigned char *out = NULL;
  size_t len = 0, out_len = 0;
  sigsync_inject_outcome outcome = SIGSYNC_INJECT_OUTCOME_FAILED;

  unsigned char *msg = read_file(argv[2], &len);
  if (!msg) {
    perror(argv[2]);
    return 1;
  }
  sigsync_result r = sigsync_injector_load(argv[1], &injector, &err);
  if (r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "inject: %s (%s)\n", sigsync_error_message(err), sigsync_result_name(r));
    goto done;
  }
  /* Ask for the size first: the output can be much larger than the message (re-encoded
   * bodies, inline images). */
  r = sigsync_injector_inject(injector, msg, len, NULL, NULL, 0, NULL, NULL, 0, &out_len, &outcome,
                              NULL, NULL);
  if (r != SIGSYNC_RESULT_INSUFFICIENT_SIZE && r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "inject: %s\n", sigsync_result_name(r));
    goto done;
  }
  out = malloc(out_len ? out_len : 1);
  if (!out) goto done;
  r = sigsync_injector_inject(injector, msg, len, NULL, NULL, 0, NULL, out, out_len, &out_len, &outcome,
                              &reason, &err);
  if (r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "inject: %s (%s)\n", sigsync_error_message(err), sigsync_result_name(r));
    goto done;
  }
  printf("outcome: %s%s%s\n", outcome_name(outcome), reason ? ": " : "",
         reason ? sigsync_string_ptr(reason) : "");
  FILE *dest = argc > 3 ? fopen(argv[3], "wb") : stdout;
  if (!dest) {
    perror(argv[3]);
    goto done;
  }
  fwrite(out, 1, out_len, dest);
  if (dest != stdout) fclose(dest);
  rc = 0;

done:
  sigsync_error_free(err);
  sigsync_string_free(reason);
  sigsync_injector_free(injector);
  free(out);
  free(msg);
  return rc;
}
