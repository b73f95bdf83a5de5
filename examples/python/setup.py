#!/usr/bin/env python3
"""The connector wizard as a Python script.

With no tenant options it runs on the embedded simulated tenant (served over HTTP on
loopback): it shows the device code prompt, signs in, lists the mail-enabled groups, shows
the plan, applies it with progress and prints the result.

    python examples/python/setup.py                          # configure the simulated tenant
    python examples/python/setup.py --groups sales@contoso.com --external-only
    python examples/python/setup.py --status --json
    python examples/python/setup.py --tenant contoso.onmicrosoft.com --client-id <app id>
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

import sigsync

SIM_TENANT_ID = "8f4b5a8e-2f6c-4c1e-9a57-3c2d1b0e7f61"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Set up Exchange Online mail flow through a signature service.")
    actions = p.add_mutually_exclusive_group()
    for flag, text in [
        ("--dry-run", "show the plan, change nothing"),
        ("--status", "show configured/paused/partial/absent, drift and the repair plan"),
        ("--pause", "disable the routing rule (mail flows normally, untouched)"),
        ("--resume", "enable it again"),
        ("--remove", "delete what sigsync created (rule, outbound, then inbound connector)"),
    ]:
        actions.add_argument(flag, dest="action", action="store_const", const=flag[2:], help=text)
    p.add_argument("--groups", help="route members of these mail-enabled groups (comma-separated; default: all users)")
    p.add_argument("--external-only", action="store_true", help="only mail to external recipients")
    p.add_argument("--staged", action="store_true", help="create the routing rule disabled")
    p.add_argument(
        "--profile",
        help="service profile (JSON); its loop-header value is generated and saved into the file on the first run; "
        "default: the simulator's example service",
    )
    p.add_argument("--tenant", help="tenant id or domain of a real tenant")
    p.add_argument("--client-id", help="the app (client) id to sign in with")
    p.add_argument("--cloud", default="global", choices=[c.value for c in sigsync.Cloud])
    p.add_argument("--login-url", help="sign-in endpoint base")
    p.add_argument("--exchange-url", help="Exchange Online base URL")
    p.add_argument("--graph-url", help="Microsoft Graph base URL (with /v1.0)")
    p.add_argument("--allow-http", action="store_true", help="allow plain http to loopback addresses only")
    p.add_argument("--sim-state", help="keep the simulated tenant in this file between runs")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p.parse_args(argv)


def steps_json(steps: Iterable[sigsync.Step]) -> list[dict[str, str]]:
    """Steps as the JSON output lists them."""
    return [{"op": s.op.value, "kind": s.kind.value, "name": s.name} for s in steps]


def service_profile(args: argparse.Namespace) -> sigsync.ServiceProfile:
    """``--profile FILE`` (completed once with a loop-header value); else the simulator's
    example service, kept beside ``--sim-state`` so that re-runs use the same value."""
    if args.profile:
        return sigsync.ServiceProfile.load_or_init(args.profile)
    if args.sim_state:
        path = os.path.splitext(args.sim_state)[0] + ".profile.json"
        if not os.path.exists(path):
            sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE).save(path)
        return sigsync.ServiceProfile.load_or_init(path)
    return sigsync.ServiceProfile(**sigsync.EXAMPLE_PROFILE)


def run(args: argparse.Namespace) -> int:
    embedded = not (args.tenant or args.login_url or args.exchange_url or args.graph_url)
    say = (lambda *_: None) if args.json else print

    profile = service_profile(args)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    setup = sigsync.ConnectorSetup(profile, groups=groups, include_internal=not args.external_only, staged=args.staged)

    sim: sigsync.Simulator | None = None
    if embedded:
        state = args.sim_state if args.sim_state and os.path.exists(args.sim_state) else None
        sim = sigsync.Simulator(seeded=True, state=state, tenant_id=SIM_TENANT_ID)
    try:
        if sim is not None:
            tenant, login_url, exchange_url, graph_url, allow_http = (
                sim.tenant_id, sim.login_url, sim.exchange_url, sim.graph_url, True,
            )
            client_id = args.client_id or "sigsync-example"
        else:
            if not args.client_id:
                print("setup: a real tenant needs --client-id (the app id to sign in with)", file=sys.stderr)
                return 2
            tenant, login_url, exchange_url, graph_url, allow_http = (
                args.tenant or "organizations", args.login_url, args.exchange_url, args.graph_url, args.allow_http,
            )
            client_id = args.client_id

        def show_prompt(prompt: sigsync.DeviceCodePrompt) -> None:
            print(prompt, file=sys.stderr if args.json else sys.stdout, flush=True)

        creds = sigsync.sign_in_device_code(
            client_id, tenant, prompt=show_prompt, cloud=args.cloud, login_url=login_url, allow_http=allow_http
        )
        say(f"Signed in as {creds.user_principal_name or 'an application'} (tenant {creds.tenant_id})")
        client = sigsync.ExchangeClient(
            creds,
            tenant=args.tenant,
            cloud=args.cloud,
            exchange_url=exchange_url,
            graph_url=graph_url,
            allow_http=allow_http,
        )
        engine = sigsync.SetupEngine(client)
        action = args.action or "configure"

        if action in ("configure", "dry-run"):
            found = client.list_mail_enabled_groups()
            say(f"Mail-enabled groups ({len(found)}):")
            for g in found:
                say(f"  {g.display_name} <{g.mail}> ({g.kind.value})")

        def progress(event: sigsync.ProgressEvent) -> None:
            if event.kind is sigsync.ProgressKind.FINISHED:
                say(f"  ok  {event.step}")
            elif event.kind is sigsync.ProgressKind.ADOPTED:
                say(f"  adopt {event.step} (it existed already)")
            elif event.kind is sigsync.ProgressKind.FAILED:
                say(f"  FAILED {event.step}: {event.error}")
            elif event.kind is sigsync.ProgressKind.UNDOING:
                say(f"  undo {event.step}")

        out: dict[str, Any] = {"action": action}
        report: sigsync.Report | None = None
        failure: sigsync.SigsyncError | None = None
        if action in ("configure", "dry-run"):
            plan = engine.plan(setup)
            for f in plan.findings:
                say(f"preflight {f}")
            say(f"Plan:\n{plan}")
            out["plan"] = steps_json(plan.steps)
            if action == "dry-run":
                out.update(status=engine.status(setup).status.value, writes=0)
            else:
                # The plan shown is the plan applied (one read).
                try:
                    report = engine.apply(setup, plan, progress=progress)
                except sigsync.SigsyncError as e:
                    report, failure = getattr(e, "report", None), e
        elif action == "status":
            status = engine.status(setup)
            for d in status.drift:
                say(f"drift: {d}")
            say(f"Repair plan:\n{status.repair}")
            out.update(status=status.status.value, plan=steps_json(status.repair.steps), writes=0)
            out["reasons"] = [dataclasses.asdict(r) for r in status.reasons]
        else:
            try:
                report = getattr(engine, action)(setup, progress=progress)
            except sigsync.SigsyncError as e:
                report, failure = getattr(e, "report", None), e
                if report is None:
                    raise

        if report is not None:
            out.setdefault("plan", steps_json(s.step for s in report.steps))
            out.update(status=report.status.value if report.status else "unknown", writes=report.writes)
            out["reasons"] = [dataclasses.asdict(r) for r in report.reasons]
            out["repair"] = steps_json(report.repair.steps)
            for r in report.reasons:
                say(f"  {r}")
        if sim is not None and args.sim_state:
            sim.save(args.sim_state)
        if args.json:
            print(json.dumps(out))
        else:
            print(f"Result: {action}: {out['status']} ({out['writes']} writes)")
        if failure is not None:
            raise failure
        return 0
    finally:
        if sim is not None:
            sim.close()


def main() -> int:
    args = parse_args()
    try:
        return run(args)
    except sigsync.SigsyncError as e:
        print(f"setup: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
