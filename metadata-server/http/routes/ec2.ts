// The EC2 instance metadata service, the part cloud-init's Ec2 and OpenStack datasources crawl:
// GET /<version>/meta-data/..., /<version>/user-data, and IMDSv2's PUT /latest/api/token. The VM
// is the one owning the source address. Tokens are optional unless ec2.requireToken is set, as
// with AWS's "optional" setting; a token that is sent is always checked.
import { z } from "zod";
import { EC2_VERSIONS, ec2Lookup } from "../../render/ec2.ts";
import { checkImdsToken, IMDS_TOKEN_TTL_MAX, IMDS_TOKEN_TTL_MIN, mintImdsToken } from "../../state/tokens.ts";
import type { ServiceContext } from "../context.ts";
import { NO_STORE } from "../context.ts";
import { hasUntrustedForwarding, identify } from "../identify.ts";
import { withVm, type IdentifiedVm } from "./by-source.ts";
import { notFound, pattern, TEXT, type NormalisedPath, type Reply, type Route, type RouteRequest } from "../router.ts";

export const TOKEN_HEADER = "x-aws-ec2-metadata-token";
export const TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds";

const VERSIONS: ReadonlySet<string> = new Set([...EC2_VERSIONS, "latest"]);
const VERSION_LIST = [...EC2_VERSIONS, "latest"].join("\n");
const HEADERS = { ...TEXT, ...NO_STORE };

/** The TTL header: a whole number of seconds in AWS's range. */
export const TokenTtlSchema = z
  .string()
  .regex(/^\d{1,6}$/)
  .transform(Number)
  .pipe(z.number().int().min(IMDS_TOKEN_TTL_MIN).max(IMDS_TOKEN_TTL_MAX));

const unauthorized = (denied: string): Reply => ({ status: 401, headers: TEXT, body: "Unauthorized\n", denied });

function versioned(rest: string[], trailing: "any" | "forbidden" = "any") {
  return (p: NormalisedPath): Record<string, string> | undefined => {
    const [version, ...tail] = p.segments;
    if (version === undefined || !VERSIONS.has(version)) return undefined;
    if (tail.length < rest.length) return undefined;
    for (let i = 0; i < rest.length; i++) if (tail[i] !== rest[i]) return undefined;
    if (rest[0] !== "meta-data" && tail.length !== rest.length) return undefined;
    if (trailing === "forbidden" && p.trailingSlash) return undefined;
    return { version, path: tail.slice(rest.length).join("/") };
  };
}

/** Identifies the VM and applies the IMDSv2 rules before answering. */
function withTokenCheckedVm(req: RouteRequest<ServiceContext>, answer: (vm: IdentifiedVm) => Reply): Reply {
  return withVm(req, (vm) => {
    const token = req.headers[TOKEN_HEADER];
    if (typeof token === "string") {
      const check = checkImdsToken(req.ctx.secret, vm.id, token, req.ctx.now);
      if (check !== "valid") return unauthorized(`token-${check}`);
    } else if (token !== undefined || req.ctx.ec2.requireToken) {
      return unauthorized("token-required");
    }
    return answer(vm);
  });
}

export const ec2Routes: Route<ServiceContext>[] = [
  {
    name: "ec2_token",
    methods: ["PUT"],
    roles: ["guest"],
    match: pattern("latest/api/token", { trailingSlash: "forbidden" }),
    handle(req) {
      // As on AWS: a token request that went through a forwarding hop is refused, so an open
      // proxy or an SSRF bug in a guest's web app cannot mint tokens for it. A configured trusted
      // proxy is the exception: its X-Forwarded-For is how it names the guest.
      if (hasUntrustedForwarding(req.peer, req.headers, req.ctx.identify)) return { status: 403, headers: TEXT, body: "Forbidden\n", denied: "forwarded-token-request" };
      const ttl = TokenTtlSchema.safeParse(req.headers[TOKEN_TTL_HEADER]);
      if (!ttl.success) return { status: 400, headers: TEXT, body: "Bad Request\n", denied: "token-ttl" };
      const who = identify(req.ctx.snapshot, req.peer, req.headers, req.ctx.identify);
      if (!who.vm) return { ...notFound(who.reason), status: who.status };
      return {
        status: 200,
        headers: { ...HEADERS, [TOKEN_TTL_HEADER]: String(ttl.data) },
        body: mintImdsToken(req.ctx.secret, who.vm.id, ttl.data, req.ctx.now),
        vm: who.vm.name,
      };
    },
  },
  {
    name: "ec2_versions",
    methods: ["GET"],
    roles: ["guest"],
    match: (p) => (p.segments.length === 0 ? {} : undefined),
    handle: (req) => withTokenCheckedVm(req, () => ({ status: 200, headers: TEXT, body: VERSION_LIST })),
  },
  {
    name: "ec2_version",
    methods: ["GET"],
    roles: ["guest"],
    match: versioned([]),
    handle: (req) => withTokenCheckedVm(req, () => ({ status: 200, headers: TEXT, body: "meta-data/\nuser-data" })),
  },
  {
    name: "ec2_user_data",
    methods: ["GET"],
    roles: ["guest"],
    match: versioned(["user-data"], "forbidden"),
    handle: (req) =>
      withTokenCheckedVm(req, (vm) => {
        // EC2 answers 404 when an instance has no user data; cloud-init treats that as "none".
        const body = req.ctx.snapshot!.openstack(vm, "user_data");
        return body.length ? { status: 200, headers: HEADERS, body } : notFound("no-user-data");
      }),
  },
  {
    name: "ec2_meta_data",
    methods: ["GET"],
    roles: ["guest"],
    match: versioned(["meta-data"]),
    handle: (req, { path }) =>
      withTokenCheckedVm(req, (vm) => {
        const body = req.ctx.snapshot!.ec2Text(vm, path!, ec2Lookup);
        return body ? { status: 200, headers: HEADERS, body } : notFound("unknown-metadata-path");
      }),
  },
];
