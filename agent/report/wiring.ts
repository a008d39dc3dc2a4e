// Starts the reporter when the guest was given a reporting config (cloud-init vendor-data writes
// /etc/guestlink/agent.json with the server URL and this VM's credential). Without one the agent
// is exactly qemu-ga: it opens no network connection at all.
import type { Dispatcher } from "../dispatch/dispatcher.ts";
import type { FsRoot } from "../collectors/fsroot.ts";
import { collectLinkStates } from "../collectors/network.ts";
import { JsonMessageStream } from "../protocol/framing.ts";
import type { ReportedInterface } from "../protocol/ws-messages.ts";
import { Reporter } from "./reporter.ts";

export { DEFAULT_REPORT_CONFIG } from "./wiring-config.ts";

interface ReportConfig { server: string; credential: string; vmId?: string; pollSeconds?: number }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The VM id: the config's, else SMBIOS product_uuid, else cloud-init's instance-id (ours is the VM id). */
export function findVmId(fs: FsRoot, config: ReportConfig): string | undefined {
  const candidates = [config.vmId, fs.readTrim("/sys/class/dmi/id/product_uuid"), fs.readTrim("/var/lib/cloud/data/instance-id")];
  return candidates.map((c) => c?.toLowerCase()).find((c): c is string => c !== undefined && UUID.test(c));
}

export function parseReportConfig(text: string): ReportConfig | string {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const o = c as Record<string, unknown>;
  if (typeof o?.server !== "string" || !/^wss?:\/\//.test(o.server)) return "server must be a ws:// or wss:// URL";
  if (typeof o.credential !== "string" || o.credential.length < 16) return "credential missing";
  if (o.vmId !== undefined && typeof o.vmId !== "string") return "vmId must be a string";
  if (o.pollSeconds !== undefined && (typeof o.pollSeconds !== "number" || o.pollSeconds < 1)) return "pollSeconds must be a number >= 1";
  return o as unknown as ReportConfig;
}

/** The links' state in the report's shape (loopback and MAC-less links left out); no per-link classification. */
export function reportedInterfaces(fs: FsRoot): ReportedInterface[] {
  const out: ReportedInterface[] = [];
  for (const l of collectLinkStates(fs)) {
    const mac = (l["hardware-address"] ?? "").toLowerCase();
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || mac === "00:00:00:00:00:00") continue;
    out.push({
      name: l.name, mac, operstate: l.operstate, mtu: l.mtu,
      ...(l.carrier !== undefined ? { carrier: l.carrier } : {}),
      ...(l["ipv6-mtu"] !== undefined ? { ipv6Mtu: l["ipv6-mtu"] } : {}),
      addresses: (l["ip-addresses"] ?? []).map((a) => `${a["ip-address"]}/${a.prefix}`),
    });
  }
  return out;
}

/** Runs one QGA request object through the dispatcher, exactly as if it came over virtio-serial. */
export async function dispatchObject(dispatcher: Dispatcher<unknown>, request: Record<string, unknown>): Promise<unknown> {
  const [framed] = new JsonMessageStream().feed(new TextEncoder().encode(JSON.stringify(request)));
  if (!framed) return { error: { class: "GenericError", desc: "JSON parse error, expecting value" } };
  const result = await dispatcher.dispatch(framed);
  return result.line === null ? null : JSON.parse(result.line);
}

export function startReporting(opts: {
  configText: string | undefined; fs: FsRoot; dispatcher: Dispatcher<unknown>; version: string;
  log: (level: string, msg: string) => void;
}): Reporter | undefined {
  if (opts.configText === undefined) return undefined;
  const config = parseReportConfig(opts.configText);
  if (typeof config === "string") {
    opts.log("warning", `reporting config ignored: ${config}`);
    return undefined;
  }
  const vmId = findVmId(opts.fs, config);
  if (!vmId) {
    opts.log("warning", "reporting off: no VM id (config vmId, SMBIOS product_uuid or cloud-init instance-id)");
    return undefined;
  }
  const reporter = new Reporter({
    url: config.server, credential: config.credential, vmId, agentVersion: opts.version,
    collect: async () => reportedInterfaces(opts.fs),
    qga: (req) => dispatchObject(opts.dispatcher, req),
    ...(config.pollSeconds ? { pollMs: config.pollSeconds * 1000 } : {}),
    log: (event, fields) => opts.log(event === "collect-failed" || event === "refused" ? "warning" : "debug", `report ${event} ${JSON.stringify(fields ?? {})}`),
  });
  reporter.start();
  return reporter;
}
