// What a route handler may read while answering one request. Built per request by server.ts from
// the long-lived service state; `snapshot` is taken once, so one request sees one revision.
import type { ReportsService } from "../hub/reports.ts";
import type { SiteSnapshot, ReloadCounters } from "../site-store.ts";
import type { IdentifyConfig } from "./identify.ts";
import type { Metrics } from "./metrics.ts";

export interface Ec2Options {
  /** Make IMDSv2 session tokens mandatory ("required" on AWS). Default false ("optional"). */
  requireToken: boolean;
}

export interface NoCloudOptions {
  /**
   * Refuse a seed token when the request's source address belongs to a different VM. Costs
   * nothing for a guest using its own token, and turns a leaked token into a useless one for
   * other guests on the site. Default true.
   */
  crossCheckSource: boolean;
}

export interface ServiceContext {
  snapshot: SiteSnapshot | undefined;
  identify: IdentifyConfig;
  /** Names and addresses besides loopback and the listener's own that operator requests may name in Host (http/operator.ts). */
  operatorHosts: ReadonlySet<string>;
  secret: Uint8Array;
  ec2: Ec2Options;
  nocloud: NoCloudOptions;
  /** Milliseconds since the epoch at the start of the request. */
  now: number;
  metrics: Metrics;
  reloads: ReloadCounters;
  startedAt: number;
  /** What guests report (store, hubs, console); absent when the server runs without it. */
  reports?: ReportsService;
}

export const DEFAULT_EC2_OPTIONS: Ec2Options = { requireToken: false };
export const DEFAULT_NOCLOUD_OPTIONS: NoCloudOptions = { crossCheckSource: true };

/** Secrets travel in these documents; no cache between the guest and us may keep them. */
export const NO_STORE = { "cache-control": "no-store" };
