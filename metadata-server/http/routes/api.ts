// The operator API: GET /v1/vms, /v1/vms/<name-or-id>, /v1/networks (JSON), /healthz, /metrics.
// It exists only on operator listeners (by default the loopback listener), and the router runs
// the operator check (http/operator.ts) before each of these routes, so a guest, a trusted proxy
// or a rebound browser page learns nothing. It never returns user-data or tokens: user-data may
// hold secrets, and the seed token is per guest.
import type { ResolvedVm } from "../../model/types.ts";
import type { ServiceContext } from "../context.ts";
import { METRICS_CONTENT_TYPE } from "../metrics.ts";
import { json, pattern, type Reply, type Route, type RouteRequest } from "../router.ts";

/** An operator answer that needs the inventory: 503 until one is loaded. */
export function withSnapshot(req: RouteRequest<ServiceContext>, answer: (snapshot: NonNullable<ServiceContext["snapshot"]>) => Reply): Reply {
  const s = req.ctx.snapshot;
  return s ? answer(s) : json({ error: "no inventory loaded" }, 503);
}

export function vmSummary(vm: ResolvedVm, addresses: string[]) {
  return { id: vm.id, name: vm.name, hostname: vm.hostname, fqdn: vm.fqdn, host: vm.host ?? null, addresses };
}

export function vmDetail(vm: ResolvedVm, addresses: string[]) {
  return {
    ...vmSummary(vm, addresses),
    sshKeys: vm.sshKeys,
    dns: vm.dns,
    interfaces: vm.interfaces.map((i) => ({
      name: i.name, kind: i.kind, mac: i.mac, network: i.network ?? null, mtu: i.mtu.value, mtuBecause: i.mtu.because,
      ipv4: i.ipv4 ?? null, ipv6: i.ipv6 ?? null, members: i.members ?? null, vlanId: i.vlanId ?? null,
    })),
    hasUserData: vm.userData.length > 0,
  };
}

export const apiRoutes: Route<ServiceContext>[] = [
  {
    name: "healthz",
    methods: ["GET"],
    roles: ["operator"],
    match: pattern("healthz", { trailingSlash: "forbidden" }),
    handle: (req) => {
      const s = req.ctx.snapshot;
      return json(
        { status: s ? "ok" : "no-inventory", revision: s?.revision ?? null, vms: s?.vms.length ?? 0, reloads: req.ctx.reloads, uptimeSeconds: Math.round((req.ctx.now - req.ctx.startedAt) / 1000) },
        s ? 200 : 503,
      );
    },
  },
  {
    name: "metrics",
    methods: ["GET"],
    roles: ["operator"],
    match: pattern("metrics", { trailingSlash: "forbidden" }),
    handle: (req) => ({ status: 200, headers: { "content-type": METRICS_CONTENT_TYPE }, body: req.ctx.metrics.render() }),
  },
  {
    name: "api_vms",
    methods: ["GET"],
    roles: ["operator"],
    match: pattern("v1/vms"),
    handle: (req) =>
      withSnapshot(req, (s) => {
        return json({ revision: s.revision, vms: s.vms.map((vm) => vmSummary(vm, s.addressesOf(vm))) });
      }),
  },
  {
    name: "api_vm",
    methods: ["GET"],
    roles: ["operator"],
    match: pattern("v1/vms/:id", { trailingSlash: "forbidden" }),
    handle: (req, { id }) =>
      withSnapshot(req, (s) => {
        const vm = s.findVm(id!);
        return vm ? json({ revision: s.revision, vm: vmDetail(vm, s.addressesOf(vm)) }) : { ...json({ error: `no VM ${id}` }, 404), denied: "unknown-vm" };
      }),
  },
  {
    name: "api_networks",
    methods: ["GET"],
    roles: ["operator"],
    match: pattern("v1/networks"),
    handle: (req) =>
      withSnapshot(req, (s) => {
        return json({
          revision: s.revision,
          networks: s.site.networks.map((n) => ({ ...n, mtu: n.mtu.value, mtuBecause: n.mtu.because })),
        });
      }),
  },
];

