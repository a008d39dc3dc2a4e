// guestlink serve as a whole, against real peers: it polls the real qemu-ga 7.2 behind the socket
// an inventory names (qgaSocket), and serves each VM's libvirt interfaces (accepted by libvirt's
// own validator) and each network's DHCP/RA plan.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePeer, run, tempDir } from "../helpers/peers.ts";
import { freePort, httpGet, start, stopAll, waitFor } from "../helpers/processes.ts";

const VM = "00000000-0000-4000-8000-0000000000d1";
const work = tempDir("serve-hints");
const sock = join(work.path, "qga.sock");
const inventory = join(work.path, "site.yaml");
let base = "";

writeFileSync(inventory, `version: 1
networks:
  - name: overlay
    type: ovn
    ipv4: { subnet: 203.0.113.0/24, gateway: 203.0.113.1 }
    dns: { servers: [203.0.113.53] }
vms:
  - id: ${VM}
    name: polled
    qgaSocket: ${sock}
    nics: [{ network: overlay, mac: "52:54:00:d1:00:01", ipv4: { mode: dhcp, address: 203.0.113.10 } }]
`);

beforeAll(async () => {
  mkdirSync(join(work.path, "qga-state")); // qemu-ga refuses to start without its state directory
  start(requirePeer("qemu-ga"), ["-m", "unix-listen", "-p", sock, "-t", join(work.path, "qga-state"), "-f", join(work.path, "qga.pid")]);
  await waitFor("the qemu-ga socket", () => (existsSync(sock) ? true : undefined));
  const port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  start(process.execPath, ["bin/guestlink", "serve", "--inventory", inventory, "--listen", `127.0.0.1:${port}`, "--state-dir", join(work.path, "state")]);
  await waitFor("the server", async () => ((await httpGet(`${base}healthz`)).status === 200 ? true : undefined));
});

afterAll(async () => {
  await stopAll();
  work.remove();
});

describe("guestlink serve", () => {
  it("polls the real qemu-ga behind the inventory's qgaSocket and keeps its raw answer", async () => {
    const rep = await waitFor("a polled report", async () => {
      const r = await httpGet(`${base}v1/vms/${VM}/guest`);
      return r.status === 200 ? JSON.parse(r.body) : undefined;
    });
    expect(rep.observed.source).toBe(`qga:${sock}`);
    expect(Array.isArray(rep.raw["guest-network-get-interfaces"])).toBe(true);
    expect(rep.raw["guest-network-get-interfaces"].some((i: { name: string }) => i.name === "lo")).toBe(true);
  });

  it("serves the VM's libvirt interfaces, which virt-xml-validate accepts", async () => {
    const r = await httpGet(`${base}v1/vms/polled/libvirt`);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/<mtu size='1442'\/>/);
    const file = join(work.path, "domain.xml");
    writeFileSync(file, `<domain type='kvm'><name>polled</name><memory unit='MiB'>512</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>\n${r.body}</devices></domain>\n`);
    const v = run("virt-xml-validate", [file, "domain"]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect((await httpGet(`${base}v1/vms/nobody/libvirt`)).status).toBe(404);
  });

  it("serves the network's DHCP/RA plan with the MTU and the reservation", async () => {
    const r = await httpGet(`${base}v1/networks/overlay/dhcp`);
    expect(r.status).toBe(200);
    const text = r.body;
    expect(text).toMatch(/1442/);
    expect(text).toMatch(/203\.0\.113\.10/);
    expect(text).toMatch(/52:54:00:d1:00:01/);
    expect((await httpGet(`${base}v1/networks/nothing/dhcp`)).status).toBe(404);
  });
});
