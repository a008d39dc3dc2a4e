// A tiny raw DHCP peer for protocol cases no real client can be made to produce (a wrong
// INIT-REBOOT address, DECLINE, INFORM, a relayed request, garbage, a rogue server's OFFER).
// Runs in the guest namespace: binds device-bound UDP sockets on the given ports, sends the given
// datagrams, prints every datagram received within waitMs as one JSON line, then exits.
//   probe-entry '{"ifname":"...","listen":[68],"send":[{"hex":"...","to":"255.255.255.255","port":67,"fromPort":68}],"waitMs":1500}'
import { openDeviceUdpSocket } from "../../../metadata-server/dhcp/socket.ts";

interface Spec {
  ifname: string;
  listen: number[];
  send: { hex: string; to: string; port: number; fromPort: number }[];
  waitMs: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as Spec;
  const sockets = new Map<number, Awaited<ReturnType<typeof openDeviceUdpSocket>>>();
  for (const port of spec.listen) {
    const s = await openDeviceUdpSocket(spec.ifname, port);
    s.on("message", (msg, rinfo) => {
      process.stdout.write(`${JSON.stringify({ port, from: rinfo.address, hex: msg.toString("hex") })}\n`);
    });
    sockets.set(port, s);
  }
  for (const m of spec.send) {
    const s = sockets.get(m.fromPort)!;
    await new Promise<void>((resolve, reject) => s.send(Buffer.from(m.hex, "hex"), m.port, m.to, (e) => (e ? reject(e) : resolve())));
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, spec.waitMs));
  for (const s of sockets.values()) s.close();
}

main().catch((e) => { process.stderr.write(`${e?.stack ?? e}\n`); process.exitCode = 1; });
