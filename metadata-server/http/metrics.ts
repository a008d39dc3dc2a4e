// Prometheus text exposition (format 0.0.4): requests by route and status, and a latency
// histogram per route. Labels are route names from the routing table, never raw paths: paths
// carry seed tokens, and one series per token would also grow without bound.
export const DEFAULT_LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

interface Histogram { counts: number[]; sum: number; count: number }

export interface GaugeSource {
  name: string;
  help: string;
  type?: "gauge" | "counter";
  /** Label set -> value; a single unlabelled sample is `[{}, value]`. */
  samples(): Array<[Record<string, string>, number]>;
}

export class Metrics {
  /** route -> method -> status -> count: nested so that counting builds no key string per request. */
  private readonly requests = new Map<string, Map<string, Map<number, number>>>();
  private readonly latency = new Map<string, Histogram>();
  private readonly gauges: GaugeSource[] = [];

  constructor(private readonly buckets: readonly number[] = DEFAULT_LATENCY_BUCKETS_SECONDS) {}

  observe(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.requests.get(route);
    if (!byMethod) this.requests.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let h = this.latency.get(route);
    if (!h) this.latency.set(route, (h = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }));
    // Counts are per bucket here and made cumulative when rendered, so observing stays O(log n).
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seconds <= this.buckets[mid]!) hi = mid;
      else lo = mid + 1;
    }
    if (lo < this.buckets.length) h.counts[lo]!++;
    h.sum += seconds;
    h.count++;
  }

  addGauge(source: GaugeSource): void { this.gauges.push(source); }

  render(): string {
    const out: string[] = [];
    out.push("# HELP guestlink_http_requests_total HTTP requests answered, by route, method and status.");
    out.push("# TYPE guestlink_http_requests_total counter");
    for (const route of [...this.requests.keys()].sort()) {
      const byMethod = this.requests.get(route)!;
      for (const method of [...byMethod.keys()].sort()) {
        const byStatus = byMethod.get(method)!;
        for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
          out.push(`guestlink_http_requests_total{route="${esc(route)}",method="${esc(method)}",status="${status}"} ${byStatus.get(status)}`);
        }
      }
    }
    out.push("# HELP guestlink_http_request_duration_seconds Time from request to response end, by route.");
    out.push("# TYPE guestlink_http_request_duration_seconds histogram");
    for (const route of [...this.latency.keys()].sort()) {
      const h = this.latency.get(route)!;
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += h.counts[i]!;
        out.push(`guestlink_http_request_duration_seconds_bucket{route="${esc(route)}",le="${le}"} ${cumulative}`);
      });
      out.push(`guestlink_http_request_duration_seconds_bucket{route="${esc(route)}",le="+Inf"} ${h.count}`);
      out.push(`guestlink_http_request_duration_seconds_sum{route="${esc(route)}"} ${h.sum}`);
      out.push(`guestlink_http_request_duration_seconds_count{route="${esc(route)}"} ${h.count}`);
    }
    for (const g of this.gauges) {
      out.push(`# HELP ${g.name} ${g.help}`);
      out.push(`# TYPE ${g.name} ${g.type ?? "gauge"}`);
      for (const [labels, value] of g.samples()) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",");
        out.push(`${g.name}${l ? `{${l}}` : ""} ${value}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

/** Label value escaping per the exposition format: backslash, double quote and newline. */
function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
