// Structured logs: one JSON object per line, so journald, jq and log shippers read them without
// a parser of our own. Events have stable dotted names ("inventory.rejected"); fields are flat.
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Whether a line at `level` is written when the threshold is `minLevel`. */
export function levelEnabled(level: LogLevel, minLevel: LogLevel): boolean {
  return LEVELS[level] >= LEVELS[minLevel];
}

/** The one line format of every guestlink server command: {time, level, event, ...fields}. */
export function jsonLogger(write: (line: string) => void, minLevel: LogLevel = "info", now: () => Date = () => new Date()): Logger {
  return {
    log(level, event, fields = {}) {
      if (!levelEnabled(level, minLevel)) return;
      write(JSON.stringify({ time: now().toISOString(), level, event, ...fields }) + "\n");
    },
  };
}

export const silentLogger: Logger = { log() {} };
