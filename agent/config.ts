// qemu-ga compatible command line and keyfile configuration. Pure: takes argv, environment and the
// config file's text; main.ts does the I/O.
export interface AgentConfig {
  method: "virtio-serial" | "isa-serial" | "unix-listen";
  path: string;
  stateDir: string;
  pidFile: string;
  logFile?: string;
  verbose: boolean;
  retryPath: boolean;
  daemonize: boolean;
  blockRpcs: string[];
  allowRpcs?: string[];
  fsfreezeHook?: string;
  dumpConf: boolean;
}

export type CliAction =
  | { kind: "run"; config: AgentConfig }
  | { kind: "print"; text: string; exitCode: number }
  | { kind: "error"; stderr: string; stdout?: string; exitCode: number };

export const VIRTIO_PATH_DEFAULT = "/dev/virtio-ports/org.qemu.guest_agent.0";
export const SERIAL_PATH_DEFAULT = "/dev/ttyS0";
export const CONF_DEFAULT = "/etc/qemu/qemu-ga.conf";
export const PID_DEFAULT = "/var/run/qemu-ga.pid";
export const STATE_DEFAULT = "/var/run";

const LONG: Record<string, string> = {
  help: "h", version: "V", verbose: "v", daemonize: "d", method: "m", path: "p", logfile: "l", pidfile: "f",
  "fsfreeze-hook": "F", "block-rpcs": "b", "allow-rpcs": "a", statedir: "t", "dump-conf": "D", "retry-path": "r", config: "c",
};
const TAKES_ARG = new Set(["m", "p", "l", "f", "b", "a", "t", "c"]);

export function helpText(prog: string, version: string): string {
  return `Usage: ${prog} [-m <method> -p <path>] [<options>]
guestlink agent ${version}: a qemu-guest-agent compatible guest agent

  -m, --method      transport method: one of unix-listen, virtio-serial,
                    or isa-serial (virtio-serial is the default)
  -p, --path        device/socket path (the default for virtio-serial is:
                    ${VIRTIO_PATH_DEFAULT},
                    the default for isa-serial is: ${SERIAL_PATH_DEFAULT})
  -l, --logfile     set logfile path, logs to stderr by default
  -f, --pidfile     specify pidfile (default is ${PID_DEFAULT})
  -t, --statedir    specify dir to store state information (absolute paths
                    only, default is ${STATE_DEFAULT})
  -v, --verbose     log extra debugging information
  -V, --version     print version information and exit
  -b, --block-rpcs  comma-separated list of RPCs to disable (no spaces,
                    use "help" to list available RPCs)
  -a, --allow-rpcs  comma-separated list of RPCs to enable; all others are
                    disabled (no spaces, use "help" to list available RPCs)
  -c, --config      configuration file (default ${CONF_DEFAULT}, or $QGA_CONF)
  -D, --dump-conf   dump a config file based on current config
                    options / command-line parameters to stdout
  -r, --retry-path  attempt re-opening path if it's unavailable or closed
  -h, --help        display this help and exit
`;
}

/** glib keyfile, the subset qemu-ga uses: [group], key=value, # comments, booleans true/false. */
export function parseKeyfile(text: string): Map<string, Map<string, string>> {
  const groups = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const g = /^\[([^\]]+)\]$/.exec(line);
    if (g) {
      cur = groups.get(g[1]!) ?? new Map();
      groups.set(g[1]!, cur);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && cur) cur.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return groups;
}

const splitList = (s: string): string[] => s.split(",").map((x) => x.trim()).filter(Boolean);

export function parseCommandLine(argv: string[], env: Record<string, string | undefined>, readConfig: (path: string) => string | undefined,
  commandNames: () => string[], prog = "guestlink-agent", version = "0.0.0"): CliAction {
  const opts: [string, string | undefined][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let key: string | undefined;
    let val: string | undefined;
    if (a.startsWith("--")) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      key = LONG[name];
      if (!key) return { kind: "error", stderr: `${prog}: unrecognized option '${a}'\n`, stdout: `Unknown option, try '${prog} --help' for more information.\n`, exitCode: 1 };
      val = inline;
    } else if (a.startsWith("-") && a.length >= 2) {
      key = a[1]!;
      if (!Object.values(LONG).includes(key)) return { kind: "error", stderr: `${prog}: invalid option -- '${key}'\n`, stdout: `Unknown option, try '${prog} --help' for more information.\n`, exitCode: 1 };
      if (a.length > 2) {
        if (TAKES_ARG.has(key) || key === "F") val = a.slice(2);
        else {
          // bundled flags such as -vr
          for (const k of a.slice(1)) opts.push([k, undefined]);
          continue;
        }
      }
    } else {
      continue; // qemu-ga ignores stray operands
    }
    if (TAKES_ARG.has(key) && val === undefined) {
      val = argv[++i];
      if (val === undefined) return { kind: "error", stderr: `${prog}: option requires an argument -- '${key}'\n`, stdout: `Unknown option, try '${prog} --help' for more information.\n`, exitCode: 1 };
    }
    opts.push([key, val]);
  }

  const configPath = opts.filter(([k]) => k === "c").pop()?.[1] ?? env.QGA_CONF ?? CONF_DEFAULT;
  const cfgText = readConfig(configPath);
  const general = cfgText === undefined ? new Map<string, string>() : parseKeyfile(cfgText).get("general") ?? new Map<string, string>();
  const bool = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : v === "true" || v === "1");

  let method = general.get("method") ?? "virtio-serial";
  let path = general.get("path");
  let logFile = general.get("logfile");
  let pidFile = general.get("pidfile") ?? PID_DEFAULT;
  let stateDir = general.get("statedir") ?? STATE_DEFAULT;
  let verbose = bool(general.get("verbose")) ?? false;
  let retryPath = bool(general.get("retry-path")) ?? false;
  let daemonize = bool(general.get("daemon")) ?? false;
  let fsfreezeHook = general.get("fsfreeze-hook");
  // Lists build up newest first in qemu-ga, from the keyfile as from the command line; -D shows that order.
  let block = general.has("block-rpcs") ? splitList(general.get("block-rpcs")!).reverse() : [];
  let allow = general.has("allow-rpcs") ? splitList(general.get("allow-rpcs")!).reverse() : undefined;
  let dumpConf = false;

  for (const [k, v] of opts) {
    switch (k) {
      case "h": return { kind: "print", text: helpText(prog, version), exitCode: 0 };
      case "V": return { kind: "print", text: `QEMU Guest Agent 7.2 compatible: guestlink agent ${version}\n`, exitCode: 0 };
      case "m": method = v!; break;
      case "p": path = v!; break;
      case "l": logFile = v!; break;
      case "f": pidFile = v!; break;
      case "F": fsfreezeHook = v ?? "/etc/qemu/fsfreeze-hook"; break;
      case "t": stateDir = v!; break;
      case "v": verbose = true; break;
      case "d": daemonize = true; break;
      case "r": retryPath = true; break;
      case "D": dumpConf = true; break;
      case "c": break;
      case "b":
      case "a": {
        if (v === "help") return { kind: "print", text: commandNames().map((n) => `${n}\n`).join(""), exitCode: 0 };
        // Each list builds up newest first, which is why -D prints it reversed, as qemu-ga does.
        const items = splitList(v!).reverse();
        if (k === "b") block = [...items, ...block];
        else allow = [...items, ...(allow ?? [])];
        break;
      }
    }
  }

  if (method !== "virtio-serial" && method !== "isa-serial" && method !== "unix-listen") {
    return { kind: "error", stderr: `critical: unsupported channel method/type: ${method}\ncritical: failed to initialize guest agent channel\n`, exitCode: 1 };
  }
  if (!path) path = method === "isa-serial" ? SERIAL_PATH_DEFAULT : method === "virtio-serial" ? VIRTIO_PATH_DEFAULT : undefined;
  if (!path) return { kind: "error", stderr: "critical: must specify a path for this channel\ncritical: failed to initialize guest agent channel\n", exitCode: 1 };

  const config: AgentConfig = {
    method, path, stateDir, pidFile, verbose, retryPath, daemonize, blockRpcs: block, dumpConf,
    ...(logFile ? { logFile } : {}), ...(allow ? { allowRpcs: allow } : {}), ...(fsfreezeHook ? { fsfreezeHook } : {}),
  };
  if (dumpConf) return { kind: "print", text: dumpConfig(config), exitCode: 0 };
  return { kind: "run", config };
}

/** -D: the configuration as a keyfile, in qemu-ga's key order. */
export function dumpConfig(c: AgentConfig): string {
  const lines = ["[general]", `daemon=${c.daemonize}`, `method=${c.method}`, `path=${c.path}`];
  if (c.logFile) lines.push(`logfile=${c.logFile}`);
  lines.push(`pidfile=${c.pidFile}`);
  if (c.fsfreezeHook) lines.push(`fsfreeze-hook=${c.fsfreezeHook}`);
  lines.push(`statedir=${c.stateDir}`, `verbose=${c.verbose}`, `retry-path=${c.retryPath}`, `block-rpcs=${c.blockRpcs.join(",")}`);
  if (c.allowRpcs) lines.push(`allow-rpcs=${c.allowRpcs.join(",")}`);
  return lines.map((l) => `${l}\n`).join("");
}
