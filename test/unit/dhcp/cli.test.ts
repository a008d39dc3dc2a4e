// Argument handling of `guestlink dhcp` and `guestlink render-dhcp` (no sockets are opened: every
// case here fails or finishes before the service starts).
import { afterEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dhcpCommand } from "../../../metadata-server/cli/dhcp.ts";
import { renderDhcpCommand } from "../../../metadata-server/cli/render-dhcp.ts";

describe("guestlink dhcp arguments", () => {
  afterEach(() => vi.restoreAllMocks());

  it("refuses bad calls with exit code 2 and prints usage for --help", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await dhcpCommand([])).toBe(2);
    expect(await dhcpCommand(["--inventory", "x.yaml"])).toBe(2);
    expect(await dhcpCommand(["--inventory", "x.yaml", "--interface", "a=b=c"])).toBe(2);
    expect(await dhcpCommand(["--inventory", "x.yaml", "--interface", "eth0", "--log-level", "loud"])).toBe(2);
    expect(await dhcpCommand(["--bogus"])).toBe(2);
    expect(await dhcpCommand(["--help"])).toBe(0);
    expect(String(out.mock.calls[0]?.[0])).toContain("--interface IF[=NETWORK]");
    expect(err).toHaveBeenCalled();
  });

  it("exits 1 with the inventory's problems logged when the first load fails", async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => { lines.push(String(s)); return true; });
    const dir = mkdtempSync(join(tmpdir(), "gl-dhcp-cli-"));
    const inv = join(dir, "bad.yaml");
    writeFileSync(inv, "version: 1\nnetworks: [ {name: x, type: nonsense} ]\n");
    expect(await dhcpCommand(["--inventory", inv, "--interface", "eth0=x"])).toBe(1);
    const logged = lines.map((l) => JSON.parse(l) as { event: string; issues?: unknown[] });
    expect(logged.find((l) => l.event === "inventory-invalid")?.issues?.length).toBeGreaterThan(0);
  });
});

describe("guestlink render-dhcp arguments", () => {
  const run = async (args: string[]) => {
    let out = "";
    let err = "";
    const code = await renderDhcpCommand(args, { out: (t) => { out += t; }, err: (t) => { err += t; } });
    return { code, out, err };
  };

  it("needs an inventory and a known format, and reports an unreadable inventory", async () => {
    expect((await run(["--format", "dnsmasq"])).code).toBe(2);
    expect((await run(["inv.yaml", "--format", "kea"])).code).toBe(2);
    expect((await run(["inv.yaml", "--format", "radvd", "--interface", "nonsense"])).code).toBe(2);
    const missing = await run([join(tmpdir(), "does-not-exist.yaml"), "--format", "radvd"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("FILE_UNREADABLE");
    expect((await run(["--help"])).out).toContain("--format dnsmasq|radvd");
  });
});
