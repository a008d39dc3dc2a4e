// guestlink serve: the metadata HTTP service. Options come from flags and/or a config file
// (--config, YAML or JSON; flags win), validated by one zod schema. Wiring only: the service
// is http/server.ts, the data is site-store.ts, the secret is state/secret.ts.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ReportsService } from "../hub/reports.ts";
import { operatorHostKey } from "../http/operator.ts";
import { defaultStateDir, ensureLocalStateDir, LOCAL_STATE_DIR, SYSTEM_STATE_DIR } from "../state/dir.ts";
export { defaultStateDir, ensureLocalStateDir, LOCAL_STATE_DIR, SYSTEM_STATE_DIR } from "../state/dir.ts";
import { parseTrustedProxies } from "../http/identify.ts";
import { jsonLogger, type LogLevel } from "../http/log.ts";
import type { ListenerRole } from "../http/router.ts";
import { DEFAULT_HTTP_LIMITS, MetadataService, type ListenSpec } from "../http/server.ts";
import { DEFAULT_WATCH_DEBOUNCE_MS, SiteStore } from "../site-store.ts";
import { loadOrCreateSecret } from "../state/secret.ts";
import { removeStaleTempFiles } from "../state/temp-files.ts";
import { agentUrl } from "../state/enrollment.ts";
import { EXIT_INVALID, EXIT_OK, UsageError, type Io } from "./common.ts";

export const DEFAULT_LISTEN = "127.0.0.1:8775";

export const serveUsage = `usage: guestlink serve --inventory FILE [--listen HOST:PORT]... [--state-dir DIR] [--trusted-proxy IP]... [--operator-host NAME]... [--public-url URL]
  Serves cloud-init data over HTTP: NoCloud-net (/nocloud/<seed-token>/...), the OpenStack metadata
  service (/openstack/...) and EC2 IMDS (/latest/meta-data/..., IMDSv2 tokens), plus the operator API
  (/v1/vms, /v1/networks, /healthz, /metrics). SIGHUP or a change to the inventory file reloads it.
  --listen HOST:PORT         guest listener, repeatable (default ${DEFAULT_LISTEN}); nothing else is opened
  --api-listen HOST:PORT     operator API listener, repeatable; default: the API is served on the
                             loopback --listen addresses only
  --state-dir DIR            where the server secret lives (default: $GUESTLINK_STATE_DIR, systemd's
                             $STATE_DIRECTORY, ${SYSTEM_STATE_DIR} if writable, else ./${LOCAL_STATE_DIR})
  --trusted-proxy IP         believe X-Forwarded-For / X-Instance-ID from this peer, repeatable; what it
                             forwards is guest traffic and never reaches the operator API
  --operator-host NAME       a name (or address) operators reach the API by, besides loopback and the
                             listener's own address; other Host headers are refused (403), repeatable
  --proxy-secret-file FILE   shared secret for X-Instance-ID-Signature (Neutron's metadata_proxy_shared_secret)
  --public-url URL           this server as guests reach it; vendor-data then enrols the in-guest agent
  --network-config v1|v2     NoCloud network-config version (default v1, as guestlink render)
  --ec2-require-token        make IMDSv2 tokens mandatory (default: optional, as on AWS)
  --templates DIR            user-data templates (default: the bundled cloud-init-templates/)
  --config FILE              options as YAML/JSON (see docs/http.md); flags override it
  --access-log               one JSON log line per request (refusals are always logged)
  --log-level LEVEL          debug, info, warn or error (default info)
  --no-watch                 reload on SIGHUP only, not on file changes
Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 invalid inventory or start failure, 2 usage error.
`;

const HostPort = z.string().transform((text, ctx) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not HOST:PORT (IPv6 as [ADDR]:PORT)` });
    return z.NEVER;
  }
  return { host: m[1] ?? m[2]!, port };
});

const LimitsSchema = z.object({
  maxHeaderSize: z.number().int().min(1024).max(1 << 20),
  headersTimeoutMs: z.number().int().min(100),
  requestTimeoutMs: z.number().int().min(100),
  keepAliveTimeoutMs: z.number().int().min(0),
  maxConnections: z.number().int().min(1),
  acceptsPerTurn: z.number().int().min(1).max(256),
  maxBodyBytes: z.number().int().min(0),
  shutdownGraceMs: z.number().int().min(0),
  timeoutCheckIntervalMs: z.number().int().min(10),
}).partial().strict();

/** The configuration file and the flags, merged: every option the server has. */
export const ServeConfigSchema = z.object({
  inventory: z.string().min(1),
  templates: z.string().min(1).optional(),
  listen: z.array(HostPort).default([]),
  apiListen: z.array(HostPort).default([]),
  stateDir: z.string().min(1).optional(),
  trustedProxies: z.array(z.string()).default([]),
  /** Host names (or addresses) the operator API answers to besides loopback and the listener's own address. */
  operatorHosts: z.array(z.string().refine((h) => operatorHostKey(h) !== undefined, { message: "is not a host name or address (no port, no scheme)" })).default([]),
  proxySecretFile: z.string().min(1).optional(),
  publicUrl: z.string().url().optional(),
  networkConfig: z.enum(["v1", "v2"]).default("v1"),
  ec2: z.object({ requireToken: z.boolean().default(false) }).strict().default({ requireToken: false }),
  nocloud: z.object({ crossCheckSource: z.boolean().default(true) }).strict().default({ crossCheckSource: true }),
  accessLog: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  watch: z.boolean().default(true),
  watchDebounceMs: z.number().int().min(0).default(DEFAULT_WATCH_DEBOUNCE_MS),
  maxCachedDocuments: z.number().int().min(1).default(200_000),
  limits: LimitsSchema.default({}),
  /** The agents' WebSocket (metadata-server/hub/agent-hub.ts AGENT_HUB_DEFAULTS): what one guest may send and hold. */
  agentHub: z.object({
    maxPayloadBytes: z.number().int().min(1024).max(64 << 20),
    ratePerSecond: z.number().positive(),
    rateBurst: z.number().int().min(1),
    heartbeatSeconds: z.number().int().min(1).max(3600),
    maxConnections: z.number().int().min(1),
    qgaTimeoutMs: z.number().int().min(100).max(600_000),
    maxInterfacesPerVm: z.number().int().min(1).max(65_536),
    maxAddressesPerVm: z.number().int().min(1).max(1 << 20),
  }).partial().strict().default({}),
  /** The guest store (metadata-server/hub/store.ts GUEST_STORE_DEFAULTS): its bounds, journal and grace period. */
  guestStore: z.object({
    maxRawBytesPerVm: z.number().int().min(0),
    maxRecordBytes: z.number().int().min(1024),
    maxTotalBytes: z.number().int().min(1024),
    compactJournalBytes: z.number().int().min(4096),
    compactIntervalMs: z.number().int().min(100),
    missingGraceMs: z.number().int().min(0),
  }).partial().strict().default({}),
  /** The console's event stream (/v1/events); defaults in hub/events.ts (DEFAULT_EVENT_LIMITS). */
  events: z.object({
    maxClients: z.number().int().min(1),
    maxClientsPerAddress: z.number().int().min(1),
    maxBufferedBytes: z.number().int().min(1024),
    pingIntervalMs: z.number().int().min(100),
  }).partial().strict().default({}),
  /** The host-side QGA poller (VMs with qgaSocket); defaults are VDSM's (metadata-server/qga/poller.ts). */
  qgaPoll: z.object({
    intervalMs: z.number().int().min(1000),
    bootIntervalMs: z.number().int().min(500),
    bootWindowMs: z.number().int().min(0),
    commandTimeoutMs: z.number().int().min(100).max(60_000),
  }).partial().strict().default({}),
}).strict();

export type ServeConfig = z.infer<typeof ServeConfigSchema>;


async function readConfig(argv: string[]): Promise<{ config: ServeConfig; help: boolean }> {
  const { values } = parseArgs({
    args: argv, allowPositionals: false,
    options: {
      inventory: { type: "string" }, listen: { type: "string", multiple: true }, "api-listen": { type: "string", multiple: true },
      "state-dir": { type: "string" }, "trusted-proxy": { type: "string", multiple: true }, "operator-host": { type: "string", multiple: true },
      "proxy-secret-file": { type: "string" },
      "public-url": { type: "string" }, "network-config": { type: "string" }, "ec2-require-token": { type: "boolean" },
      templates: { type: "string" }, config: { type: "string" }, "access-log": { type: "boolean" }, "log-level": { type: "string" },
      "no-watch": { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { config: undefined as unknown as ServeConfig, help: true };
  let file: Record<string, unknown> = {};
  if (values.config !== undefined) {
    const text = await readFile(values.config, "utf8").catch((err: Error) => { throw new UsageError(`--config: ${err.message}`); });
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))) throw new UsageError(`${values.config}: the configuration must be a mapping`);
    file = (parsed ?? {}) as Record<string, unknown>;
  }
  const flags: Record<string, unknown> = {
    inventory: values.inventory, templates: values.templates, listen: values.listen, apiListen: values["api-listen"],
    stateDir: values["state-dir"], trustedProxies: values["trusted-proxy"], operatorHosts: values["operator-host"], proxySecretFile: values["proxy-secret-file"],
    publicUrl: values["public-url"], networkConfig: values["network-config"], accessLog: values["access-log"],
    logLevel: values["log-level"], watch: values["no-watch"] ? false : undefined,
    ec2: values["ec2-require-token"] ? { ...(file.ec2 as object | undefined), requireToken: true } : undefined,
  };
  const merged = { ...file };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  if (merged.inventory === undefined) throw new UsageError("--inventory FILE is required");
  const result = ServeConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new UsageError(result.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`).join("; "));
  }
  return { config: result.data, help: false };
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);

/** Guest listeners, plus the operator API where asked for (default: on the loopback guest listeners). */
export function listenerPlan(config: Pick<ServeConfig, "listen" | "apiListen">): ListenSpec[] {
  const guests = config.listen.length ? config.listen : [HostPort.parse(DEFAULT_LISTEN)];
  const separateApi = config.apiListen.length > 0;
  const plan: ListenSpec[] = guests.map((l) => ({
    ...l, roles: (!separateApi && isLoopback(l.host) ? ["operator", "guest"] : ["guest"]) as ListenerRole[],
  }));
  for (const l of config.apiListen) plan.push({ ...l, roles: ["operator"] });
  return plan;
}

export interface RunningServer {
  service: MetadataService;
  store: SiteStore;
  stop(reason: string): Promise<void>;
}

export async function serveCommand(argv: string[], io: Io): Promise<number> {
  const { config, help } = await readConfig(argv);
  if (help) { io.out(serveUsage); return EXIT_OK; }
  const log = jsonLogger(io.err, config.logLevel as LogLevel);
  if (config.publicUrl) {
    try { agentUrl(config.publicUrl); } catch (err) { throw new UsageError(`--public-url: ${(err as Error).message}`); }
  }
  const trustedProxies = (() => {
    try { return parseTrustedProxies(config.trustedProxies); } catch (err) { throw new UsageError((err as Error).message); }
  })();

  const state = config.stateDir ? { dir: resolve(config.stateDir), local: false } : defaultStateDir();
  if (state.local) ensureLocalStateDir(state.dir);
  // What a crash mid-write left behind (the state directory is ours alone: every name of ours).
  try {
    for (const f of await removeStaleTempFiles(state.dir)) log.log("info", "state.stale_temp_removed", { ...f });
  } catch (err) {
    log.log("warn", "state.stale_temp_failed", { stateDir: state.dir, error: (err as Error).message });
  }
  let secret;
  try {
    secret = await loadOrCreateSecret(state.dir);
  } catch (err) {
    log.log("error", "state.failed", { stateDir: state.dir, error: (err as Error).message });
    return EXIT_INVALID;
  }
  log.log("info", secret.created ? "state.secret_created" : "state.secret_loaded", { path: secret.path });
  if (secret.looseMode !== undefined) log.log("warn", "state.secret_mode", { path: secret.path, mode: secret.looseMode.toString(8), hint: "chmod 600" });

  let proxySharedSecret: Uint8Array | undefined;
  if (config.proxySecretFile) {
    const text = (await readFile(config.proxySecretFile, "utf8").catch((err: Error) => { throw new UsageError(`--proxy-secret-file: ${err.message}`); })).trim();
    if (!text) throw new UsageError(`${config.proxySecretFile} is empty`);
    proxySharedSecret = Buffer.from(text, "utf8");
  }

  // Guest reports follow the inventory: created once the first revision is loaded, told of each new one.
  let reports: ReportsService | undefined;
  const store = new SiteStore({
    onSwap: (snapshot) => reports?.onSnapshot(snapshot),
    inventoryPath: resolve(config.inventory),
    ...(config.templates ? { templatesDir: config.templates } : {}),
    secret: secret.bytes,
    log,
    watch: config.watch,
    watchDebounceMs: config.watchDebounceMs,
    maxCachedDocuments: config.maxCachedDocuments,
    networkConfigVersion: config.networkConfig === "v2" ? 2 : 1,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  });
  const first = await store.start();
  if (first.result === "rejected") {
    store.close();
    io.err(`guestlink serve: ${config.inventory} is not valid; nothing to serve\n`);
    return EXIT_INVALID;
  }

  try {
    reports = await ReportsService.open({
      stateDir: state.dir, secret: secret.bytes, current: () => store.current(),
      poller: config.qgaPoll, agentHub: config.agentHub, guestStore: config.guestStore, events: config.events,
      log: (level, event, fields) => log.log(level, event, fields),
    });
  } catch (err) {
    log.log("error", "reports.failed", { stateDir: state.dir, error: (err as Error).message });
    store.close();
    return EXIT_INVALID;
  }

  const service = new MetadataService({
    reports,
    store, secret: secret.bytes, listen: listenerPlan(config), log,
    identify: { trustedProxies, ...(proxySharedSecret ? { proxySharedSecret } : {}) }, operatorHosts: config.operatorHosts,
    ec2: { requireToken: config.ec2.requireToken }, nocloud: config.nocloud,
    limits: { ...DEFAULT_HTTP_LIMITS, ...config.limits }, accessLog: config.accessLog,
  });
  try {
    await service.start();
  } catch (err) {
    log.log("error", "http.listen_failed", { error: (err as Error).message });
    await service.shutdown("listen failed");
    await reports.close();
    store.close();
    return EXIT_INVALID;
  }

  return new Promise<number>((done) => {
    const onHup = () => void store.reload("SIGHUP");
    const stop = (signal: string) => {
      process.off("SIGHUP", onHup);
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      store.close();
      // Agents and consoles are told the server is going and the guest store is flushed first;
      // then HTTP stops taking requests and lets the ones in flight finish.
      void reports!.close().then(() => service.shutdown(signal)).then(() => done(EXIT_OK));
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGHUP", onHup);
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    log.log("info", "serve.ready", { pid: process.pid, stateDir: state.dir, revision: store.current()?.revision });
  });
}
