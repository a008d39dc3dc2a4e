// A tiny raw DHCP peer for protocol cases no real client can be made to produce (a wrong
// INIT-REBOOT address, DECLINE, INFORM, a relayed request, garbage, a rogue server's OFFER).
// Runs in the guest namespace: binds device-bound UDP sockets on the given ports, sends the given
// datagrams, prints every datagram received within waitMs as one JSON line, then exits.
//   probe-entry '{"ifname":"...","listen":[68],"send":[{"hex":"...","to":"255.255.255.255","port":67,"fromPort":68}],"waitMs":1500}'
import type dgram from "node:dgram";
import { openDeviceUdpSocket } from "../../../metadata-server/dhcp/socket.ts";

interface Spec {
  ifname: string;
  listen: number[];
  send: { hex: string; to: string; port: number; fromPort: number }[];
  waitMs: number;
  /** Pause between two sends, ms (default 50); 0 sends back to back, as a burst. */
  gapMs?: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as Spec;
  const sockets = new Map<number, dgram.Socket>();
  for (const port of spec.listen) {
    const { socket: s } = await openDeviceUdpSocket(spec.ifname, port);
    s.on("message", (msg, rinfo) => {
      process.stdout.write(`${JSON.stringify({ port, from: rinfo.address, hex: msg.toString("hex") })}\n`);
    });
    sockets.set(port, s);
  }
  for (const m of spec.send) {
    const s = sockets.get(m.fromPort)!;
    await new Promise<void>((resolve, reject) => s.send(Buffer.from(m.hex, "hex"), m.port, m.to, (e) => (e ? reject(e) : resolve())));
    const gap = spec.gapMs ?? 50;
    if (gap > 0) await new Promise((r) => setTimeout(r, gap));
  }
  await new Promise((r) => setTimeout(r, spec.waitMs));
  for (const s of sockets.values()) s.close();
}

main().catch((e) => { process.stderr.write(`${e?.stack ?? e}\n`); process.exitCode = 1; });
