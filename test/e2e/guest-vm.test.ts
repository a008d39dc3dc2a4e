// End to end in a real guest. A Debian 12 VM (QEMU/TCG) boots on a cidata seed from
// `guestlink render --iso`, with each virtio NIC's host_mtu taken from `--format libvirt`, takes its
// DHCP lease and router advertisements from `guestlink dhcp`, installs our agent from a second
// read-only disk, and answers through it on virtio-serial. From the host we check, through
// `guestlink serve` (its QGA poller, the agent's WebSocket reports, /v1/mtu, the console state) and
// `guestlink mtu-check`, that the guest has exactly what the inventory implies; then change the DHCP
// network's MTU and watch the guest renew and everything follow; then power it off through
// guest-shutdown. A second boot on a deliberately wrong seed must fail the same checks.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { differences, expectedNics, inventory, buildPackageDisk, overlayDisk, qemuArgs, renderGuestMedia, API, MACS, PUBLIC_URL, VM_ID, VM_NAME, type ExpectedNic, type ReportedNic } from "./guest.ts";
import { QgaClient } from "../../metadata-server/qga/client.ts";
import { waitFor } from "../helpers/processes.ts";
import { GUESTLINK, Lab, REPO, sh, StepClock } from "./lab.ts";

const CACHE = process.env.GUESTLINK_E2E_CACHE ?? join(homedir(), ".cache/guestlink/e2e");
const RUN_DIR = join(REPO, "test-artifacts/e2e", new Date().toISOString().replace(/[:.]/g, "-"));
const BOOT_TIMEOUT_MS = 300_000;

interface GuestRecord {
  observed: { source: string; interfaces: ReportedNic[]; cloudInit?: { done: boolean; errors: string[]; datasource?: string } };
  poll?: { at: string; observed?: GuestRecord["observed"]; error?: string };
  connected: boolean;
  receivedAt: string;
}

const clock = new StepClock();
const lab = new Lab(RUN_DIR);
const inventoryPath = join(RUN_DIR, "inventory.yaml");
const stateDir = join(RUN_DIR, "state");
const qgaSocket = join(RUN_DIR, "qga.sock");
let image = "";
let bootStarted = 0;
let expected: ExpectedNic[] = [];
let packageDisk = "";

function tail(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8").slice(-3000) : `(${path} missing)`;
}

function record(): GuestRecord | undefined {
  try {
    return lab.getJson(`${API}/v1/vms/${VM_ID}/guest`) as GuestRecord;
  } catch (err) {
    if (/: 404 /.test((err as Error).message)) return undefined;
    throw err;
  }
}

function mtuCheck(...extra: string[]) {
  return lab.exec(process.execPath, [GUESTLINK, "mtu-check", "--inventory", inventoryPath, "--server", API, ...extra]);
}

/** Waits until the guest's report matches the inventory, failing with every difference left. */
async function agreement(what: string, timeoutMs: number, pick: (r: GuestRecord) => GuestRecord["observed"] | undefined): Promise<GuestRecord["observed"]> {
  let left: string[] = [`no ${what} yet`];
  try {
    return await waitFor(what, () => {
      const r = record();
      const observed = r && pick(r);
      if (!observed) return undefined;
      left = differences(expected, observed.interfaces, what);
      return left.length === 0 ? observed : undefined;
    }, timeoutMs, 1000);
  } catch {
    throw new Error(`the guest does not match the inventory:\n  ${left.join("\n  ")}`);
  }
}

function bootGuest(seed: string, hostMtu: Map<string, number>, runDir: string): void {
  mkdirSync(runDir, { recursive: true });
  overlayDisk(image, runDir);
  rmSync(qgaSocket, { force: true });
  bootStarted = Date.now();
  lab.spawn("qemu", "qemu-system-x86_64", qemuArgs({ image, seed, packageDisk, qgaSocket, hostMtu, runDir }));
}

/**
 * Runs a shell command in the guest through guest-exec, as an operator's tool would: the server's
 * poller lets go of the socket after each poll, so this waits its turn and retries.
 */
async function guestExec(command: string): Promise<{ exitcode: number; stdout: string; stderr: string }> {
  return waitFor(`guest-exec ${command}`, async () => {
    const client = new QgaClient({ path: qgaSocket, commandTimeoutMs: 3000, connectTimeoutMs: 3000 });
    try {
      const { pid } = (await client.call("guest-exec", { path: "/bin/sh", arg: ["-c", command], "capture-output": true })) as { pid: number };
      for (let i = 0; i < 120; i++) {
        const st = (await client.call("guest-exec-status", { pid })) as { exited: boolean; exitcode?: number; "out-data"?: string; "err-data"?: string };
        if (st.exited) {
          const text = (b64?: string) => Buffer.from(b64 ?? "", "base64").toString("utf8");
          return { exitcode: st.exitcode ?? -1, stdout: text(st["out-data"]), stderr: text(st["err-data"]) };
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`${command} did not finish within 60 s`);
    } finally {
      client.close();
    }
  }, 60_000, 1000);
}

/** Runs shell lines in the guest that each print NAME=VALUE; returns a lookup of the values. */
async function guestFacts(lines: string[]): Promise<(name: string) => string | undefined> {
  const r = await guestExec(lines.join("\n"));
  expect(r.exitcode, r.stderr).toBe(0);
  return (name) => new RegExp(`^${name}=(.*)$`, "m").exec(r.stdout)?.[1]?.trim();
}

/** A unit's status and the tail of its journal in the guest, for a failure message. */
async function unitLog(unit: string): Promise<string> {
  const r = await guestExec(`systemctl status --no-pager ${unit}; journalctl -u ${unit} -o cat --no-pager | tail -n 40`);
  return `${r.stdout}${r.stderr}`;
}

/** guest-shutdown over the virtio-serial socket, as libvirt sends it: sync first, then the command (no reply on success). */
function sendShutdown(): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = Math.floor(Math.random() * 2 ** 30);
    const s = connect(qgaSocket);
    let buf = "";
    const timer = setTimeout(() => { s.destroy(); reject(new Error("no answer to guest-sync-delimited within 20 s")); }, 20_000);
    s.on("error", reject);
    s.on("connect", () => s.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } }) + "\n")])));
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes(`"return": ${id}`) || buf.includes(`"return":${id}`)) {
        clearTimeout(timer);
        s.end(JSON.stringify({ execute: "guest-shutdown" }) + "\n", () => resolve());
      }
    });
  });
}

beforeAll(async () => {
  for (const p of ["qemu-system-x86_64", "qemu-img", "debootstrap", "mkfs.ext4", "genisoimage", "fakeroot", "dpkg-deb"]) {
    if (!sh("sh", ["-c", `command -v ${p} || true`]).trim()) throw new Error(`missing ${p}: run scripts/install-e2e-deps.sh`);
  }
  if (process.getuid?.() !== 0) throw new Error("the e2e test needs root (network namespaces, tap devices)");
  if (!existsSync(GUESTLINK)) throw new Error("bin/guestlink is missing: npm run build");
  console.log(`[e2e] run directory: ${RUN_DIR}`);
  const t = Date.now();
  image = sh("bash", [join(REPO, "scripts/e2e/build-guest-image.sh"), CACHE], { timeoutMs: 1_200_000 }).trim().split("\n").pop()!;
  clock.mark("image build (0 when cached)", t);

  writeFileSync(inventoryPath, inventory({ jumboMtu: 9000, qgaSocket }));
  lab.create([
    { addresses: ["10.77.0.1/24"], mtu: 1500 },
    { addresses: ["10.77.1.1/24", "fd77:e2e:1::1/64"], mtu: 9000 },
  ]);
  writeFileSync(join(RUN_DIR, "serve.yaml"), "qgaPoll:\n  bootIntervalMs: 2000\n  intervalMs: 5000\n  bootWindowMs: 600000\n  commandTimeoutMs: 5000\n");
  lab.spawn("serve", process.execPath, [GUESTLINK, "serve", "--config", join(RUN_DIR, "serve.yaml"), "--inventory", inventoryPath,
    "--listen", "10.77.0.1:8775", "--listen", "127.0.0.1:8775", "--state-dir", stateDir, "--public-url", PUBLIC_URL]);
  lab.spawn("dhcp", process.execPath, [GUESTLINK, "dhcp", "--inventory", inventoryPath, "--interface", "br1=jumbo", "--lease-file", join(stateDir, "leases.json")]);
  await waitFor("guestlink serve to answer /healthz", () => (lab.getJson(`${API}/healthz`) ? true : undefined), 20_000, 250);
  if (!lab.running("dhcp")) throw new Error(`guestlink dhcp exited:\n${lab.log("dhcp")}`);
  const vm = (lab.getJson(`${API}/v1/vms/${VM_ID}`) as { vm: Parameters<typeof expectedNics>[0] }).vm;
  expected = expectedNics(vm);
  // The inventory's own numbers, so a change in the MTU rules cannot make this test agree with itself.
  expect(expected.map((n) => [n.name, n.mtu])).toEqual([["eth0", 1442], ["eth1", 9000]]);

  const media = renderGuestMedia(inventoryPath, stateDir, RUN_DIR);
  expect([...media.hostMtu]).toEqual([[MACS.overlay, 1442], [MACS.jumbo, 9000]]);
  packageDisk = buildPackageDisk(RUN_DIR);
  bootGuest(media.seed, media.hostMtu, join(RUN_DIR, "guest"));
}, 1_500_000);

afterAll(async () => {
  await lab.cleanup();
  for (const d of ["guest", "wrong-seed"]) rmSync(join(RUN_DIR, d, "disk.qcow2"), { force: true });
  console.log(`[e2e] step times\n${clock.summary()}\n[e2e] logs: ${RUN_DIR}`);
}, 60_000);

describe(`a Debian 12 guest (${VM_NAME}) on our seed, DHCP/RA and agent`, () => {
  it("answers the server's QGA poller with the inventory's addresses and MTUs, links up, and cloud-init without errors", async () => {
    await waitFor("the agent to answer on virtio-serial", () => {
      if (!lab.running("qemu")) throw new Error(`QEMU exited:\n${lab.log("qemu").slice(-2000)}`);
      return record()?.poll?.observed;
    }, BOOT_TIMEOUT_MS, 1000).catch((err) => { throw new Error(`${(err as Error).message}\nserial console tail:\n${tail(join(RUN_DIR, "guest/serial.log"))}`); });
    clock.mark("boot to agent", bootStarted);
    const done = await waitFor("cloud-init to finish", () => {
      const ci = record()?.poll?.observed?.cloudInit;
      return ci?.done ? ci : undefined;
    }, BOOT_TIMEOUT_MS, 1000);
    clock.mark("boot to cloud-init done", bootStarted);
    expect(done.errors).toEqual([]);
    expect(done.datasource).toMatch(/NoCloud/);
    const polled = await agreement("the QGA poll", 90_000, (r) => r.poll?.observed);
    // The DHCP NIC: its MTU came from option 26 and host_mtu, its IPv6 MTU from our RA.
    const eth1 = polled.interfaces.find((i) => i.mac === MACS.jumbo)!;
    expect(eth1).toMatchObject({ mtu: 9000, operstate: "up", carrier: true });
    expect(eth1.ipv6Mtu).toBeUndefined(); // reported only when the RA made it differ from the link MTU
    expect(polled.interfaces.find((i) => i.mac === MACS.overlay)).toMatchObject({ mtu: 1442, operstate: "up", carrier: true });
  }, BOOT_TIMEOUT_MS * 2 + 120_000);

  it("sends the same facts over the agent's WebSocket", async () => {
    const observed = await agreement("the agent's WebSocket report", 120_000, (r) => (r.observed.source === "agent" ? r.observed : undefined));
    clock.mark("boot to first agent report", bootStarted);
    expect(observed.interfaces.find((i) => i.mac === MACS.jumbo)).toMatchObject({ mtu: 9000 });
    expect(record()!.connected).toBe(true);
  }, 180_000);

  it("is called consistent by GET /v1/mtu and guestlink mtu-check", () => {
    const report = lab.getJson(`${API}/v1/mtu`) as { vms: { vmName: string; interfaces: { name: string; verdict: string; problems: string[]; layers: { layer: string; status: string; mtu?: number }[] }[] }[] };
    const nics = report.vms.find((v) => v.vmName === VM_NAME)!.interfaces;
    expect(nics.map((n) => [n.name, n.verdict, n.problems])).toEqual([["eth0", "consistent", []], ["eth1", "consistent", []]]);
    // The guest layer was really checked against a report, not left unknown.
    for (const n of nics) expect(n.layers.find((l) => l.layer === "guest")).toMatchObject({ status: "ok" });
    const cli = mtuCheck();
    expect(cli.stderr).toBe("");
    expect(cli.status, cli.stdout).toBe(0);
  });

  it("follows an MTU change on the DHCP network: RA at once, the link at the guest's next DHCP binding; console and mtu-check follow", async () => {
    const changed = Date.now();
    writeFileSync(inventoryPath, inventory({ jumboMtu: 8000, qgaSocket }));
    await waitFor("the server to load the new inventory", () => {
      const vm = (lab.getJson(`${API}/v1/vms/${VM_ID}`) as { vm: Parameters<typeof expectedNics>[0] }).vm;
      return vm.interfaces[1]!.mtu === 8000 ? vm : undefined;
    }, 20_000, 250).then((vm) => { expected = expectedNics(vm); });
    // The guest still has 9000: mtu-check must say so, with what to do.
    const before = mtuCheck();
    expect(before.status, before.stdout).toBe(1);
    expect(before.stdout).toMatch(/eth1 \(jumbo, MTU 8000\): inconsistent/);
    expect(before.stdout).toMatch(/the guest has MTU 9000, the network jumbo has 8000/);

    // Our RA went out on reload: the kernel lowers the IPv6 MTU at once, the link stays.
    const jumbo = () => record()?.observed.interfaces.find((i) => i.mac === MACS.jumbo);
    await waitFor("the RA's new MTU in the guest's IPv6 MTU", () => (jumbo()?.ipv6Mtu === 8000 ? true : undefined), 60_000, 1000);
    clock.mark("MTU change to guest IPv6 (RA)", changed);
    expect(jumbo()!.mtu).toBe(9000);

    // A 60 s lease renews at T1 = 30 s. ISC dhclient gets option 26 = 8000 in that ACK, and Debian's
    // dhclient-script applies an MTU only on BOUND/REBOOT, so the link keeps 9000 (docs/dhcp.md).
    const renewAcks = () => lab.log("dhcp").split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { event?: string; time?: string; state?: string; mac?: string })
      .filter((e) => e.event === "ack" && e.mac === MACS.jumbo && Date.parse(e.time ?? "") >= changed);
    await waitFor("the guest's RENEW after the change", () => (renewAcks().some((e) => e.state === "renew-rebind") ? true : undefined), 60_000, 1000);
    await new Promise((r) => setTimeout(r, 6000)); // one agent poll (5 s) after the renewal
    expect(jumbo()!.mtu).toBe(9000);

    // So the guest takes a new binding, the way mtu-check's advice says: ifdown/ifup of eth1.
    const restart = await guestExec("ifdown eth1 && ifup eth1");
    expect(restart.exitcode, restart.stderr).toBe(0);
    await agreement("the agent's report after the new binding", 120_000, (r) => (r.observed.source === "agent" ? r.observed : undefined));
    clock.mark("MTU change to guest link (new binding)", changed);
    expect(jumbo()!.mtu).toBe(8000);
    expect(renewAcks().map((e) => e.state)).toContain("selecting");

    const console_ = lab.getJson(`${API}/v1/console/state`) as { vms: { name: string; cloudInit: { done: boolean; errors: string[] } | null; nics: { name: string; mtu: { expected: number; reported: number | null; verdict: string } }[] }[] };
    const vmState = console_.vms.find((v) => v.name === VM_NAME)!;
    expect(vmState.nics.find((n) => n.name === "eth1")!.mtu).toMatchObject({ expected: 8000, reported: 8000, verdict: "consistent" });
    expect(vmState.cloudInit).toMatchObject({ done: true, errors: [] });
    const after = mtuCheck("--verbose");
    expect(after.status, after.stdout).toBe(0);
    expect(after.stdout).toMatch(/eth1 \(jumbo, MTU 8000\): consistent/);
  }, 360_000);

  it("runs the server's .deb under systemd with its hardened unit: its own user, loopback only, answering, reloading", async () => {
    // The guest is a real systemd host, so the package's unit (sandboxing, system-call filter,
    // StateDirectory) is tried here as an operator would start it. Debian 12's nodejs is 18 and
    // the package asks for 20: the Node 20 on the package disk goes first in PATH.
    const installStarted = Date.now();
    const install = await guestExec([
      "set -e",
      "mkdir -p /run/glpkg && mount -o ro /dev/disk/by-label/GLAGENT /run/glpkg",
      "install -m 0755 /run/glpkg/node /usr/local/bin/node",
      "dpkg --force-depends -i /run/glpkg/guestlink-server.deb >/dev/null 2>&1",
      "umount /run/glpkg",
      "systemctl is-enabled guestlink-metadata",
      "systemctl start guestlink-metadata",
    ].join("\n"));
    expect(install.exitcode, install.stderr).toBe(0);
    expect(install.stdout.trim()).toBe("enabled"); // postinst enables it on first install

    let lastTry = "";
    const health = await waitFor("the packaged server's /healthz, inside the guest", async () => {
      const r = await guestExec(`/usr/local/bin/node -e 'fetch("http://127.0.0.1:8775/healthz").then(async (r) => console.log(r.status, await r.text()), (e) => { console.error(String(e.cause ?? e)); process.exit(1); })'`);
      lastTry = `${r.stdout}${r.stderr}`;
      return r.exitcode === 0 ? r.stdout.trim() : undefined;
    }, 90_000, 2000).catch(async (err: Error) => {
      throw new Error(`${err.message}\nlast try: ${lastTry}\n${await unitLog("guestlink-metadata")}`);
    });
    expect(health).toMatch(/^200 /);
    clock.mark("server .deb: install to /healthz", installStarted);

    const fact = await guestFacts([
      "pid=$(systemctl show -p MainPID --value guestlink-metadata)",
      "echo active=$(systemctl is-active guestlink-metadata)",
      "echo user=$(stat -c %U /proc/$pid)",
      "echo state=$(stat -c %U:%a /var/lib/guestlink)",
      "echo secret=$(find /var/lib/guestlink -maxdepth 1 -name '*secret*' -printf '%u:%m ')",
      // Every listening socket of the service: the default configuration asks for one.
      "echo listen=$(ss -Hltnp | grep \"pid=$pid,\" | awk '{print $4}' | sort | tr '\\n' ' ')",
    ]);
    expect(fact("active")).toBe("active");
    expect(fact("user")).toBe("guestlink");
    expect(fact("state")).toBe("guestlink:700");
    expect(fact("secret")).toMatch(/^guestlink:600$/);
    expect(fact("listen")).toBe("127.0.0.1:8775");

    // `systemctl reload` is SIGHUP: the same inventory is read again and found unchanged.
    const reload = await guestExec("systemctl reload guestlink-metadata && sleep 3 && journalctl -u guestlink-metadata -o cat --no-pager");
    expect(reload.exitcode, reload.stderr).toBe(0);
    const events = reload.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { event?: string; reason?: string });
    expect(events.map((e) => e.event)).toContain("serve.ready");
    expect(events).toContainEqual(expect.objectContaining({ event: "inventory.unchanged", reason: "SIGHUP" }));
    const after = await guestExec("systemctl is-active guestlink-metadata");
    expect(after.stdout.trim()).toBe("active");
  }, 300_000);

  it("runs guestlink-dhcp under systemd with only its two capabilities, serving a client on a link inside the guest", async () => {
    // A veth inside the guest stands in for a bridge: the package's example inventory serves its
    // mgmt network on gld0, and dhclient asks from a namespace on the other end with db-1's MAC.
    const started = Date.now();
    const setup = await guestExec([
      "set -e",
      "ip netns add glc",
      "ip link add gld0 type veth peer name gld1",
      "ip link set gld1 netns glc",
      "ip addr add 192.0.2.1/24 dev gld0",
      "ip link set gld0 up",
      "ip -n glc link set lo up",
      "ip -n glc link set gld1 address 52:54:00:10:00:02 up",
      "echo 'GUESTLINK_DHCP_ARGS=\"--interface gld0=mgmt\"' > /etc/default/guestlink-dhcp",
      "systemctl enable --now guestlink-dhcp",
    ].join("\n"));
    expect(setup.exitcode, setup.stderr).toBe(0);
    const lease = await guestExec("ip netns exec glc timeout 60 dhclient -1 -sf /bin/true -lf /run/glc.leases -pf /run/glc.pid gld1; cat /run/glc.leases");
    if (lease.exitcode !== 0) throw new Error(`dhclient got no lease from guestlink-dhcp:\n${lease.stdout}${lease.stderr}\n${await unitLog("guestlink-dhcp")}`);
    expect(lease.stdout).toMatch(/fixed-address 192\.0\.2\.20;/);
    expect(lease.stdout).toMatch(/option interface-mtu 1500;/);
    expect(lease.stdout).toMatch(/option routers 192\.0\.2\.1;/);
    // The RA from the raw ICMPv6 socket (CAP_NET_RAW): the client's kernel takes a SLAAC address.
    await waitFor("a SLAAC address in mgmt's prefix on the client's end", async () => {
      const r = await guestExec("ip -n glc -6 -o addr show dev gld1 scope global");
      return /inet6 2001:db8:10:/.test(r.stdout) ? true : undefined;
    }, 60_000, 2000).catch(async (err: Error) => {
      const links = await guestExec("ip -6 addr show dev gld0; ip -n glc -6 addr show dev gld1");
      throw new Error(`${err.message}\n${links.stdout}${await unitLog("guestlink-dhcp")}`);
    });
    clock.mark("guestlink-dhcp: enable to lease + SLAAC", started);

    const fact = await guestFacts([
      "pid=$(systemctl show -p MainPID --value guestlink-dhcp)",
      "echo user=$(stat -c %U /proc/$pid)",
      "echo caps=$(awk '/^CapEff/ {print $2}' /proc/$pid/status)",
      "echo state=$(stat -c %U:%a /var/lib/guestlink-dhcp)",
    ]);
    expect(fact("user")).toBe("guestlink");
    expect(fact("caps")).toBe("0000000000002400"); // CAP_NET_BIND_SERVICE (10) and CAP_NET_RAW (13), nothing else
    expect(fact("state")).toBe("guestlink:700");
    const stop = await guestExec("systemctl stop guestlink-dhcp && systemctl show -p Result --value guestlink-dhcp");
    expect(stop.stdout.trim()).toBe("success");
  }, 240_000);

  it("powers off through guest-shutdown", async () => {
    // The chardev takes one client at a time; the server's poller lets go between polls.
    await waitFor("a turn on the guest agent's socket", async () => {
      try {
        await sendShutdown();
        return true;
      } catch {
        return undefined;
      }
    }, 30_000, 1000);
    const t = Date.now();
    await lab.exited("qemu", 120_000);
    clock.mark("guest-shutdown to power-off", t);
  }, 180_000);

  it("fails with a clear message when the seed carries a wrong MTU on one vNIC", async () => {
    // The server keeps the right inventory; only the seed is rendered from a wrong one (eth0 at 1400).
    const wrongDir = join(RUN_DIR, "wrong-seed");
    mkdirSync(wrongDir, { recursive: true });
    const wrongInventory = join(wrongDir, "inventory.yaml");
    writeFileSync(wrongInventory, inventory({ jumboMtu: 8000, overlayMtu: 1400, qgaSocket }));
    const media = renderGuestMedia(wrongInventory, stateDir, wrongDir);
    const rightMtu = new Map([[MACS.overlay, 1442], [MACS.jumbo, 8000]]);
    bootGuest(media.seed, rightMtu, wrongDir);
    let problems: string[] = [];
    await waitFor("the wrong guest's agent report", () => {
      const r = record();
      if (r?.observed.source !== "agent" || !r.connected) return undefined;
      const eth0 = r.observed.interfaces.find((i) => i.mac === MACS.overlay);
      if (eth0?.mtu === undefined || Date.parse(r.receivedAt) < bootStarted) return undefined;
      problems = differences(expected, r.observed.interfaces, "the agent's WebSocket report");
      return true;
    }, BOOT_TIMEOUT_MS, 1000);
    clock.mark("wrong seed: boot to the failing check", bootStarted);
    console.log(`[e2e] the wrong seed, as the check words it:\n  ${problems.join("\n  ")}`);
    expect(problems).toContainEqual(expect.stringMatching(/eth0 \(52:54:00:e2:e0:01\) has MTU 1400, the inventory implies 1442/));
    const cli = mtuCheck();
    expect(cli.status).toBe(1);
    expect(cli.stdout).toMatch(/eth0.*inconsistent/);
    expect(cli.stdout).toMatch(/1400/);
  }, BOOT_TIMEOUT_MS + 120_000);
});
