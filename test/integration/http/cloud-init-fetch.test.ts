// cloud-init 22.4's own datasources fetch a guest's data from `guestlink serve` over real HTTP:
// NoCloud-net through the seed string `guestlink seed-url` prints, the OpenStack metadata service
// and EC2 IMDS (v1, and v2 tokens on the AWS code path) by source address. Whatever cloud-init
// got must be what `guestlink render` writes for the same VM.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadSiteFile } from "../../../metadata-server/inventory/load.ts";
import { renderEc2MetaData, type Ec2Dir } from "../../../metadata-server/render/ec2.ts";
import { agentCredential } from "../../../metadata-server/state/tokens.ts";
import { run, SYSTEM_PYTHON, tempDir } from "../../helpers/peers.ts";
import { FIXTURE, guestlink, request, ServerProcess, VM_A, VM_B } from "./server-process.ts";

const SCRIPT = join(import.meta.dirname, "..", "..", "peers", "cloud_init_fetch.py");

interface Fetched {
  accepted: boolean;
  errors: string[];
  metadata?: Record<string, unknown>;
  userdata?: string | null;
  vendordata?: string | null;
  networkdata?: unknown;
  ec2_metadata?: Record<string, unknown>;
  version?: number;
  api_version?: string | null;
  api_token?: boolean;
}

function cloudInitFetch(...args: string[]): Fetched {
  const r = run(SYSTEM_PYTHON, [SCRIPT, ...args]);
  if (r.status !== 0 && r.status !== 1) throw new Error(`cloud_init_fetch.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Fetched;
}

const b64 = (s: string | null | undefined) => (s == null ? null : Buffer.from(s, "base64"));

/** The EC2 tree as cloud-init's crawler returns it: public-keys/ listing "0=key-0" becomes {"key-0": KEY}. */
function crawlShape(tree: Ec2Dir): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) {
    if (k === "public-keys" && typeof v !== "string") {
      const keys: Record<string, unknown> = {};
      for (const [i, entry] of Object.entries(v)) keys[`key-${i}`] = (entry as Ec2Dir)["openssh-key"];
      out[k] = keys;
    } else out[k] = typeof v === "string" ? v : crawlShape(v);
  }
  return out;
}

const work = tempDir("http-ci");
const stateDir = join(work.path, "state");
let server: ServerProcess;
const rendered: Record<string, Record<string, Buffer>> = {};

function renderSeed(vm: string, format: "nocloud" | "configdrive"): Record<string, Buffer> {
  const out = join(work.path, `${vm}-${format}`);
  const r = guestlink("render", FIXTURE, "--vm", vm, "--format", format, "--out", out);
  expect(r.status, r.stderr).toBe(0);
  const files = format === "nocloud"
    ? ["meta-data", "user-data", "vendor-data", "network-config"]
    : ["meta_data.json", "network_data.json", "user_data", "vendor_data.json"].map((f) => `openstack/latest/${f}`);
  return Object.fromEntries(files.map((f) => [f.replace("openstack/latest/", ""), readFileSync(join(out, f))]));
}

beforeAll(async () => {
  server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", stateDir]);
  for (const vm of [VM_A.name, VM_B.name]) {
    rendered[`${vm}/nocloud`] = renderSeed(vm, "nocloud");
    rendered[`${vm}/configdrive`] = renderSeed(vm, "configdrive");
  }
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  work.remove();
});

describe("NoCloud-net (DataSourceNoCloudNet, seed string from guestlink seed-url)", () => {
  for (const vm of [VM_A, VM_B]) {
    it(`${vm.name} gets exactly the meta-data, user-data and vendor-data guestlink render writes`, () => {
      const seed = guestlink("seed-url", FIXTURE, "--vm", vm.name, "--state-dir", stateDir, "--url", server.url);
      expect(seed.status, seed.stderr).toBe(0);
      expect(seed.stdout).toMatch(new RegExp(`^ds=nocloud-net;s=http://127\\.0\\.0\\.1:${server.port}/nocloud/[A-Za-z0-9_-]{43}/\\n$`));
      const got = cloudInitFetch("nocloud", seed.stdout.trim());
      expect(got.errors).toEqual([]);
      expect(got.accepted).toBe(true);
      const files = rendered[`${vm.name}/nocloud`]!;
      expect(b64(got.userdata)).toEqual(files["user-data"]);
      expect(b64(got.vendordata)).toEqual(files["vendor-data"]);
      const { seedfrom, dsmode, ...metadata } = got.metadata!;
      expect(seedfrom).toBe(seed.stdout.trim().replace(/^ds=nocloud-net;s=/, ""));
      expect(dsmode).toBe("net");
      expect(metadata).toEqual(parseYaml(files["meta-data"]!.toString("utf8")));
    });
  }

  it("serves network-config (which 22.4 does not fetch over HTTP) byte-identical too", async () => {
    const seed = guestlink("seed-url", FIXTURE, "--vm", VM_A.name, "--state-dir", stateDir, "--url", server.url).stdout.trim();
    const res = await fetch(`${seed.replace(/^ds=nocloud-net;s=/, "")}network-config`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(rendered[`${VM_A.name}/nocloud`]!["network-config"]);
  });
});

describe("OpenStack metadata service (DataSourceOpenStack, identified by source address)", () => {
  for (const vm of [VM_A, VM_B]) {
    it(`${vm.name}, connecting from ${vm.address}, gets its own ConfigDrive documents`, () => {
      const got = cloudInitFetch("openstack", server.url, vm.address);
      expect(got.errors).toEqual([]);
      expect(got.accepted).toBe(true);
      expect(got.version).toBe(2);
      const files = rendered[`${vm.name}/configdrive`]!;
      const metaData = JSON.parse(files["meta_data.json"]!.toString("utf8")) as Record<string, unknown>;
      // cloud-init adds its normalised keys on top of what it read.
      expect(got.metadata).toEqual({ ...metaData, "local-hostname": metaData.hostname, "instance-id": metaData.uuid });
      expect(got.networkdata).toEqual(JSON.parse(files["network_data.json"]!.toString("utf8")));
      expect(b64(got.userdata)).toEqual(files["user_data"]);
      const vendorJson = JSON.parse(files["vendor_data.json"]!.toString("utf8")) as { "cloud-init": string };
      expect(b64(got.vendordata)?.toString("utf8")).toBe(vendorJson["cloud-init"]);
      // 22.4's OpenStack reader crawls the EC2 tree at 169.254.169.254 whatever metadata_urls says,
      // so ec2_metadata is not compared here; the EC2 tests below crawl it from this server.
    });
  }
});

describe("EC2 IMDS (DataSourceEc2, identified by source address)", () => {
  it("an IMDSv1 crawl gets the EC2 tree and user-data of the VM it connects from", async () => {
    const site = (await loadSiteFile(FIXTURE)).site!;
    for (const vm of [VM_A, VM_B]) {
      const got = cloudInitFetch("ec2", server.url, vm.address);
      expect(got.errors).toEqual([]);
      expect(got.accepted).toBe(true);
      expect(got.api_version).toBe("2021-03-23");
      expect(got.metadata).toEqual(crawlShape(renderEc2MetaData(site.vms.find((v) => v.name === vm.name)!)));
      expect(b64(got.userdata)).toEqual(rendered[`${vm.name}/nocloud`]!["user-data"]);
    }
  });
});

describe("IMDSv2 tokens required, and agent enrollment in vendor-data", () => {
  let strict: ServerProcess;
  beforeAll(async () => {
    strict = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", stateDir, "--ec2-require-token", "--public-url", "http://127.0.0.1:8775"]);
  });
  afterAll(async () => { expect(await strict?.stop()).toBe(0); });

  it("cloud-init's AWS code path fetches a token and crawls with it", async () => {
    const site = (await loadSiteFile(FIXTURE)).site!;
    const got = cloudInitFetch("ec2-imdsv2", strict.url, VM_A.address);
    expect(got.errors).toEqual([]);
    expect(got.accepted).toBe(true);
    expect(got.api_token).toBe(true);
    expect(got.metadata).toEqual(crawlShape(renderEc2MetaData(site.vms.find((v) => v.name === VM_A.name)!)));
    // The same guest without a token is refused: tokens really are required on this server.
    const refused = await request(strict.port, "/latest/meta-data/instance-id", { from: VM_A.address });
    expect(refused.status).toBe(401);
    expect(refused.text).not.toContain(VM_A.id);
  });

  it("vendor-data carries the guest's own agent credential when a public URL is configured", () => {
    const secret = readFileSync(join(stateDir, "server-secret"));
    for (const vm of [VM_A, VM_B]) {
      const seed = guestlink("seed-url", FIXTURE, "--vm", vm.name, "--state-dir", stateDir, "--url", strict.url).stdout.trim();
      const got = cloudInitFetch("nocloud", seed);
      expect(got.accepted).toBe(true);
      const vendor = b64(got.vendordata)!.toString("utf8");
      const file = (parseYaml(vendor) as { write_files: { path: string; content: string }[] }).write_files[0]!;
      expect(file.path).toBe("/etc/guestlink/agent.json");
      expect(JSON.parse(file.content)).toEqual({ server: "ws://127.0.0.1:8775/v1/agent", credential: agentCredential(secret, vm.id) });
      // Everything else is still exactly what guestlink render writes.
      expect(b64(got.userdata)).toEqual(rendered[`${vm.name}/nocloud`]!["user-data"]);
    }
  });
});
