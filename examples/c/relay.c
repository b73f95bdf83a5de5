/*
 * The relay from C: the SMTP smart host Exchange Online's outbound connector points at, run
 * by a C program. It signs each message on its way back to the tenant (see the README, "The
 * relay: server-side mode end to end").
 *
 *   relay CONFIG.toml [LISTEN_ADDRESS]
 *
 * CONFIG.toml is the relay's configuration (examples/relay.toml is a sample); LISTEN_ADDRESS
 * overrides listener.address (e.g. 127.0.0.1:0 for a free port). The program prints
 * "listening on PORT", reloads the configuration on SIGHUP (certificates, tenants,
 * allow-list, without dropping sessions) and stops gracefully on SIGTERM or SIGINT, letting
 * transactions in flight finish within timeouts.shutdown_grace.
 *
 * Build (from the root of the clone, after `cargo build --release -p sigsync-ffi`):
 *   cc -std=c11 -Iinclude examples/c/relay.c -Ltarget/release -lsigsync \
 *      -Wl,-rpath,"$PWD/target/release" -o relay
 */
#define _POSIX_C_SOURCE 200809L
#define SIGSYNC_RELAY 1 /* declares sigsync_relay_* (cargo feature relay, on by default) */
#include <signal.h>
#include <stdio.h>

#include "sigsync.h"

static int fail(const char *what, sigsync_error *err) {
  fprintf(stderr, "relay: %s: %s\n", what, sigsync_error_message(err));
  sigsync_error_free(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: relay CONFIG.toml [LISTEN_ADDRESS]\n");
    return 2;
  }
  sigsync_error *err = NULL;
  sigsync_relay_config_builder *builder = NULL;
  if (sigsync_relay_config_builder_from_file(argv[1], &builder, &err) != SIGSYNC_RESULT_OK)
    return fail("configuration", err);
  if (argc == 3 &&
      sigsync_relay_config_builder_set_listener_address(builder, argv[2], &err) != SIGSYNC_RESULT_OK) {
    sigsync_relay_config_builder_free(builder);
    return fail("listen address", err);
  }
  sigsync_relay_config *config = NULL;
  sigsync_result r = sigsync_relay_config_builder_build(builder, &config, &err);
  sigsync_relay_config_builder_free(builder);
  if (r != SIGSYNC_RESULT_OK) return fail("configuration", err); /* names the field */

  /* Block the signals before the relay starts its threads, so they inherit the mask and only
   * sigwait below sees them. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);

  sigsync_relay *relay = NULL;
  r = sigsync_relay_start(config, &relay, &err);
  sigsync_relay_config_free(config); /* the relay keeps what it needs */
  if (r != SIGSYNC_RESULT_OK) return fail("start", err);
  printf("listening on %u\n", sigsync_relay_local_port(relay));
  fflush(stdout);

  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    if (sigsync_relay_reload(relay, &err) == SIGSYNC_RESULT_OK) {
      printf("reloaded\n");
    } else {
      /* The previous configuration stays in force. */
      fprintf(stderr, "relay: reload failed: %s\n", sigsync_error_message(err));
      sigsync_error_free(err);
      err = NULL;
    }
    fflush(stdout);
  }

  sigsync_relay_snapshot stats;
  if (sigsync_relay_stats(relay, &stats, NULL) == SIGSYNC_RESULT_OK)
    printf("accepted %llu messages, signed %llu\n", (unsigned long long)stats.total.accepted,
           (unsigned long long)stats.total.injected);
  sigsync_relay_stop_report report;
  r = sigsync_relay_stop(relay, -1 /* timeouts.shutdown_grace */, &report, &err);
  sigsync_relay_free(relay);
  if (r != SIGSYNC_RESULT_OK) return fail("stop", err);
  if (report.drained)
    printf("stopped (every transaction finished)\n");
  else
    printf("stopped (%lld sessions closed after the grace period)\n", (long long)report.cut);
  return 0;
}
