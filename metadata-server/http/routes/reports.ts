// Operator routes for what guests report and for the hints derived from the inventory:
//   GET /                          the console (and /console.js, /console.css)
//   GET /v1/console/state          the console's data
//   GET /v1/guests                 the latest observed state of every reporting VM (no raw answers)
//   GET /v1/vms/<id>/guest         one VM's latest report with the raw answers behind it
//   GET /v1/mtu                    MTU consistency findings for every vNIC
//   GET /v1/vms/<id>/libvirt       the VM's libvirt <interface> elements with their MTU
//   GET /v1/networks/<name>/dhcp   the network's DHCP/RA plan
// Like the rest of the operator API, they exist only on operator listeners, behind the router's
// operator check (http/operator.ts).
import { networkDhcpDocument } from "../../dhcp/plan.ts";
import { renderLibvirtInterfaces } from "../../render/libvirt.ts";
import type { ServiceContext } from "../context.ts";
import { forbidden, json, pattern, type Reply, type Route, type RouteRequest } from "../router.ts";
import { withSnapshot } from "./api.ts";
import { ec2Routes } from "./ec2.ts";

/** Answers only with a loaded inventory and a reports service; 503 says which is missing. */
function withSite(req: RouteRequest<ServiceContext>, answer: (ctx: Required<Pick<ServiceContext, "reports">> & { site: NonNullable<ServiceContext["snapshot"]> }) => Reply): Reply {
  return withSnapshot(req, (s) => {
    if (!req.ctx.reports) return json({ error: "guest reports are not enabled on this server" }, 503);
    return answer({ reports: req.ctx.reports, site: s });
  });
}

// Shared, not built per request: see http/response-headers.ts.
const XML = { "content-type": "application/xml; charset=utf-8" };

const asset = (path: string): Route<ServiceContext> => ({
  name: "console",
  methods: ["GET"],
  roles: ["operator"],
  match: path === "/" ? (p) => (p.segments.length === 0 ? {} : undefined) : pattern(path.slice(1), { trailingSlash: "forbidden" }),
  handle: (req) => {
    const a = req.ctx.reports?.console[path];
    return a ? { status: 200, headers: a.headers, body: a.body } : json({ error: "the console is not installed" }, 404);
  },
});

const ec2Versions = ec2Routes.find((r) => r.name === "ec2_versions")!;
const consoleAtRoot = asset("/");

/**
 * "/" is both the console and the EC2 version list. On a listener that serves operators and
 * guests, guest traffic (a guest's source address, or anything through a trusted proxy, which
 * the operator check refuses) gets the EC2 answer exactly as before, and the operator gets the
 * console; a guest-only listener has no console at all.
 */
export const rootRoute: Route<ServiceContext> = {
  ...consoleAtRoot,
  refused: (req, params, why) => (why === "guest-on-operator-api" || why === "trusted-proxy-peer" ? ec2Versions.handle(req, params) : forbidden(why)),
};

export const reportRoutes: Route<ServiceContext>[] = [
  asset("/console.js"),
  asset("/console.css"),
  {
    name: "api_console_state", methods: ["GET"], roles: ["operator"], match: pattern("v1/console/state", { trailingSlash: "forbidden" }),
    handle: (req) => withSite(req, ({ reports, site }) => json(reports.consoleState(site.site))),
  },
  {
    name: "api_guests", methods: ["GET"], roles: ["operator"], match: pattern("v1/guests", { trailingSlash: "forbidden" }),
    handle: (req) => withSite(req, ({ reports }) => json({ guests: reports.guests.all().map((r) => ({ vmId: r.vmId, receivedAt: r.receivedAt, observed: r.observed })) })),
  },
  {
    name: "api_vm_guest", methods: ["GET"], roles: ["operator"], match: pattern("v1/vms/:id/guest", { trailingSlash: "forbidden" }),
    handle: (req, { id }) => withSite(req, ({ reports, site }) => {
      const vm = site.findVm(id!);
      if (!vm) return { ...json({ error: `no VM ${id}` }, 404), denied: "unknown-vm" };
      const rec = reports.guest(vm.id);
      const poll = reports.lastPoll(vm.id);
      return rec ? json({ name: vm.name, ...rec, connected: reports.agents.isConnected(vm.id), ...(poll ? { poll } : {}) }) : json({ error: `no report from ${vm.name} yet` }, 404);
    }),
  },
  {
    name: "api_mtu", methods: ["GET"], roles: ["operator"], match: pattern("v1/mtu", { trailingSlash: "forbidden" }),
    handle: (req) => withSite(req, ({ reports, site }) => json(reports.mtuReport(site.site))),
  },
  {
    name: "api_vm_libvirt", methods: ["GET"], roles: ["operator"], match: pattern("v1/vms/:id/libvirt", { trailingSlash: "forbidden" }),
    handle: (req, { id }) => {
      const s = req.ctx.snapshot;
      const vm = s?.findVm(id!);
      if (!s || !vm) return { ...json({ error: `no VM ${id}` }, 404), denied: "unknown-vm" };
      return { status: 200, headers: XML, body: renderLibvirtInterfaces(vm, s.site) };
    },
  },
  {
    name: "api_network_dhcp", methods: ["GET"], roles: ["operator"], match: pattern("v1/networks/:name/dhcp", { trailingSlash: "forbidden" }),
    handle: (req, { name }) => {
      const s = req.ctx.snapshot;
      const doc = s ? networkDhcpDocument(s.site, name!) : undefined;
      return doc ? json(doc) : { ...json({ error: `no network ${name}` }, 404), denied: "unknown-network" };
    },
  },
];
