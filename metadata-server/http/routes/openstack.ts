// The OpenStack metadata service as cloud-init 22.4's DataSourceOpenStack reads it:
// GET /openstack (versions), /openstack/<version>/ (listing) and /openstack/<version>/<document>.
// The VM is the one owning the request's source address (or a trusted proxy's signed assertion).
import { OPENSTACK_VERSIONS } from "../../render/configdrive.ts";
import { OPENSTACK_DOCUMENTS, type OpenStackDocument } from "../../site-store.ts";
import type { ServiceContext } from "../context.ts";
import { NO_STORE } from "../context.ts";
import { withVm } from "./by-source.ts";
import { JSON_TYPE, notFound, pattern, TEXT, type Reply, type RouteRequest, type Route } from "../router.ts";

const VERSIONS: ReadonlySet<string> = new Set([...OPENSTACK_VERSIONS, "latest"]);
const DOCS: ReadonlySet<string> = new Set(OPENSTACK_DOCUMENTS);
const VERSION_LIST = [...OPENSTACK_VERSIONS, "latest"].join("\n");
const DOC_LIST = OPENSTACK_DOCUMENTS.join("\n");
// Shared, not built per request: see http/response-headers.ts.
const JSON_DOCUMENT = { ...JSON_TYPE, ...NO_STORE };
const TEXT_DOCUMENT = { ...TEXT, ...NO_STORE };

/** Every OpenStack answer, even the version list, needs a known VM: unknown sources learn nothing. */

export const openstackRoutes: Route<ServiceContext>[] = [
  {
    name: "openstack_versions",
    methods: ["GET"],
    roles: ["guest"],
    match: pattern("openstack"),
    handle: (req) => withVm(req, () => ({ status: 200, headers: TEXT, body: VERSION_LIST })),
  },
  {
    name: "openstack_listing",
    methods: ["GET"],
    roles: ["guest"],
    match: pattern("openstack/:version"),
    handle: (req, { version }) => withVm(req, () => (VERSIONS.has(version!) ? { status: 200, headers: TEXT, body: DOC_LIST } : notFound("unknown-version"))),
  },
  {
    name: "openstack_document",
    methods: ["GET"],
    roles: ["guest"],
    match: pattern("openstack/:version/:doc", { trailingSlash: "forbidden" }),
    handle: (req, { version, doc }) =>
      withVm(req, (vm) => {
        if (!VERSIONS.has(version!) || !DOCS.has(doc!)) return notFound("unknown-document");
        return { status: 200, headers: doc!.endsWith(".json") ? JSON_DOCUMENT : TEXT_DOCUMENT, body: req.ctx.snapshot!.openstack(vm, doc as OpenStackDocument) };
      }),
  },
];
