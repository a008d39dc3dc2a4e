// The guest routes answer every request with header objects shared between requests: a fresh
// object per request is what sent the p99 to 30x nginx's (see http/response-headers.ts). This
// test routes each guest document twice and checks the header object is the same one.
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_EC2_OPTIONS, DEFAULT_NOCLOUD_OPTIONS, type ServiceContext } from "../../../metadata-server/http/context.ts";
import { Metrics } from "../../../metadata-server/http/metrics.ts";
import { Router } from "../../../metadata-server/http/router.ts";
import { ec2Routes } from "../../../metadata-server/http/routes/ec2.ts";
import { nocloudRoutes } from "../../../metadata-server/http/routes/nocloud.ts";
import { openstackRoutes } from "../../../metadata-server/http/routes/openstack.ts";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { NOCLOUD_DOCUMENTS, OPENSTACK_DOCUMENTS, SiteSnapshot } from "../../../metadata-server/site-store.ts";

const FIXTURE = "test/integration/http/fixtures/site.yaml";
const VM_A = { id: "00000000-0000-4000-8000-00000000000a", address: "127.0.0.42" };
// Guest routes never run the operator check.
const router = new Router<ServiceContext>([...nocloudRoutes, ...openstackRoutes, ...ec2Routes], () => { throw new Error("operator check on a guest route"); });
let ctx: ServiceContext;
let token: string;

beforeAll(async () => {
  const loaded = await loadSiteFile(FIXTURE);
  const secret = Buffer.alloc(32, 7);
  const snapshot = new SiteSnapshot(loaded.site!, secret);
  token = snapshot.seedToken(snapshot.findVm(VM_A.id)!);
  ctx = {
    snapshot, identify: { trustedProxies: new Set() }, operatorHosts: new Set(), secret, ec2: DEFAULT_EC2_OPTIONS, nocloud: DEFAULT_NOCLOUD_OPTIONS,
    now: Date.now(), metrics: new Metrics(), reloads: { loaded: 1, unchanged: 0, rejected: 0 }, startedAt: Date.now(),
  };
});

const twice = (path: string) => [0, 1].map(() => router.route(["guest"], "GET", path, { host: "x" }, VM_A.address, ctx));

describe("guest routes share their header objects between requests", () => {
  const paths = () => [
    ...NOCLOUD_DOCUMENTS.map((d) => `/nocloud/${token}/${d}`),
    ...OPENSTACK_DOCUMENTS.map((d) => `/openstack/latest/${d}`),
    "/openstack", "/openstack/latest",
    "/latest/meta-data/", "/latest/meta-data/instance-id", "/latest/user-data",
  ];

  it("for every document a booting guest fetches", () => {
    for (const path of paths()) {
      const [first, second] = twice(path);
      expect(first!.reply.status, path).toBe(200);
      expect(second!.reply.headers, path).toBe(first!.reply.headers);
    }
  });
});
