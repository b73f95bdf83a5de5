/*
 * The relay from C end to end (issue 19), run by tests/tests/c_api.rs under valgrind:
 *
 *   test_relay RELAY_TOML
 *
 * RELAY_TOML names one tenant (contoso) whose return_endpoint is the harness's next hop on
 * loopback (real TLS, the tenant's client certificate required). The program checks that
 * configuration errors name the field, starts a relay on a free loopback port, checks that a
 * second relay on that port fails cleanly, sends one message through it over a plain socket
 * (allow_plaintext_on_loopback), reads the counters, reloads, stops gracefully and frees
 * everything. The harness then checks that the next hop received the message signed.
 */
#define _POSIX_C_SOURCE 200809L
#define SIGSYNC_RELAY 1
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sigsync.h"

#define TENANT_ID "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01"

static int failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

/* Expects `r` to be `want` with an error message containing `needle`; frees the error and
 * resets *err. (The error is read here, after the call that made `r` wrote it.) */
static void expect_error(sigsync_result r, sigsync_error **errp, sigsync_result want,
                         const char *needle, const char *what) {
  sigsync_error *err = *errp;
  *errp = NULL;
  const char *message = err ? sigsync_error_message(err) : "(no error object)";
  if (r != want || strstr(message, needle) == NULL) {
    fprintf(stderr, "%s: got %s (%s), want %s mentioning \"%s\"\n", what, sigsync_result_name(r),
            message, sigsync_result_name(want), needle);
    failures++;
  }
  sigsync_error_free(err);
}

/* A configuration from RELAY_TOML with the listener at `address`. */
static sigsync_result build_config(const char *path, const char *address, bool plaintext,
                                   sigsync_relay_config **config, sigsync_error **err) {
  sigsync_relay_config_builder *b = NULL;
  sigsync_result r = sigsync_relay_config_builder_from_file(path, &b, err);
  if (r == SIGSYNC_RESULT_OK) r = sigsync_relay_config_builder_set_listener_address(b, address, err);
  if (r == SIGSYNC_RESULT_OK)
    r = sigsync_relay_config_builder_set_allow_plaintext_on_loopback(b, plaintext, err);
  if (r == SIGSYNC_RESULT_OK) r = sigsync_relay_config_builder_set_metrics_address(b, "127.0.0.1:0", err);
  if (r == SIGSYNC_RESULT_OK) r = sigsync_relay_config_builder_build(b, config, err);
  sigsync_relay_config_builder_free(b);
  return r;
}

/* ---- a minimal SMTP client ------------------------------------------------------------- */

/* Reads one reply (all its lines) into buf; returns its code, or -1. */
static int reply(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0) return -1;
    len += (size_t)n;
    buf[len] = '\0';
    /* The last line is "ddd text\r\n": find the start of the final complete line. */
    if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n') {
      size_t start = len - 2;
      while (start > 0 && buf[start - 1] != '\n') start--;
      if (len - start >= 4 && buf[start + 3] == ' ') return atoi(buf + start);
    }
    if (len + 1 >= cap) return -1;
  }
}

static int command(int fd, const char *line, char *buf, size_t cap) {
  size_t n = strlen(line);
  if (write(fd, line, n) != (ssize_t)n) return -1;
  return reply(fd, buf, cap);
}

static const char MESSAGE[] =
    "X-MS-Exchange-CrossTenant-Id: " TENANT_ID "\r\n"
    "X-OriginatorOrg: contoso.com\r\n"
    "From: Adele Vance <adele@contoso.com>\r\n"
    "To: <bob@example.org>\r\n"
    "Subject: Quarterly numbers\r\n"
    "Message-ID: <c-relay-1@contoso.com>\r\n"
    "Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "..the numbers are attached (this line starts with one dot).\r\n"
    "\r\n"
    ".\r\n";

/* Sends MESSAGE through the relay on `port`; returns the reply code to the end of data. */
static int send_message(uint16_t port) {
  char buf[4096];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int code = -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && reply(fd, buf, sizeof buf) == 220 &&
      command(fd, "EHLO exchange.test\r\n", buf, sizeof buf) == 250 &&
      command(fd, "MAIL FROM:<adele@contoso.com>\r\n", buf, sizeof buf) == 250 &&
      command(fd, "RCPT TO:<bob@example.org>\r\n", buf, sizeof buf) == 250 &&
      command(fd, "DATA\r\n", buf, sizeof buf) == 354) {
    code = command(fd, MESSAGE, buf, sizeof buf);
    if (code != 250) fprintf(stderr, "end of data: %s", buf);
    command(fd, "QUIT\r\n", buf, sizeof buf);
  } else {
    fprintf(stderr, "SMTP dialogue failed at: %s\n", buf);
  }
  close(fd);
  return code;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_relay RELAY_TOML\n");
    return 2;
  }
  const char *path = argv[1];
  sigsync_error *err = NULL;
  CHECK(sigsync_has_relay());

  /* Configuration errors name the field. */
  sigsync_relay_config *config = NULL;
  expect_error(build_config(path, "not an address", false, &config, &err), &err,
               SIGSYNC_RESULT_VALIDATION, "listener.address", "a bad listener address");
  CHECK(config == NULL);
  expect_error(build_config(path, "0.0.0.0:0", true, &config, &err), &err, SIGSYNC_RESULT_VALIDATION,
               "listener.allow_plaintext_on_loopback", "plain text on a public listener");
  sigsync_relay_config_builder *b = NULL;
  expect_error(sigsync_relay_config_builder_from_toml("[listener]\naddress = 25\n", NULL, &b, &err),
               &err, SIGSYNC_RESULT_VALIDATION, "listener.address", "a mistyped key");
  CHECK(b == NULL);
  expect_error(sigsync_relay_config_builder_from_file("/nonexistent/relay.toml", &b, &err), &err,
               SIGSYNC_RESULT_CONFIG, "/nonexistent/relay.toml", "a missing file");
  expect_error(sigsync_relay_start(NULL, NULL, &err), &err, SIGSYNC_RESULT_NULL_PARAMETER,
               "argument config is NULL", "a NULL configuration");

  /* A relay on a free loopback port. */
  sigsync_result r = build_config(path, "127.0.0.1:0", true, &config, &err);
  if (r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "configuration: %s\n", sigsync_error_message(err));
    sigsync_error_free(err);
    return 1;
  }
  sigsync_relay *relay = NULL;
  r = sigsync_relay_start(config, &relay, &err);
  if (r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "start: %s\n", sigsync_error_message(err));
    sigsync_error_free(err);
    sigsync_relay_config_free(config);
    return 1;
  }
  uint16_t port = sigsync_relay_local_port(relay);
  CHECK(port != 0);
  CHECK(sigsync_relay_metrics_port(relay) != 0);
  printf("relay listening on 127.0.0.1:%u\n", port);

  /* A second relay on the same port fails cleanly, naming the field. */
  char busy[64];
  snprintf(busy, sizeof busy, "127.0.0.1:%u", port);
  sigsync_relay_config *busy_config = NULL;
  CHECK(build_config(path, busy, true, &busy_config, NULL) == SIGSYNC_RESULT_OK);
  sigsync_relay *second = NULL;
  expect_error(sigsync_relay_start(busy_config, &second, &err), &err, SIGSYNC_RESULT_VALIDATION,
               "listener.address", "a busy port");
  CHECK(second == NULL);
  sigsync_relay_config_free(busy_config);

  /* One message through it: the relay answers 250 only after the next hop did. */
  int code = send_message(port);
  CHECK(code == 250);
  printf("end of data: %d\n", code);

  sigsync_relay_snapshot stats;
  CHECK(sigsync_relay_stats(relay, &stats, NULL) == SIGSYNC_RESULT_OK);
  CHECK(stats.tenants >= 1);
  CHECK(stats.total.accepted == 1);
  CHECK(stats.total.injected == 1);
  CHECK(stats.total.failed == 0 && stats.total.deferred == 0 && stats.total.rejected == 0);
  printf("stats: %zu tenants, accepted %llu, injected %llu\n", stats.tenants,
         (unsigned long long)stats.total.accepted, (unsigned long long)stats.total.injected);

  sigsync_relay_counters contoso;
  CHECK(sigsync_relay_tenant_stats(relay, "contoso", &contoso, NULL) == SIGSYNC_RESULT_OK);
  CHECK(contoso.accepted == 1 && contoso.injected == 1);
  sigsync_relay_counters none;
  expect_error(sigsync_relay_tenant_stats(relay, "nobody", &none, &err), &err,
               SIGSYNC_RESULT_NOT_FOUND, "nobody", "an unknown tenant");
  bool found = false;
  for (size_t i = 0; i < stats.tenants; i++) {
    sigsync_string *name = NULL;
    sigsync_relay_counters at;
    CHECK(sigsync_relay_tenant_stats_at(relay, i, &at, &name, NULL) == SIGSYNC_RESULT_OK);
    if (strcmp(sigsync_string_ptr(name), "contoso") == 0) {
      found = true;
      CHECK(memcmp(&at, &contoso, sizeof at) == 0);
    }
    sigsync_string_free(name);
  }
  CHECK(found);
  expect_error(sigsync_relay_tenant_stats_at(relay, stats.tenants, &none, NULL, &err), &err,
               SIGSYNC_RESULT_INVALID_PARAMETER, "past the relay's", "an index past the end");

  /* Reload: reads the file again, keeps the overrides (the same port). */
  r = sigsync_relay_reload(relay, &err);
  if (r != SIGSYNC_RESULT_OK) {
    fprintf(stderr, "reload: %s\n", sigsync_error_message(err));
    sigsync_error_free(err);
      failures++;
  }
  CHECK(sigsync_relay_local_port(relay) == port);
  printf("reloaded\n");

  /* A graceful stop: nothing in flight, so every session drained. */
  sigsync_relay_stop_report report = {false, -1};
  CHECK(sigsync_relay_stop(relay, 5000, &report, NULL) == SIGSYNC_RESULT_OK);
  CHECK(report.drained && report.cut == 0);
  expect_error(sigsync_relay_stop(relay, 0, NULL, &err), &err, SIGSYNC_RESULT_ALREADY_USED,
               "stopped", "a second stop");
  expect_error(sigsync_relay_stats(relay, &stats, &err), &err, SIGSYNC_RESULT_ALREADY_USED,
               "stopped", "stats after stop");
  expect_error(sigsync_relay_reload(relay, &err), &err, SIGSYNC_RESULT_ALREADY_USED, "stopped",
               "reload after stop");
  CHECK(sigsync_relay_local_port(relay) == 0);
  printf("stopped (%s)\n", report.drained ? "drained" : "cut");
  sigsync_relay_free(relay);

  /* Freeing a running relay stops it (no grace) and releases everything. */
  CHECK(sigsync_relay_start(config, &relay, NULL) == SIGSYNC_RESULT_OK);
  sigsync_relay_free(relay);
  sigsync_relay_free(NULL);
  sigsync_relay_config_free(config);

  if (failures) {
    fprintf(stderr, "%d relay C checks failed\n", failures);
    return 1;
  }
  printf("all relay C tests passed\n");
  return 0;
}
