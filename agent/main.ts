// guestlink-agent: flags and config in, transport and dispatcher wired, nothing else.
import { readFileSync, writeFileSync, appendFileSync, mkdirSync, unlinkSync, existsSync } from "node:fs";
import { basename } from "node:path";
import { parseCommandLine } from "./config.ts";
import type { AgentConfig } from "./config.ts";
import { buildRegistry } from "./commands/index.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { ChannelSession } from "./transport/session.ts";
import { UnixListenTransport } from "./transport/unix-listen.ts";
import type { Transport } from "./transport/unix-listen.ts";
import { CharDeviceTransport } from "./transport/chardev.ts";
import { FsRoot } from "./collectors/fsroot.ts";
import { NodeExecutor, systemClock } from "./commands/node-executor.ts";
import { DEFAULT_AGENT_LIMITS } from "./commands/env.ts";
import type { AgentEnv } from "./commands/env.ts";
import { frozenMarker } from "./commands/fs.ts";
import { DEFAULT_REPORT_CONFIG } from "./report/wiring-config.ts";
import { whenFileAppears } from "./report/config-watch.ts";

const AGENT_VERSION = "0.1.0";
/** What guest-info reports: the qemu-ga release whose wire behaviour we reproduce. */
const QGA_COMPAT_VERSION = "7.2.0";
const RETRY_PATH_INTERVAL_MS = 5000;

function makeLogger(config: AgentConfig): (level: string, msg: string) => void {
  return (level, msg) => {
    if (level === "debug" && !config.verbose) return;
    const line = `${(Date.now() / 1000).toFixed(6)}: ${level}: ${msg}\n`;
    if (config.logFile) {
      try {
        appendFileSync(config.logFile, line);
        return;
      } catch {
        // fall back to stderr
      }
    }
    process.stderr.write(line);
  };
}

async function run(config: AgentConfig): Promise<void> {
  const log = makeLogger(config);
  try {
    mkdirSync(config.stateDir, { recursive: true });
  } catch {
    // the state dir is optional for most commands
  }
  const env: AgentEnv = {
    fs: new FsRoot(process.env.GUESTLINK_AGENT_ROOT || "/"),
    exec: new NodeExecutor(),
    clock: systemClock,
    limits: DEFAULT_AGENT_LIMITS,
    stateDir: config.stateDir,
    osReleasePath: process.env.QGA_OS_RELEASE || "/etc/os-release",
    version: QGA_COMPAT_VERSION,
  };
  const registry = buildRegistry();
  const dispatcher = new Dispatcher<AgentEnv>(registry, env, { blockedRpcs: config.blockRpcs, allowedRpcs: config.allowRpcs });
  env.dispatcher = dispatcher;
  // A restart while frozen must come back frozen, or a thaw would be refused.
  if (existsSync(frozenMarker(env))) dispatcher.setFrozen(true);
  const session = new ChannelSession(dispatcher as Dispatcher<unknown>, { log: (m) => log("debug", m) });

  const makeTransport = (): Transport =>
    config.method === "unix-listen"
      ? new UnixListenTransport(config.path, session, (m) => log("debug", m))
      : new CharDeviceTransport(config.path, session, { rawTermios: config.method === "isa-serial", log: (m) => log("debug", m) });

  let transport: Transport | undefined;
  for (;;) {
    const t = makeTransport();
    try {
      await t.start();
      transport = t;
      break;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === "ENOENT" ? "No such file or directory" : err.message;
      log("critical", `error opening channel '${config.path}': ${why}`);
      if (!config.retryPath) {
        log("critical", "failed to create guest agent channel");
        log("critical", "failed to initialize guest agent channel");
        process.exit(1);
      }
      await new Promise((r) => setTimeout(r, RETRY_PATH_INTERVAL_MS));
    }
  }
  try {
    writeFileSync(config.pidFile, `${process.pid}\n`);
  } catch (e) {
    log("debug", `cannot write pidfile ${config.pidFile}: ${(e as Error).message}`);
  }
  log("debug", `guestlink agent ${AGENT_VERSION} listening on ${config.path} (${config.method})`);
  // Reporting to the metadata server is on only when cloud-init wrote a config for it. On first boot
  // the agent starts long before cloud-init does, so a missing (or not yet valid) file is waited for.
  const reportConfigPath = process.env.GUESTLINK_AGENT_CONFIG || DEFAULT_REPORT_CONFIG;
  let reporter: { stop(): void } | undefined;
  const startReportingFromConfig = async (): Promise<boolean> => {
    let configText: string;
    try {
      configText = readFileSync(reportConfigPath, "utf8");
    } catch (e) {
      // Gone again between the event and the read: the next event brings it back.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") log("warning", `cannot read reporting config ${reportConfigPath}: ${(e as Error).message}`);
      return false;
    }
    try {
      // Loaded only when reporting is on: an agent that is just qemu-ga never pays for the WebSocket
      // client and the scheduler in memory or start-up time.
      reporter = (await import("./report/wiring.ts")).startReporting({ configText, fs: env.fs, dispatcher: dispatcher as Dispatcher<unknown>, version: AGENT_VERSION, log });
    } catch (e) {
      log("warning", `reporting config ${reportConfigPath}: ${(e as Error).message}`);
    }
    if (!reporter) {
      log("warning", `reporting not started: waiting for ${reportConfigPath} to change (or SIGHUP)`);
      return false;
    }
    log("info", `reporting started from ${reportConfigPath}`);
    return true;
  };
  const configWait = whenFileAppears(reportConfigPath, startReportingFromConfig, {
    onError: (e) => log("warning", `watching for ${reportConfigPath}: ${e.message}; send SIGHUP once it is written`),
  });
  const shutdown = (): void => {
    configWait.stop();
    reporter?.stop();
    void transport?.stop().finally(() => {
      try {
        unlinkSync(config.pidFile);
      } catch {
        // not written
      }
      process.exit(0);
    });
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // qemu-ga ignores SIGHUP, so it never ends the agent; it only re-checks for the reporting config
  // (a no-op once reporting runs).
  process.on("SIGHUP", () => configWait.check());
}

function main(): void {
  const prog = basename(process.argv[1] ?? "guestlink-agent");
  const action = parseCommandLine(process.argv.slice(2), process.env, (p) => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  }, () => buildRegistry().names(), prog, AGENT_VERSION);
  if (action.kind === "print") {
    process.stdout.write(action.text);
    process.exit(action.exitCode);
  }
  if (action.kind === "error") {
    if (action.stdout) process.stdout.write(action.stdout);
    process.stderr.write(action.stderr);
    process.exit(action.exitCode);
  }
  if (action.config.daemonize) {
    process.stderr.write("daemonizing is not supported: run under systemd (see packaging/agent)\n");
    process.exit(1);
  }
  void run(action.config);
}

main();
