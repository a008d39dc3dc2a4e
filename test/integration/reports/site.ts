// A small site for the report tests: VMs on one bridge network, the real `guestlink serve` on a
// free loopback port with its own state directory, and a config file for the limits a test sets.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, httpGet, start, waitFor, type Started } from "../../helpers/processes.ts";

export const vmIdOf = (i: number) => `00000000-0000-4000-8000-${(0xd00 + i).toString(16).padStart(12, "0")}`;
export const macOf = (i: number) => `52:54:00:dd:00:${i.toString(16).padStart(2, "0")}`;

export function siteYaml(vms: number): string {
  const lines = ["version: 1", "networks:", "  - name: lan", "    type: bridge", "    mtu: 1500", '    ipv6: { prefix: "2001:db8:71::/64", mode: static }', "vms:"];
  for (let i = 0; i < vms; i++) {
    lines.push(`  - id: ${vmIdOf(i)}`, `    name: vm-${i}`, `    nics: [{ network: lan, mac: "${macOf(i)}", ipv6: { address: "2001:db8:71::${(i + 16).toString(16)}" } }]`);
  }
  return lines.join("\n") + "\n";
}

export interface Site { inventory: string; stateDir: string; config: string; port: number; base: string }

export async function makeSite(dir: string, vms: number, config: Record<string, unknown> = {}): Promise<Site> {
  const inventory = join(dir, "site.yaml");
  writeFileSync(inventory, siteYaml(vms));
  const configPath = join(dir, "serve.json");
  writeFileSync(configPath, JSON.stringify(config));
  const port = await freePort();
  return { inventory, stateDir: join(dir, "state"), config: configPath, port, base: `http://127.0.0.1:${port}/` };
}

/** Starts `guestlink serve` on the site and waits until /healthz answers. */
export async function startServe(site: Site): Promise<Started> {
  const server = start(process.execPath, ["bin/guestlink", "serve", "--inventory", site.inventory, "--listen", `127.0.0.1:${site.port}`,
    "--state-dir", site.stateDir, "--public-url", site.base, "--config", site.config]);
  await waitFor("the server", async () => {
    if (server.child.exitCode !== null) throw new Error(`serve exited: ${server.output()}`);
    return (await httpGet(`${site.base}healthz`)).status === 200 ? true : undefined;
  }, 20_000, 25);
  return server;
}
