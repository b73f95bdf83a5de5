/*
 * The connector wizard in C, on the simulated tenant (served over HTTP on loopback):
 * sign in with a device code (the prompt callback shows the code), list the mail-enabled
 * groups, show the plan, apply it with progress, and print the result.
 *
 * Build (see include/README.md):
 *   cargo build -p sigsync-ffi
 *   cc -std=c11 -DSIGSYNC_SIM -Iinclude examples/c/setup.c -Ltarget/debug -lsigsync \
 *      -Wl,-rpath,target/debug -o setup && ./setup
 */
#include <stdio.h>
#include <stdlib.h>

#include "sigsync.h"

/* Prints the error of a failed call and frees it; returns 1 so main can exit with it. */
static int fail(const char *what, sigsync_result r, sigsync_error *err) {
  fprintf(stderr, "setup: %s failed: %s (%s", what,
          err ? sigsync_error_message(err) : "", sigsync_result_name(r));
  if (err && sigsync_error_http_status(err))
    fprintf(stderr, ", HTTP %u", (unsigned)sigsync_error_http_status(err));
  if (err && sigsync_error_code(err)) fprintf(stderr, ", %s", sigsync_error_code(err));
  fprintf(stderr, ")\n");
  sigsync_error_free(err);
  return 1;
}

/* The device-code prompt: tell the admin where to go and which code to enter. */
static void show_prompt(void *user_data, const char *uri, const char *code,
                        const char *message) {
  int *shown = user_data;
  *shown += 1;
  if (message)
    printf("%s\n", message);
  else
    printf("To sign in, open %s and enter the code %s\n", uri, code);
}

static void show_progress(void *user_data, sigsync_progress_event event, const char *op,
                          const char *kind, const char *name, const char *error) {
  (void)user_data;
  switch (event) {
  case SIGSYNC_PROGRESS_EVENT_STARTED: printf("  ... %s %s '%s'\n", op, kind, name); break;
  case SIGSYNC_PROGRESS_EVENT_FINISHED: printf("  ok  %s %s '%s'\n", op, kind, name); break;
  case SIGSYNC_PROGRESS_EVENT_ADOPTED: printf("  adopt %s '%s'\n", kind, name); break;
  case SIGSYNC_PROGRESS_EVENT_FAILED:
    printf("  FAILED %s %s '%s': %s\n", op, kind, name, error);
    break;
  default: printf("  undo %s '%s'\n", kind, name); break;
  }
}

int main(void) {
  sigsync_error *err = NULL;
  sigsync_result r;
  int rc = 1, prompts = 0;
  sigsync_sim_tenant *tenant = NULL;
  sigsync_sim_server *server = NULL;
  sigsync_auth_config_builder *auth_builder = NULL;
  sigsync_auth_config *auth = NULL;
  sigsync_token_provider *tokens = NULL;
  sigsync_client_builder *client_builder = NULL;
  sigsync_client *client = NULL;
  sigsync_group_list *groups = NULL;
  sigsync_service_profile *profile = NULL;
  sigsync_connector_setup_builder *setup_builder = NULL;
  sigsync_connector_setup *setup = NULL;
  sigsync_setup_engine *engine = NULL;
  sigsync_plan *plan = NULL;
  sigsync_report *report = NULL;
  const char *sales[] = {"adele@contoso.com"};

  printf("sigsync %s\n", sigsync_version());

  /* A simulated tenant: accepted domains (the service's certificate domain among them) and
   * mail-enabled groups. */
  if ((r = sigsync_sim_tenant_new(&tenant)) != SIGSYNC_RESULT_OK) return fail("tenant", r, NULL);
  if ((r = sigsync_sim_tenant_add_accepted_domain(tenant, "contoso.com", true, &err)) ||
      (r = sigsync_sim_tenant_add_accepted_domain(tenant, "tenant1.smtp.signatures.example.com",
                                                  false, &err)) ||
      (r = sigsync_sim_tenant_add_user(tenant, "adele@contoso.com", "Adele Vance",
                                       "Retail Manager", &err)) ||
      (r = sigsync_sim_tenant_add_group(tenant, "Sales", "sales@contoso.com",
                                        SIGSYNC_GROUP_KIND_DISTRIBUTION, sales, 1, &err)) ||
      (r = sigsync_sim_tenant_add_group(tenant, "Marketing", "marketing@contoso.com",
                                        SIGSYNC_GROUP_KIND_MICROSOFT365, NULL, 0, &err))) {
    rc = fail("seeding the tenant", r, err);
    goto done;
  }
  if ((r = sigsync_sim_server_start(tenant, SIGSYNC_SIM_SIGN_IN_APPROVE, &server, &err))) {
    rc = fail("starting the simulated tenant", r, err);
    goto done;
  }

  /* Sign in with a one-time code: the admin's password never reaches us. */
  if ((r = sigsync_auth_config_builder_new("sigsync-example", sigsync_sim_server_tenant_id(server),
                                           &auth_builder, &err)) ||
      (r = sigsync_auth_config_builder_set_login_url(auth_builder,
                                                     sigsync_sim_server_login_url(server), &err)) ||
      (r = sigsync_auth_config_builder_set_allow_http(auth_builder, true, &err)) ||
      (r = sigsync_auth_config_builder_build(auth_builder, &auth, &err))) {
    rc = fail("sign-in configuration", r, err);
    goto done;
  }
  if ((r = sigsync_sign_in_device_code(auth, show_prompt, &prompts, &tokens, &err))) {
    rc = fail("sign-in", r, err);
    goto done;
  }
  printf("Signed in (%d prompt shown)\n", prompts);

  /* The Exchange client, pointed at the simulated tenant over plain http on loopback. */
  if ((r = sigsync_client_builder_new(tokens, &client_builder)) ||
      (r = sigsync_client_builder_set_exchange_url(client_builder,
                                                   sigsync_sim_server_exchange_url(server), &err)) ||
      (r = sigsync_client_builder_set_graph_url(client_builder,
                                                sigsync_sim_server_graph_url(server), &err)) ||
      (r = sigsync_client_builder_set_allow_http(client_builder, true, &err)) ||
      (r = sigsync_client_builder_build(client_builder, &client, &err))) {
    rc = fail("client", r, err);
    goto done;
  }

  if ((r = sigsync_client_list_mail_enabled_groups(client, &groups, &err))) {
    rc = fail("listing groups", r, err);
    goto done;
  }
  printf("Mail-enabled groups (%zu):\n", sigsync_group_list_len(groups));
  for (size_t i = 0; i < sigsync_group_list_len(groups); i++)
    printf("  %s <%s>\n", sigsync_group_list_display_name(groups, i),
           sigsync_group_list_mail(groups, i));

  /* The service and the setup: route members of Sales, internal mail too. */
  /* A saved profile keeps the tenant's loop-header value (made once, when the profile was
   * first built: see sigsync_service_profile_to_json). */
  if ((r = sigsync_service_profile_from_json(
           "{\"smart_hosts\": [\"smtp.signatures.example.com\"],"
           " \"certificate_name\": \"tenant1.smtp.signatures.example.com\","
           " \"loop_header\": {\"name\": \"X-Sigsync-Processed\","
           " \"value\": \"3f0c9d2e8b7a41c6a5d4e3f2a1b0c9d8\"}}",
           &profile, &err)) ||
      (r = sigsync_connector_setup_builder_new(profile, &setup_builder)) ||
      (r = sigsync_connector_setup_builder_add_group(setup_builder, "sales@contoso.com", &err)) ||
      (r = sigsync_connector_setup_builder_set_include_internal(setup_builder, true, &err)) ||
      (r = sigsync_connector_setup_builder_build(setup_builder, &setup, &err))) {
    rc = fail("setup", r, err);
    goto done;
  }

  if ((r = sigsync_setup_engine_new(client, &engine)) ||
      (r = sigsync_setup_engine_plan(engine, setup, &plan, &err))) {
    rc = fail("plan", r, err);
    goto done;
  }
  printf("Plan (%zu steps):\n%s\n", sigsync_plan_step_count(plan), sigsync_plan_text(plan));

  if ((r = sigsync_setup_engine_apply(engine, setup, show_progress, NULL, &report, &err))) {
    rc = fail("apply", r, err);
    goto done;
  }
  printf("Result: %s (%zu writes)\n", sigsync_setup_status_name(sigsync_report_status(report)),
         sigsync_report_writes(report));
  rc = 0;

done:
  sigsync_report_free(report);
  sigsync_plan_free(plan);
  sigsync_setup_engine_free(engine);
  sigsync_connector_setup_free(setup);
  sigsync_connector_setup_builder_free(setup_builder);
  sigsync_service_profile_free(profile);
  sigsync_group_list_free(groups);
  sigsync_client_free(client);
  sigsync_client_builder_free(client_builder);
  sigsync_token_provider_free(tokens);
  sigsync_auth_config_free(auth);
  sigsync_auth_config_builder_free(auth_builder);
  sigsync_sim_server_free(server);
  sigsync_sim_tenant_free(tenant);
  return rc;
}
