// NoCloud-net: GET /nocloud/<seed-token>/{meta-data,user-data,vendor-data,network-config}.
// The token selects the VM (cloud-init 22.4 reads `seedfrom` + file name); the source address is
// only a cross-check, so a guest booting from an address the inventory does not know still works.
import { NOCLOUD_DOCUMENTS, type NoCloudDocument } from "../../site-store.ts";
import type { ServiceContext } from "../context.ts";
import { NO_STORE } from "../context.ts";
import { identify } from "../identify.ts";
import { notFound, pattern, TEXT, type Route } from "../router.ts";

const DOCS: ReadonlySet<string> = new Set(NOCLOUD_DOCUMENTS);
const HEADERS = { ...TEXT, ...NO_STORE };

export const nocloudRoutes: Route<ServiceContext>[] = [
  {
    name: "nocloud",
    methods: ["GET"],
    roles: ["guest"],
    match: pattern("nocloud/:token/:doc", { trailingSlash: "forbidden" }),
    handle({ ctx, peer, headers }, { token, doc }) {
      const snapshot = ctx.snapshot;
      if (!snapshot) return notFound("no-site");
      const vm = snapshot.vmBySeedToken(token!);
      if (!vm) return notFound("unknown-token");
      if (!DOCS.has(doc!)) return notFound("unknown-document");
      if (ctx.nocloud.crossCheckSource) {
        const who = identify(snapshot, peer, headers, ctx.identify);
        if (who.vm && who.vm !== vm) return notFound("token-of-other-vm");
        // An address two VMs claim is another VM's address whoever's token it is: neither
        // claimant can be told from the other there, so the token is refused for all of them.
        if (!who.vm && who.address !== undefined && snapshot.ambiguousAddresses.has(who.address)) return notFound("token-from-ambiguous-address");
      }
      return { status: 200, headers: HEADERS, body: snapshot.nocloud(vm, doc as NoCloudDocument), vm: vm.name };
    },
  },
];
