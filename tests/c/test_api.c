/*
 * Exercises every function of the C API, with its error paths: NULL arguments, invalid
 * UTF-8, a builder used twice, unknown enum values, and failing calls with their error
 * objects (kind, message, HTTP status, Exchange error code). Runs against the simulated
 * tenant on loopback; run by tests/tests/c_api.rs, also under valgrind.
 *
 * Longer than 600 lines on purpose: one program, so one valgrind run covers the whole API
 * (each valgrind start costs seconds); the sections follow the header's order.
 *
 * usage: test_api CERT.pem KEY.pem SIGNATURE.toml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigsync.h"

static int failures = 0;

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

/* Expects OK; on failure prints the error object. */
#define OK(call)                                                                      \
  do {                                                                                \
    sigsync_error *ok_err_ = NULL;                                                    \
    sigsync_result ok_r_ = (call);                                                    \
    (void)ok_err_;                                                                    \
    if (ok_r_ != SIGSYNC_RESULT_OK) {                                                 \
      fprintf(stderr, "%s:%d: %s returned %s\n", __FILE__, __LINE__, #call,           \
              sigsync_result_name(ok_r_));                                            \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

/* Expects `want`, checks the error object's kind and that it has a message, frees it. */
/* Runs `call` (which passes `&err`) and expects `want` with an error object. */
#define EXPECT(want, what, call)                                                      \
  do {                                                                                \
    err = NULL;                                                                       \
    sigsync_result expect_r_ = (call);                                                \
    expect_error(expect_r_, err, (want), (what));                                     \
    err = NULL;                                                                       \
  } while (0)

static void expect_error(sigsync_result got, sigsync_error *err, sigsync_result want,
                         const char *what) {
  if (got != want) {
    fprintf(stderr, "%s: returned %s (%u), wanted %s\n", what, sigsync_result_name(got),
            (unsigned)got, sigsync_result_name(want));
    if (err) fprintf(stderr, "  message: %s\n", sigsync_error_message(err));
    failures++;
  }
  if (err == NULL) {
    fprintf(stderr, "%s: no error object\n", what);
    failures++;
    return;
  }
  CHECK(sigsync_error_result(err) == want);
  CHECK(sigsync_error_message(err) != NULL && strlen(sigsync_error_message(err)) > 0);
  sigsync_error_free(err);
}

static void test_version_and_results(void) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SIGSYNC_VERSION_MAJOR, SIGSYNC_VERSION_MINOR,
           SIGSYNC_VERSION_PATCH);
  CHECK(strcmp(sigsync_version(), want) == 0);
  CHECK(SIGSYNC_VERSION_NUMBER == SIGSYNC_VERSION_MAJOR * 10000 + SIGSYNC_VERSION_MINOR * 100 +
                                      SIGSYNC_VERSION_PATCH);
  CHECK(sigsync_has_sim());
  CHECK(strcmp(sigsync_result_name(SIGSYNC_RESULT_OK), "ok") == 0);
  CHECK(strcmp(sigsync_result_name(SIGSYNC_RESULT_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(sigsync_result_name(SIGSYNC_RESULT_NULL_PARAMETER), "null_parameter") == 0);
  CHECK(strcmp(sigsync_result_name(4242), "unknown") == 0);
  CHECK(sigsync_result_is_retryable(SIGSYNC_RESULT_THROTTLED));
  CHECK(!sigsync_result_is_retryable(SIGSYNC_RESULT_VALIDATION));
  /* Getters on NULL give their documented defaults. */
  CHECK(sigsync_error_result(NULL) == SIGSYNC_RESULT_NULL_PARAMETER);
  CHECK(sigsync_error_message(NULL) == NULL);
  CHECK(sigsync_error_code(NULL) == NULL);
  CHECK(sigsync_error_http_status(NULL) == 0);
  CHECK(sigsync_string_ptr(NULL) == NULL);
  CHECK(sigsync_string_len(NULL) == 0);
  CHECK(sigsync_group_list_len(NULL) == 0);
  CHECK(sigsync_plan_json(NULL) == NULL);
  CHECK(sigsync_plan_step_count(NULL) == 0);
  CHECK(sigsync_report_status(NULL) == SIGSYNC_SETUP_STATUS_UNKNOWN);
  CHECK(sigsync_rendered_signature_signed(NULL) == false);
  /* _free(NULL) is a no-op for every type. */
  sigsync_error_free(NULL);
  sigsync_string_free(NULL);
  sigsync_sim_tenant_free(NULL);
  sigsync_sim_server_free(NULL);
  sigsync_auth_config_builder_free(NULL);
  sigsync_auth_config_free(NULL);
  sigsync_token_provider_free(NULL);
  sigsync_client_builder_free(NULL);
  sigsync_client_free(NULL);
  sigsync_group_list_free(NULL);
  sigsync_service_profile_builder_free(NULL);
  sigsync_service_profile_free(NULL);
  sigsync_connector_setup_builder_free(NULL);
  sigsync_connector_setup_free(NULL);
  sigsync_setup_engine_free(NULL);
  sigsync_plan_free(NULL);
  sigsync_report_free(NULL);
  sigsync_signature_engine_free(NULL);
  sigsync_rendered_signature_free(NULL);
}

static void test_null_and_utf8(void) {
  sigsync_error *err = NULL;
  sigsync_auth_config_builder *b = NULL;
  /* NULL arguments, with and without an error object. */
  EXPECT(SIGSYNC_RESULT_NULL_PARAMETER, "NULL client_id",
         sigsync_auth_config_builder_new(NULL, "contoso.com", &b, &err));
  CHECK(b == NULL); /* out-parameters are written only on success */
  err = NULL;
  CHECK(sigsync_auth_config_builder_new("id", "t", NULL, NULL) == SIGSYNC_RESULT_NULL_PARAMETER);
  CHECK(sigsync_sim_tenant_new(NULL) == SIGSYNC_RESULT_NULL_PARAMETER);
  /* Invalid UTF-8. */
  EXPECT(SIGSYNC_RESULT_INVALID_UTF8, "bad UTF-8 client_id",
         sigsync_auth_config_builder_new("\xff\xfe", "contoso.com", &b, &err));
  CHECK(b == NULL);
}

static void test_builders(void) {
  sigsync_error *err = NULL;
  sigsync_service_profile_builder *pb = NULL;
  sigsync_service_profile *profile = NULL, *profile2 = NULL;
  sigsync_connector_setup_builder *sb = NULL;
  sigsync_connector_setup *setup = NULL;

  /* A profile missing its smart hosts fails validation, naming the field. */
  OK(sigsync_service_profile_builder_new(&pb));
  OK(sigsync_service_profile_builder_set_certificate_name(pb, "tenant1.smtp.signatures.example.com", &err));
  CHECK(sigsync_service_profile_builder_build(pb, &profile, &err) == SIGSYNC_RESULT_VALIDATION);
  CHECK(profile == NULL);
  CHECK(err && strstr(sigsync_error_message(err), "smart_hosts") != NULL);
  sigsync_error_free(err);
  err = NULL;
  /* ... and is used up: a second build, or a setter, says ALREADY_USED. */
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "profile builder used twice",
         sigsync_service_profile_builder_build(pb, &profile, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "setter after build",
         sigsync_service_profile_builder_add_smart_host(pb, "smtp.example.com", &err));
  err = NULL;
  sigsync_service_profile_builder_free(pb);

  OK(sigsync_service_profile_builder_new(&pb));
  OK(sigsync_service_profile_builder_add_smart_host(pb, "smtp.signatures.example.com", &err));
  OK(sigsync_service_profile_builder_set_tls_domain(pb, "smtp.signatures.example.com", &err));
  OK(sigsync_service_profile_builder_set_certificate_name(pb, "tenant1.smtp.signatures.example.com", &err));
  OK(sigsync_service_profile_builder_add_relay_ip_range(pb, "203.0.113.0/24", &err));
  OK(sigsync_service_profile_builder_build(pb, &profile, &err));
  CHECK(profile != NULL);
  sigsync_service_profile_builder_free(pb);

  EXPECT(SIGSYNC_RESULT_CONFIG, "profile from bad JSON",
         sigsync_service_profile_from_json("{not json", &profile2, &err));
  err = NULL;
  CHECK(profile2 == NULL);
  /* A saved profile without its loop-header value is refused, naming the field... */
  CHECK(sigsync_service_profile_from_json(
            "{\"smart_hosts\": [\"smtp.signatures.example.com\"],"
            " \"certificate_name\": \"tenant1.smtp.signatures.example.com\"}",
            &profile2, &err) == SIGSYNC_RESULT_VALIDATION);
  CHECK(err && strstr(sigsync_error_message(err), "loop_header.value") != NULL);
  sigsync_error_free(err);
  err = NULL;
  /* ... the builder generated one (32 characters), and the saved JSON reads back as it was
   * (tls_domain defaults to the first smart host when left out). */
  CHECK(strlen(sigsync_service_profile_loop_header_value(profile)) == 32);
  {
    sigsync_string *saved = NULL;
    OK(sigsync_service_profile_to_json(profile, &saved));
    OK(sigsync_service_profile_from_json(sigsync_string_ptr(saved), &profile2, &err));
    CHECK(strcmp(sigsync_service_profile_loop_header_value(profile2),
                 sigsync_service_profile_loop_header_value(profile)) == 0);
    sigsync_service_profile_free(profile2);
    profile2 = NULL;
    sigsync_string_free(saved);
  }
  OK(sigsync_service_profile_from_json(
      "{\"smart_hosts\": [\"smtp.signatures.example.com\"],"
      " \"certificate_name\": \"tenant1.smtp.signatures.example.com\","
      " \"loop_header\": {\"value\": \"kept-1\"}}",
      &profile2, &err));
  CHECK(strcmp(sigsync_service_profile_loop_header_value(profile2), "kept-1") == 0);
  sigsync_service_profile_free(profile2);
  profile2 = NULL;
  OK(sigsync_service_profile_builder_new(&pb));
  EXPECT(SIGSYNC_RESULT_VALIDATION, "a loop-header value outside the safe alphabet",
         sigsync_service_profile_builder_set_loop_header(pb, "X-Sigsync-Processed", "a+b", &err));
  err = NULL;
  sigsync_service_profile_builder_free(pb);

  /* The status names are the ones Rust, Python and the example's JSON use. */
  CHECK(strcmp(sigsync_setup_status_name(SIGSYNC_SETUP_STATUS_AT_RISK), "at_risk") == 0);
  CHECK(strcmp(sigsync_setup_status_name(SIGSYNC_SETUP_STATUS_DEGRADED), "degraded") == 0);
  CHECK(strcmp(sigsync_setup_status_name(SIGSYNC_SETUP_STATUS_CONFIGURED), "configured") == 0);
  CHECK(strcmp(sigsync_setup_status_name(SIGSYNC_SETUP_STATUS_UNKNOWN), "unknown") == 0);

  OK(sigsync_connector_setup_builder_new(profile, &sb));
  OK(sigsync_connector_setup_builder_add_group(sb, "sales@contoso.com", &err));
  OK(sigsync_connector_setup_builder_set_include_internal(sb, false, &err));
  OK(sigsync_connector_setup_builder_set_staged(sb, true, &err));
  OK(sigsync_connector_setup_builder_set_priority(sb, 1, &err));
  OK(sigsync_connector_setup_builder_build(sb, &setup, &err));
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "setup builder used twice",
         sigsync_connector_setup_builder_build(sb, &setup, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "setup setter after build",
         sigsync_connector_setup_builder_set_staged(sb, false, &err));
  err = NULL;
  sigsync_connector_setup_builder_free(sb);
  sigsync_connector_setup_free(setup);

  sigsync_service_profile_free(profile);
}

static void on_prompt(void *user_data, const char *uri, const char *code, const char *message) {
  int *count = user_data;
  (*count)++;
  CHECK(uri != NULL && strncmp(uri, "http://127.0.0.1:", 17) == 0);
  CHECK(code != NULL && strlen(code) > 0);
  (void)message;
}

struct progress_log {
  int started, finished, failed, undoing;
};

static void on_progress(void *user_data, sigsync_progress_event event, const char *op,
                        const char *kind, const char *name, const char *error) {
  struct progress_log *log = user_data;
  CHECK(op && kind && name);
  switch (event) {
  case SIGSYNC_PROGRESS_EVENT_STARTED: log->started++; CHECK(error == NULL); break;
  case SIGSYNC_PROGRESS_EVENT_FINISHED: log->finished++; CHECK(error == NULL); break;
  case SIGSYNC_PROGRESS_EVENT_FAILED: log->failed++; CHECK(error != NULL); break;
  case SIGSYNC_PROGRESS_EVENT_UNDOING: log->undoing++; break;
  case SIGSYNC_PROGRESS_EVENT_ADOPTED: log->finished++; CHECK(error == NULL); break;
  default: CHECK(!"unknown progress event");
  }
}

static sigsync_auth_config *sim_auth(sigsync_sim_server *server) {
  sigsync_error *err = NULL;
  sigsync_auth_config_builder *b = NULL;
  sigsync_auth_config *auth = NULL;
  OK(sigsync_auth_config_builder_new("sigsync-c-test", sigsync_sim_server_tenant_id(server), &b, &err));
  OK(sigsync_auth_config_builder_set_cloud(b, SIGSYNC_CLOUD_GLOBAL, &err));
  OK(sigsync_auth_config_builder_set_login_url(b, sigsync_sim_server_login_url(server), &err));
  OK(sigsync_auth_config_builder_set_allow_http(b, true, &err));
  OK(sigsync_auth_config_builder_build(b, &auth, &err));
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "auth builder used twice",
         sigsync_auth_config_builder_build(b, &auth, &err));
  sigsync_auth_config_builder_free(b);
  return auth;
}

static sigsync_client *sim_client(sigsync_sim_server *server, sigsync_token_provider *tokens) {
  sigsync_error *err = NULL;
  sigsync_client_builder *b = NULL;
  sigsync_client *client = NULL;
  OK(sigsync_client_builder_new(tokens, &b));
  OK(sigsync_client_builder_set_tenant(b, sigsync_sim_server_tenant_id(server), &err));
  OK(sigsync_client_builder_set_cloud(b, SIGSYNC_CLOUD_GLOBAL, &err));
  OK(sigsync_client_builder_set_exchange_url(b, sigsync_sim_server_exchange_url(server), &err));
  OK(sigsync_client_builder_set_graph_url(b, sigsync_sim_server_graph_url(server), &err));
  OK(sigsync_client_builder_set_allow_http(b, true, &err));
  OK(sigsync_client_builder_build(b, &client, &err));
  EXPECT(SIGSYNC_RESULT_ALREADY_USED, "client builder used twice",
         sigsync_client_builder_set_allow_http(b, true, &err));
  sigsync_client_builder_free(b);
  return client;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static void test_sim_setup(const char *cert_path, const char *key_path) {
  sigsync_error *err = NULL;
  sigsync_sim_tenant *tenant = NULL;
  sigsync_sim_server *server = NULL, *declining = NULL;
  sigsync_token_provider *tokens = NULL, *app = NULL, *cert_tokens = NULL;
  sigsync_client *client = NULL;
  sigsync_group_list *groups = NULL;
  sigsync_service_profile *profile = NULL;
  sigsync_connector_setup_builder *sb = NULL;
  sigsync_connector_setup *setup = NULL;
  sigsync_setup_engine *engine = NULL;
  sigsync_plan *plan = NULL;
  sigsync_report *report = NULL;
  sigsync_string *json = NULL;
  sigsync_setup_status status = SIGSYNC_SETUP_STATUS_UNKNOWN;
  size_t errors = 99;
  int prompts = 0;
  const char *members[] = {"adele@contoso.com"};
  const char *bad_members[] = {NULL};

  OK(sigsync_sim_tenant_new(&tenant));
  OK(sigsync_sim_tenant_add_accepted_domain(tenant, "contoso.com", true, &err));
  OK(sigsync_sim_tenant_add_accepted_domain(tenant, "tenant1.smtp.signatures.example.com", false, &err));
  OK(sigsync_sim_tenant_add_user(tenant, "adele@contoso.com", "Adele Vance", "Retail Manager", &err));
  OK(sigsync_sim_tenant_add_user(tenant, "megan@contoso.com", "Megan Bowen", NULL, &err));
  OK(sigsync_sim_tenant_add_group(tenant, "Sales", "sales@contoso.com",
                                  SIGSYNC_GROUP_KIND_DISTRIBUTION, members, 1, &err));
  OK(sigsync_sim_tenant_add_group(tenant, "IT admins", NULL, SIGSYNC_GROUP_KIND_SECURITY, NULL, 0, &err));
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "unknown group kind",
         sigsync_sim_tenant_add_group(tenant, "X", "x@contoso.com", 42, NULL, 0, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_NULL_PARAMETER, "NULL member",
         sigsync_sim_tenant_add_group(tenant, "X", "x@contoso.com",
                                            SIGSYNC_GROUP_KIND_DISTRIBUTION, bad_members, 1, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "fault with a non-kind code",
         sigsync_sim_tenant_inject_fault(tenant, "New-TransportRule", 7, 0, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "unknown sign-in outcome",
         sigsync_sim_server_start(tenant, 9, &server, &err));
  err = NULL;
  CHECK(server == NULL);
  OK(sigsync_sim_server_start(tenant, SIGSYNC_SIM_SIGN_IN_APPROVE, &server, &err));
  CHECK(strncmp(sigsync_sim_server_exchange_url(server), "http://127.0.0.1:", 17) == 0);
  CHECK(strstr(sigsync_sim_server_graph_url(server), "/v1.0") != NULL);

  /* Device code, with the prompt callback receiving user data. */
  sigsync_auth_config *auth = sim_auth(server);
  EXPECT(SIGSYNC_RESULT_NULL_PARAMETER, "NULL prompt callback",
         sigsync_sign_in_device_code(auth, NULL, NULL, &tokens, &err));
  err = NULL;
  OK(sigsync_sign_in_device_code(auth, on_prompt, &prompts, &tokens, &err));
  CHECK(prompts == 1);
  CHECK(tokens != NULL);

  /* App-only: client secret and certificate. */
  OK(sigsync_sign_in_client_secret(auth, "not-a-real-secret", &app, &err));
  char *cert = read_file(cert_path), *key = read_file(key_path);
  CHECK(cert != NULL && key != NULL);
  if (cert && key) OK(sigsync_sign_in_certificate(auth, cert, key, &cert_tokens, &err));
  EXPECT(SIGSYNC_RESULT_VALIDATION, "bad certificate",
         sigsync_sign_in_certificate(auth, "not a certificate", "not a key", &cert_tokens, &err));
  err = NULL;
  free(cert);
  free(key);

  /* Plain http to loopback needs the explicit flag. */
  {
    sigsync_client_builder *b = NULL;
    sigsync_client *c = NULL;
    OK(sigsync_client_builder_new(tokens, &b));
    OK(sigsync_client_builder_set_exchange_url(b, sigsync_sim_server_exchange_url(server), &err));
    OK(sigsync_client_builder_set_graph_url(b, sigsync_sim_server_graph_url(server), &err));
    EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "unknown cloud",
         sigsync_client_builder_set_cloud(b, 17, &err));
    err = NULL;
    EXPECT(SIGSYNC_RESULT_VALIDATION, "http without allow_http",
         sigsync_client_builder_build(b, &c, &err));
    err = NULL;
    CHECK(c == NULL);
    sigsync_client_builder_free(b);
  }

  client = sim_client(server, tokens);
  OK(sigsync_client_list_mail_enabled_groups(client, &groups, &err));
  CHECK(sigsync_group_list_len(groups) == 1);
  CHECK(strcmp(sigsync_group_list_display_name(groups, 0), "Sales") == 0);
  CHECK(strcmp(sigsync_group_list_mail(groups, 0), "sales@contoso.com") == 0);
  CHECK(sigsync_group_list_id(groups, 0) != NULL);
  CHECK(sigsync_group_list_kind(groups, 0) == SIGSYNC_GROUP_KIND_DISTRIBUTION);
  CHECK(sigsync_group_list_mail(groups, 5) == NULL);
  CHECK(sigsync_group_list_kind(groups, 5) == SIGSYNC_GROUP_KIND_SECURITY);
  sigsync_group_list_free(groups);

  /* The app-only client reads the tenant too. */
  {
    sigsync_client *app_client = sim_client(server, app);
    sigsync_group_list *g = NULL;
    OK(sigsync_client_list_mail_enabled_groups(app_client, &g, &err));
    CHECK(sigsync_group_list_len(g) == 1);
    sigsync_group_list_free(g);
    sigsync_client_free(app_client);
  }

  OK(sigsync_service_profile_from_json(
      "{\"smart_hosts\": [\"smtp.signatures.example.com\"],"
      " \"certificate_name\": \"tenant1.smtp.signatures.example.com\","
      " \"loop_header\": {\"name\": \"X-Sigsync-Processed\", \"value\": \"c-test-1\"}}",
      &profile, &err));
  OK(sigsync_connector_setup_builder_new(profile, &sb));
  OK(sigsync_connector_setup_builder_add_group(sb, "sales@contoso.com", &err));
  OK(sigsync_connector_setup_builder_build(sb, &setup, &err));
  OK(sigsync_setup_engine_new(client, &engine));

  OK(sigsync_setup_engine_preflight(engine, setup, &errors, &json, &err));
  CHECK(errors == 0);
  CHECK(json && sigsync_string_ptr(json)[0] == '[');
  CHECK(json && sigsync_string_len(json) == strlen(sigsync_string_ptr(json)));
  sigsync_string_free(json);
  json = NULL;

  OK(sigsync_setup_engine_plan(engine, setup, &plan, &err));
  CHECK(sigsync_plan_step_count(plan) == 4);
  CHECK(sigsync_plan_unchanged_count(plan) == 0);
  CHECK(sigsync_plan_error_count(plan) == 0);
  CHECK(strstr(sigsync_plan_json(plan), "\"steps\"") != NULL);
  CHECK(strstr(sigsync_plan_text(plan), "Sigsync Routing Rule") != NULL);
  sigsync_plan_free(plan);
  plan = NULL;

  /* A failing apply: the rule's creation is refused; the connectors are undone. */
  OK(sigsync_sim_tenant_inject_fault(tenant, "New-TransportRule", SIGSYNC_RESULT_FORBIDDEN, 0, &err));
  {
    struct progress_log log = {0, 0, 0, 0};
    CHECK(sigsync_setup_engine_apply(engine, setup, on_progress, &log, &report, &err) ==
          SIGSYNC_RESULT_FORBIDDEN);
    CHECK(report == NULL);
    CHECK(err != NULL);
    if (err) {
      CHECK(sigsync_error_result(err) == SIGSYNC_RESULT_FORBIDDEN);
      CHECK(sigsync_error_http_status(err) == 403);
      CHECK(sigsync_error_code(err) != NULL);
      CHECK(strstr(sigsync_error_message(err), "New-TransportRule") != NULL);
      /* The report travels with the error: where the tenant stands, and the repair. */
      CHECK(sigsync_error_report_json(err) != NULL);
      CHECK(strstr(sigsync_error_report_json(err), "\"repair\"") != NULL);
      CHECK(strstr(sigsync_error_report_json(err), "\"status\": \"absent\"") != NULL);
      sigsync_error_free(err);
      err = NULL;
    }
    CHECK(log.failed >= 1);
    CHECK(log.undoing >= 1);
  }
  sigsync_sim_tenant_clear_faults(tenant);

  /* Apply, then status, pause, resume, remove. */
  {
    struct progress_log log = {0, 0, 0, 0};
    size_t before = sigsync_sim_tenant_write_count(tenant);
    OK(sigsync_setup_engine_apply(engine, setup, on_progress, &log, &report, &err));
    CHECK(sigsync_report_status(report) == SIGSYNC_SETUP_STATUS_CONFIGURED);
    CHECK(sigsync_report_writes(report) == 4);
    CHECK(sigsync_report_step_count(report) == 4);
    CHECK(strstr(sigsync_report_json(report), "\"configure\"") != NULL);
    CHECK(sigsync_sim_tenant_write_count(tenant) == before + 4);
    CHECK(log.started == 4 && log.finished == 4 && log.failed == 0);
    sigsync_report_free(report);
    report = NULL;
  }
  OK(sigsync_setup_engine_plan(engine, setup, &plan, &err));
  CHECK(sigsync_plan_step_count(plan) == 0); /* converged */
  CHECK(sigsync_plan_unchanged_count(plan) == 4);
  sigsync_plan_free(plan);

  OK(sigsync_setup_engine_status(engine, setup, &status, &json, &err));
  CHECK(status == SIGSYNC_SETUP_STATUS_CONFIGURED);
  CHECK(json && strstr(sigsync_string_ptr(json), "\"configured\"") != NULL);
  sigsync_string_free(json);
  json = NULL;

  OK(sigsync_setup_engine_pause(engine, setup, NULL, NULL, &report, &err));
  CHECK(sigsync_report_status(report) == SIGSYNC_SETUP_STATUS_PAUSED);
  sigsync_report_free(report);
  OK(sigsync_setup_engine_status(engine, setup, &status, NULL, &err));
  CHECK(status == SIGSYNC_SETUP_STATUS_PAUSED);

  OK(sigsync_setup_engine_resume(engine, setup, on_progress, &(struct progress_log){0, 0, 0, 0},
                                 &report, &err));
  CHECK(sigsync_report_status(report) == SIGSYNC_SETUP_STATUS_CONFIGURED);
  sigsync_report_free(report);

  OK(sigsync_setup_engine_remove(engine, setup, NULL, NULL, &report, &err));
  CHECK(sigsync_report_status(report) == SIGSYNC_SETUP_STATUS_ABSENT);
  sigsync_report_free(report);
  report = NULL;

  /* A failing read with its error object. */
  OK(sigsync_sim_tenant_inject_fault(tenant, "Get-TransportRule", SIGSYNC_RESULT_FORBIDDEN, 1, &err));
  status = SIGSYNC_SETUP_STATUS_UNKNOWN;
  CHECK(sigsync_setup_engine_status(engine, setup, &status, NULL, &err) ==
        SIGSYNC_RESULT_FORBIDDEN);
  CHECK(err && sigsync_error_report_json(err) == NULL); /* no action, no report */
  sigsync_error_free(err);
  err = NULL;
  CHECK(status == SIGSYNC_SETUP_STATUS_UNKNOWN);

  /* A declined device-code sign-in. */
  OK(sigsync_sim_server_start(tenant, SIGSYNC_SIM_SIGN_IN_DECLINE, &declining, &err));
  {
    sigsync_auth_config *a = sim_auth(declining);
    sigsync_token_provider *t = NULL;
    int n = 0;
    EXPECT(SIGSYNC_RESULT_SIGN_IN_DECLINED, "declined sign-in",
         sigsync_sign_in_device_code(a, on_prompt, &n, &t, &err));
    err = NULL;
    CHECK(t == NULL);
    sigsync_auth_config_free(a);
  }

  sigsync_setup_engine_free(engine);
  sigsync_connector_setup_free(setup);
  sigsync_connector_setup_builder_free(sb);
  sigsync_service_profile_free(profile);
  sigsync_client_free(client);
  sigsync_token_provider_free(cert_tokens);
  sigsync_token_provider_free(app);
  sigsync_token_provider_free(tokens);
  sigsync_auth_config_free(auth);
  sigsync_sim_server_free(declining);
  sigsync_sim_server_free(server);
  sigsync_sim_tenant_free(tenant);
}

static const char *CONFIG =
    "accepted_domains = [\"contoso.com\"]\n"
    "[signatures.standard]\n"
    "html = \"<b>{{ displayName }}</b> {{ jobTitle }}\"\n"
    "text = \"{{ displayName }} {{ jobTitle }}\"\n"
    "[[rules]]\n"
    "name = \"Internal\"\n"
    "recipients = \"internal\"\n"
    "[[rules]]\n"
    "name = \"Everyone\"\n"
    "signature = \"standard\"\n"
    "[directory]\n"
    "source = \"memory\"\n"
    "[directory.users.\"adele@contoso.com\"]\n"
    "displayName = \"Adele Vance\"\n"
    "jobTitle = \"Retail Manager\"\n";

static void test_signatures(const char *config_path) {
  sigsync_error *err = NULL;
  sigsync_signature_engine *engine = NULL, *from_file = NULL, *bad = NULL;
  sigsync_rendered_signature *rendered = NULL;
  const char *external[] = {"ben@fabrikam.com"};
  const char *internal[] = {"megan@contoso.com"};
  const char *user = "{\"displayName\": \"Adele <Vance>\", \"jobTitle\": \"Retail Manager\","
                     " \"mail\": \"adele@contoso.com\"}";

  OK(sigsync_signature_engine_load(config_path, &from_file, &err));
  sigsync_signature_engine_free(from_file);
  EXPECT(SIGSYNC_RESULT_CONFIG, "missing configuration file",
         sigsync_signature_engine_load("/nonexistent/signature.toml", &bad, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_CONFIG, "bad configuration",
         sigsync_signature_engine_from_str("signatures = 3", SIGSYNC_CONFIG_FORMAT_TOML, &bad, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "unknown format",
         sigsync_signature_engine_from_str("{}", 5, &bad, &err));
  err = NULL;
  CHECK(bad == NULL);
  OK(sigsync_signature_engine_from_str("{\"signatures\": {}, \"rules\": []}", SIGSYNC_CONFIG_FORMAT_JSON,
                                       &bad, &err));
  sigsync_signature_engine_free(bad);

  OK(sigsync_signature_engine_from_str(CONFIG, SIGSYNC_CONFIG_FORMAT_TOML, &engine, &err));
  OK(sigsync_signature_engine_render_client_side(engine, user, NULL, external, 1,
                                                 SIGSYNC_MESSAGE_KIND_NEW, &rendered, &err));
  CHECK(sigsync_rendered_signature_signed(rendered));
  CHECK(strstr(sigsync_rendered_signature_html(rendered), "Adele &lt;Vance&gt;") != NULL);
  CHECK(strstr(sigsync_rendered_signature_html(rendered), "data-sigsync=\"client\"") != NULL);
  CHECK(strstr(sigsync_rendered_signature_text(rendered), "Retail Manager") != NULL);
  CHECK(strcmp(sigsync_rendered_signature_reason(rendered), "") == 0);
  sigsync_rendered_signature_free(rendered);
  rendered = NULL;

  OK(sigsync_signature_engine_render_client_side(engine, user, "adele@contoso.com", internal, 1,
                                                 SIGSYNC_MESSAGE_KIND_REPLY, &rendered, &err));
  CHECK(!sigsync_rendered_signature_signed(rendered));
  CHECK(strstr(sigsync_rendered_signature_reason(rendered), "Internal") != NULL);
  sigsync_rendered_signature_free(rendered);
  rendered = NULL;

  EXPECT(SIGSYNC_RESULT_VALIDATION, "bad user JSON",
         sigsync_signature_engine_render_client_side(engine, "{", NULL, NULL, 0,
                                                           SIGSYNC_MESSAGE_KIND_NEW, &rendered, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_NULL_PARAMETER, "NULL recipients with a length",
         sigsync_signature_engine_render_client_side(engine, user, NULL, NULL, 2,
                                                           SIGSYNC_MESSAGE_KIND_NEW, &rendered, &err));
  err = NULL;
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "unknown message kind",
         sigsync_signature_engine_render_client_side(engine, user, NULL, NULL, 0, 9, &rendered, &err));
  CHECK(rendered == NULL);
  sigsync_signature_engine_free(engine);
}

static const char *MESSAGE =
    "From: Adele Vance <adele@contoso.com>\r\n"
    "To: Ben <ben@fabrikam.com>\r\n"
    "Subject: Hello\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Ben\r\n";

static void test_injector(const char *config_path) {
  sigsync_error *err = NULL;
  sigsync_injector *injector = NULL, *from_file = NULL, *bad = NULL;
  sigsync_string *reason = NULL;
  sigsync_inject_outcome outcome = SIGSYNC_INJECT_OUTCOME_FAILED;
  size_t len = strlen(MESSAGE), out_len = 0;
  unsigned char out[8192];
  const char *internal[] = {"megan@contoso.com"};

  OK(sigsync_injector_load(config_path, &from_file, &err));
  sigsync_injector_free(from_file);
  EXPECT(SIGSYNC_RESULT_CONFIG, "injector from a missing file",
         sigsync_injector_load("/nonexistent.toml", &bad, &err));
  EXPECT(SIGSYNC_RESULT_INVALID_PARAMETER, "injector with an unknown format",
         sigsync_injector_from_str(CONFIG, 7, &bad, &err));
  CHECK(bad == NULL);
  OK(sigsync_injector_from_str(CONFIG, SIGSYNC_CONFIG_FORMAT_TOML, &injector, &err));

  /* The size query: NULL buffer, capacity 0. */
  EXPECT(SIGSYNC_RESULT_INSUFFICIENT_SIZE, "size query",
         sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, NULL, NULL, 0, NULL, NULL, 0,
                                 &out_len, &outcome, &reason, &err));
  CHECK(out_len > len);
  CHECK(reason == NULL); /* only out_len is written */
  size_t needed = out_len;
  EXPECT(SIGSYNC_RESULT_NULL_PARAMETER, "NULL buffer with a capacity",
         sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, NULL, NULL, 0, NULL, NULL, 10,
                                 &out_len, &outcome, &reason, &err));

  OK(sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, NULL, NULL, 0, NULL, out,
                             sizeof out, &out_len, &outcome, &reason, &err));
  if (outcome != SIGSYNC_INJECT_OUTCOME_INJECTED) fprintf(stderr, "outcome %u: %s\n", (unsigned)outcome, reason ? sigsync_string_ptr(reason) : "");
  CHECK(outcome == SIGSYNC_INJECT_OUTCOME_INJECTED);
  CHECK(reason == NULL);
  CHECK(out_len > len && out_len < sizeof out);
  CHECK(out_len == needed); /* the size query gives the exact length */
  CHECK(memcmp(out, "X-Sigsync-Processed: true\r\n", 27) == 0);
  out[out_len < sizeof out ? out_len : sizeof out - 1] = '\0';
  CHECK(strstr((const char *)out, "Retail Manager") != NULL || strstr((const char *)out, "Adele") != NULL);

  /* The envelope says the recipient is internal: the policy adds nothing. */
  OK(sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, "adele@contoso.com", internal,
                             1, NULL, out, sizeof out, &out_len, &outcome, &reason, &err));
  CHECK(outcome == SIGSYNC_INJECT_OUTCOME_SKIPPED);
  CHECK(reason != NULL && sigsync_string_len(reason) > 0);
  sigsync_string_free(reason);
  reason = NULL;

  /* Already processed: the loop header is there. */
  {
    char again[1024];
    snprintf(again, sizeof again, "X-Sigsync-Processed: true\r\n%s", MESSAGE);
    OK(sigsync_injector_inject(injector, (const uint8_t *)again, strlen(again), NULL, NULL, 0, NULL, out,
                               sizeof out, &out_len, &outcome, NULL, &err));
    CHECK(outcome == SIGSYNC_INJECT_OUTCOME_SKIPPED);
    CHECK(out_len == strlen(again) && memcmp(out, again, out_len) == 0);
  }

  /* The caller's attributes for the sender, instead of the directory. */
  OK(sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, NULL, NULL, 0,
                             "{\"displayName\": \"Megan Bowen\", \"jobTitle\": \"Marketing\"}", out,
                             sizeof out, &out_len, &outcome, NULL, &err));
  CHECK(outcome == SIGSYNC_INJECT_OUTCOME_INJECTED);
  out[out_len < sizeof out ? out_len : sizeof out - 1] = '\0';
  CHECK(strstr((const char *)out, "Megan Bowen") != NULL);

  /* Bad per-message input fails the message, not the call: it passes through with the loop
   * header, so a relay that sends on whatever comes back loses no mail. */
  {
    const char *bad_sender = "\xff\xfe@contoso.com";
    const char *null_rcpt[] = {"megan@contoso.com", NULL};
    const char *bad_rcpt[] = {"\xc3\x28@contoso.com"};
    struct {
      const char *what, *sender, *user;
      const char **rcpt;
      size_t n;
    } cases[] = {
        {"user_json that is not JSON", NULL, "{", NULL, 0},
        {"user_json that is not a user object", NULL, "[1, 2]", NULL, 0},
        {"a sender that is not UTF-8", bad_sender, NULL, NULL, 0},
        {"a NULL recipient", "adele@contoso.com", NULL, null_rcpt, 2},
        {"a recipient that is not UTF-8", "adele@contoso.com", NULL, bad_rcpt, 1},
        {"recipients NULL with a count", "adele@contoso.com", NULL, NULL, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      sigsync_string *why = NULL;
      outcome = SIGSYNC_INJECT_OUTCOME_INJECTED;
      OK(sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, cases[i].sender, cases[i].rcpt,
                                 cases[i].n, cases[i].user, out, sizeof out, &out_len, &outcome, &why,
                                 &err));
      if (outcome != SIGSYNC_INJECT_OUTCOME_FAILED) fprintf(stderr, "%s: outcome %u\n", cases[i].what, (unsigned)outcome);
      CHECK(outcome == SIGSYNC_INJECT_OUTCOME_FAILED);
      CHECK(why != NULL && strstr(sigsync_string_ptr(why), "invalid input") != NULL);
      CHECK(out_len == 27 + len && memcmp(out, "X-Sigsync-Processed: true\r\n", 27) == 0 &&
            memcmp(out + 27, MESSAGE, len) == 0);
      sigsync_string_free(why);
    }
  }

  /* Too small a buffer. */
  EXPECT(SIGSYNC_RESULT_INSUFFICIENT_SIZE, "small buffer",
         sigsync_injector_inject(injector, (const uint8_t *)MESSAGE, len, NULL, NULL, 0, NULL, out, 10,
                                 &out_len, &outcome, &reason, &err));
  CHECK(reason == NULL);
  sigsync_injector_free(injector);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s CERT.pem KEY.pem SIGNATURE.toml\n", argv[0]);
    return 2;
  }
  test_version_and_results();
  test_null_and_utf8();
  test_builders();
  test_sim_setup(argv[1], argv[2]);
  test_signatures(argv[3]);
  test_injector(argv[3]);
  if (failures) {
    fprintf(stderr, "%d C API checks failed\n", failures);
    return 1;
  }
  printf("all C API tests passed\n");
  return 0;
}
