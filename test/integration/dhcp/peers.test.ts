// The real programs the DHCP/RA tests run. When one is missing the other files' setup fails
// (their tests then report as not run); this file turns that into a plain, named failure.
import { describe, expect, it } from "vitest";
import { run } from "../../helpers/netns.ts";

const PEERS = ["ip", "ss", "unshare", "dhclient", "/sbin/dhclient-script", "udhcpc", "dhcpcd", "rdisc6", "dnsmasq", "radvd", "perfdhcp"];

describe("DHCP/RA test peers", () => {
  it.each(PEERS)("%s is installed", async (program) => {
    const r = await run("sh", ["-c", `command -v ${program}`]);
    expect(r.code, `${program} is missing: install it (scripts/install-test-deps.sh lists the packages)`).toBe(0);
  });

  it("runs as root (network namespaces, overlay mounts)", () => {
    expect(process.getuid?.()).toBe(0);
  });

  it("can create a network namespace", async () => {
    const name = `gl-probe-${process.pid}`;
    const add = await run("ip", ["netns", "add", name]);
    await run("ip", ["netns", "del", name]);
    expect(add.code, add.stderr).toBe(0);
  });
});
