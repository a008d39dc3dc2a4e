// A guest gets its own data and nothing else, whatever it tries: another guest's source address
// is not its to use, forwarding headers count only from a trusted proxy, an instance assertion
// must be signed, seed tokens cannot be guessed or borrowed, path tricks and other methods are
// refused. Every refusal is checked to carry no other guest's data.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceIdSignature } from "../../../metadata-server/state/tokens.ts";
import { tempDir } from "../../helpers/peers.ts";
import { FIXTURE, guestlink, rawRequest, request, ServerProcess, SHARED_ADDRESS, STRANGER, VM_A, VM_B, type Response } from "./server-process.ts";

const PROXY = "127.0.0.7";
const PROXY_SECRET = "metadata-proxy-shared-secret-for-tests";
const SECRET_A = "secret-of-vm-a";
const SECRET_B = "secret-of-vm-b";

const work = tempDir("http-iso");
let server: ServerProcess;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  const secretFile = join(work.path, "proxy-secret");
  writeFileSync(secretFile, PROXY_SECRET + "\n");
  const stateDir = join(work.path, "state");
  server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", stateDir, "--trusted-proxy", PROXY, "--proxy-secret-file", secretFile]);
  const token = (vm: string) => /\/nocloud\/([^/]+)\//.exec(guestlink("seed-url", FIXTURE, "--vm", vm, "--state-dir", stateDir).stdout)![1]!;
  tokenA = token(VM_A.name);
  tokenB = token(VM_B.name);
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  work.remove();
});

const get = (path: string, from?: string, headers: Record<string, string> = {}) => request(server.port, path, { ...(from ? { from } : {}), headers });

function expectNothingOf(res: Response, ...secrets: string[]) {
  for (const s of secrets) expect(res.text).not.toContain(s);
  for (const id of [VM_A.id, VM_B.id]) if (res.status !== 200) expect(res.text).not.toContain(id);
}

const GUEST_PATHS = [
  "/openstack", "/openstack/latest/", "/openstack/latest/meta_data.json", "/openstack/2018-08-27/user_data", "/openstack/latest/vendor_data.json",
  "/openstack/latest/network_data.json", "/latest/meta-data/", "/latest/meta-data/instance-id", "/2021-03-23/user-data", "/latest/user-data", "/",
];

describe("identification by source address (OpenStack and EC2)", () => {
  it("each guest gets its own documents and only those", async () => {
    for (const [vm, own, other] of [[VM_A, SECRET_A, SECRET_B], [VM_B, SECRET_B, SECRET_A]] as const) {
      const ud = await get("/openstack/latest/user_data", vm.address);
      expect(ud.status).toBe(200);
      expect(ud.text).toContain(own);
      expect(ud.text).not.toContain(other);
      expect((await get("/latest/meta-data/instance-id", vm.address)).text).toBe(vm.id);
      expect((await get("/latest/user-data", vm.address)).text).toContain(own);
      expect(JSON.parse((await get("/openstack/latest/meta_data.json", vm.address)).text).uuid).toBe(vm.id);
    }
  });

  it("an address that belongs to no VM gets 404 everywhere", async () => {
    for (const from of [STRANGER, "127.0.0.1"]) {
      for (const path of GUEST_PATHS) {
        const res = await get(path, from);
        // On this loopback listener, which serves operators too, "/" is the console page for
        // anyone who is not a guest: an HTML shell with no guest data in it.
        if (path === "/") expect(res.text, `/ from ${from}`).toMatch(/<title>guestlink console<\/title>/);
        else expect(res.status, `${path} from ${from}`).toBe(404);
        expectNothingOf(res, SECRET_A, SECRET_B);
      }
    }
  });

  it("an address two VMs claim identifies neither (404, not the first or last one)", async () => {
    for (const path of GUEST_PATHS) {
      const res = await get(path, SHARED_ADDRESS);
      expect(res.status, path).toBe(404);
      expect(res.text).not.toContain("vm-c");
      expect(res.text).not.toContain("vm-d");
    }
  });
});

describe("forwarding headers and instance assertions", () => {
  it("X-Forwarded-For from an untrusted peer is ignored", async () => {
    const asB = await get("/openstack/latest/user_data", VM_B.address, { "x-forwarded-for": VM_A.address });
    expect(asB.text).toContain(SECRET_B);
    expectNothingOf(asB, SECRET_A);
    const stranger = await get("/latest/user-data", STRANGER, { "x-forwarded-for": VM_A.address, "x-real-ip": VM_A.address, forwarded: `for=${VM_A.address}` });
    expect(stranger.status).toBe(404);
    expectNothingOf(stranger, SECRET_A);
  });

  it("X-Forwarded-For from the trusted proxy names the guest, right-most untrusted hop first", async () => {
    const viaProxy = await get("/openstack/latest/user_data", PROXY, { "x-forwarded-for": VM_A.address });
    expect(viaProxy.status).toBe(200);
    expect(viaProxy.text).toContain(SECRET_A);
    // A guest that prepends a forged hop: the proxy appends the real one, which wins.
    const forgedHop = await get("/openstack/latest/user_data", PROXY, { "x-forwarded-for": `${VM_A.address}, ${STRANGER}` });
    expect(forgedHop.status).toBe(404);
    expectNothingOf(forgedHop, SECRET_A);
    const garbage = await get("/openstack/latest/user_data", PROXY, { "x-forwarded-for": `not-an-address` });
    expect(garbage.status).toBe(404);
    // Without a forwarding header the proxy speaks for itself, and it is no VM.
    expect((await get("/openstack/latest/user_data", PROXY)).status).toBe(404);
  });

  it("a signed X-Instance-ID from the trusted proxy is honoured; a bad or missing signature is refused", async () => {
    const good = instanceIdSignature(Buffer.from(PROXY_SECRET), VM_A.id);
    const signed = await get("/openstack/latest/user_data", PROXY, { "x-instance-id": VM_A.id, "x-instance-id-signature": good });
    expect(signed.status).toBe(200);
    expect(signed.text).toContain(SECRET_A);
    const wrongKey = instanceIdSignature(Buffer.from("not-the-secret"), VM_A.id);
    const attempts: Record<string, string>[] = [
      { "x-instance-id": VM_A.id, "x-instance-id-signature": wrongKey },
      { "x-instance-id": VM_A.id, "x-instance-id-signature": instanceIdSignature(Buffer.from(PROXY_SECRET), VM_B.id) },
      { "x-instance-id": VM_A.id },
      { "x-instance-id": VM_A.id, "x-instance-id-signature": "" },
    ];
    for (const headers of attempts) {
      const res = await get("/openstack/latest/user_data", PROXY, headers);
      expect(res.status).toBe(403);
      expectNothingOf(res, SECRET_A, SECRET_B);
    }
  });

  it("a validly signed X-Instance-ID from an untrusted peer is ignored", async () => {
    const good = instanceIdSignature(Buffer.from(PROXY_SECRET), VM_A.id);
    const fromB = await get("/openstack/latest/user_data", VM_B.address, { "x-instance-id": VM_A.id, "x-instance-id-signature": good });
    expect(fromB.text).toContain(SECRET_B);
    expectNothingOf(fromB, SECRET_A);
    const fromStranger = await get("/openstack/latest/user_data", STRANGER, { "x-instance-id": VM_A.id, "x-instance-id-signature": good });
    expect(fromStranger.status).toBe(404);
  });
});

describe("NoCloud seed tokens", () => {
  it("the right token works from anywhere that is not another guest", async () => {
    for (const from of [VM_A.address, STRANGER]) {
      const res = await get(`/nocloud/${tokenA}/user-data`, from);
      expect(res.status).toBe(200);
      expect(res.text).toContain(SECRET_A);
    }
  });

  it("another guest's token is refused when used from a guest's address", async () => {
    const res = await get(`/nocloud/${tokenA}/user-data`, VM_B.address);
    expect(res.status).toBe(404);
    expectNothingOf(res, SECRET_A);
  });

  it("is refused from an address two VMs claim, whoever's token it is", async () => {
    // Neither claimant can be told from the other there, so the token may not be used by its owner.
    for (const vm of [VM_A.name, "vm-c", "vm-d"]) {
      const token = /\/nocloud\/([^/]+)\//.exec(guestlink("seed-url", FIXTURE, "--vm", vm, "--state-dir", join(work.path, "state")).stdout)![1]!;
      const res = await get(`/nocloud/${token}/user-data`, SHARED_ADDRESS);
      expect(res.status, vm).toBe(404);
      expectNothingOf(res, SECRET_A);
      expect(res.text).not.toContain("hostname: vm-");
    }
    const denied = await server.waitFor((l) => l.event === "http.denied" && l.why === "token-from-ambiguous-address");
    expect(denied.status).toBe(404);
  });

  it("guessed, truncated, altered and re-cased tokens get 404", async () => {
    const flip = (t: string) => (t[0] === "A" ? "B" : "A") + t.slice(1);
    const swapCase = (t: string) => [...t].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join("");
    for (const token of [randomBytes(32).toString("base64url"), tokenA.slice(0, 42), flip(tokenA), swapCase(tokenA), `${tokenA}A`, "a", VM_A.id, VM_A.name]) {
      const res = await get(`/nocloud/${token}/user-data`, STRANGER);
      expect(res.status, token).toBe(404);
      expectNothingOf(res, SECRET_A, SECRET_B);
    }
    expect(tokenA).not.toBe(tokenB);
  });

  it("unknown documents under a valid token get 404", async () => {
    for (const doc of ["user_data", "meta_data.json", "seed", "server-secret"]) {
      expect((await get(`/nocloud/${tokenA}/${doc}`, STRANGER)).status).toBe(404);
    }
  });
});

describe("path tricks are refused, not resolved", () => {
  const tricks = () => [
    `/nocloud/${tokenB}/../${tokenA}/user-data`,
    `/nocloud/${tokenB}/%2e%2e/${tokenA}/user-data`,
    `/nocloud/${tokenB}/%2E%2E/${tokenA}/user-data`,
    `/nocloud/${tokenA}%2fuser-data`,
    `/nocloud/${tokenA}%2Fuser-data`,
    `/nocloud/${tokenA}%5cuser-data`,
    `/nocloud/${tokenA}\\user-data`,
    `//nocloud/${tokenA}/user-data`,
    `/nocloud//${tokenA}/user-data`,
    `/nocloud/${tokenA}//user-data`,
    `/nocloud/${tokenA}/user-data%00`,
    `/nocloud/${tokenA}/./user-data`,
    `/nocloud/${tokenA}/%2e/user-data`,
    `/nocloud/${tokenA}/user-data%zz`,
    "/openstack/latest/../latest/user_data",
    "/openstack/%2e%2e/openstack/latest/user_data",
    "/openstack//latest/user_data",
    "/openstack/latest%2fuser_data",
    "/latest/meta-data/../user-data",
    "/latest/meta-data/%2e%2e/user-data",
    "/latest//meta-data/instance-id",
  ];

  it("over a raw socket (no client normalisation), from the owning guest as well", async () => {
    for (const path of tricks()) {
      for (const from of [VM_A.address, VM_B.address]) {
        const raw = await rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, from);
        expect(raw, `${path} from ${from}`).toMatch(/^HTTP\/1\.1 400 /);
        expect(raw).not.toContain(SECRET_A);
        expect(raw).not.toContain(SECRET_B);
      }
    }
  });

  it("absolute-form targets and NUL bytes are refused", async () => {
    const absolute = await rawRequest(server.port, `GET http://127.0.0.1/nocloud/${tokenA}/user-data HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    const nul = await rawRequest(server.port, `GET /nocloud/${tokenA}/user-data\0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(nul).toMatch(/^HTTP\/1\.1 400 /);
    expect(nul + absolute).not.toContain(SECRET_A);
  });
});

describe("methods other than the documented ones get 405 with Allow", () => {
  it("on every guest endpoint family", async () => {
    const cases: Array<[string, string, string]> = [
      ["POST", `/nocloud/${tokenA}/user-data`, "GET, HEAD"],
      ["PUT", `/nocloud/${tokenA}/meta-data`, "GET, HEAD"],
      ["DELETE", "/openstack/latest/user_data", "GET, HEAD"],
      ["PATCH", "/openstack", "GET, HEAD"],
      ["OPTIONS", "/latest/meta-data/", "GET, HEAD"],
      ["POST", "/latest/user-data", "GET, HEAD"],
      ["GET", "/latest/api/token", "PUT"],
      ["DELETE", "/v1/vms", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await request(server.port, path, { method, from: VM_A.address });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expectNothingOf(res, SECRET_A, SECRET_B);
    }
  });

  it("HEAD answers like GET without a body", async () => {
    const res = await request(server.port, `/nocloud/${tokenA}/user-data`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(Number(res.headers["content-length"])).toBeGreaterThan(SECRET_A.length);
  });
});

describe("IMDSv2 tokens", () => {
  const put = (from: string, headers: Record<string, string>) => request(server.port, "/latest/api/token", { method: "PUT", from, headers });

  it("are bound to the guest that asked for them", async () => {
    const minted = await put(VM_A.address, { "x-aws-ec2-metadata-token-ttl-seconds": "60" });
    expect(minted.status).toBe(200);
    expect(minted.headers["x-aws-ec2-metadata-token-ttl-seconds"]).toBe("60");
    const withOwn = await get("/latest/meta-data/instance-id", VM_A.address, { "x-aws-ec2-metadata-token": minted.text });
    expect(withOwn.text).toBe(VM_A.id);
    const borrowed = await get("/latest/user-data", VM_B.address, { "x-aws-ec2-metadata-token": minted.text });
    expect(borrowed.status).toBe(401);
    expectNothingOf(borrowed, SECRET_A, SECRET_B);
    const forged = await get("/latest/user-data", VM_A.address, { "x-aws-ec2-metadata-token": `${minted.text.split(".")[0]}.${"A".repeat(43)}` });
    expect(forged.status).toBe(401);
  });

  it("are not minted for a stranger, through a forwarding hop, or with a bad TTL", async () => {
    expect((await put(STRANGER, { "x-aws-ec2-metadata-token-ttl-seconds": "60" })).status).toBe(404);
    const hops: Record<string, string>[] = [{ "x-forwarded-for": "192.0.2.1" }, { forwarded: "for=192.0.2.1" }, { "x-real-ip": "192.0.2.1" }, { "x-instance-id": VM_B.id }];
    for (const hop of hops) {
      for (const from of [VM_A.address, STRANGER]) {
        const res = await put(from, { "x-aws-ec2-metadata-token-ttl-seconds": "60", ...hop });
        expect(res.status, `${JSON.stringify(hop)} from ${from}`).toBe(403);
        expect(res.text).not.toMatch(/^\d+\./);
      }
    }
    for (const ttl of ["0", "21601", "-5", "1e3", "abc", ""]) {
      expect((await put(VM_A.address, { "x-aws-ec2-metadata-token-ttl-seconds": ttl })).status, ttl).toBe(400);
    }
    expect((await put(VM_A.address, {})).status).toBe(400);
  });

  it("can be minted through the trusted proxy for the guest it names, and bind to that guest", async () => {
    const minted = await put(PROXY, { "x-aws-ec2-metadata-token-ttl-seconds": "60", "x-forwarded-for": VM_A.address });
    expect(minted.status).toBe(200);
    const viaProxy = await get("/latest/meta-data/instance-id", PROXY, { "x-forwarded-for": VM_A.address, "x-aws-ec2-metadata-token": minted.text });
    expect(viaProxy.text).toBe(VM_A.id);
    expect((await get("/latest/user-data", VM_B.address, { "x-aws-ec2-metadata-token": minted.text })).status).toBe(401);
  });
});

describe("operator API", () => {
  it("answers the operator on loopback and never returns user-data or seed tokens", async () => {
    const vms = await get("/v1/vms", "127.0.0.1");
    expect(vms.status).toBe(200);
    const list = JSON.parse(vms.text) as { vms: { name: string; addresses: string[] }[] };
    expect(list.vms.map((v) => v.name)).toEqual(["vm-a", "vm-b", "vm-c", "vm-d"]);
    expect(list.vms.find((v) => v.name === "vm-a")!.addresses).toEqual([VM_A.address]);
    expect(list.vms.find((v) => v.name === "vm-c")!.addresses).toEqual([]);
    const one = await get(`/v1/vms/${VM_A.name}`, "127.0.0.1");
    expect(JSON.parse(one.text).vm.id).toBe(VM_A.id);
    expect((await get(`/v1/vms/${VM_A.id}`, "127.0.0.1")).status).toBe(200);
    expect((await get("/v1/vms/nope", "127.0.0.1")).status).toBe(404);
    const networks = JSON.parse((await get("/v1/networks", "127.0.0.1")).text) as { networks: { name: string }[] };
    expect(networks.networks.map((n) => n.name)).toEqual(["loop", "loop-shadow"]);
    for (const res of [vms, one]) {
      expectNothingOf(res, SECRET_A, SECRET_B, tokenA, tokenB);
    }
    expect(JSON.parse((await get("/healthz", "127.0.0.1")).text).status).toBe("ok");
  });

  it("refuses guests even on a listener that serves it", async () => {
    for (const path of ["/v1/vms", `/v1/vms/${VM_A.name}`, "/v1/networks", "/metrics", "/healthz"]) {
      const res = await get(path, VM_A.address);
      expect(res.status, path).toBe(403);
      expectNothingOf(res, SECRET_A, SECRET_B, tokenA);
    }
  });

  it("metrics label routes, never paths, so seed tokens do not leak into them", async () => {
    const metrics = await get("/metrics", "127.0.0.1");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^guestlink_http_requests_total\{route="nocloud",method="GET",status="200"\} \d+$/m);
    expect(metrics.text).toMatch(/^guestlink_http_requests_total\{route="rejected",method="GET",status="400"\} \d+$/m);
    expect(metrics.text).not.toContain(tokenA);
  });
});
