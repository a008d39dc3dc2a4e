import { describe, expect, it } from "vitest";
import { Metrics } from "../../../metadata-server/http/metrics.ts";

/** A minimal parser of the text exposition format: every sample line must be NAME{LABELS} VALUE. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    out.set(m[1]! + (m[2] ?? ""), Number(m[3]));
  }
  return out;
}

describe("Metrics", () => {
  it("counts requests by route, method and status", () => {
    const m = new Metrics([0.001, 0.01, 0.1]);
    m.observe("nocloud", "GET", 200, 0.0005);
    m.observe("nocloud", "GET", 200, 0.005);
    m.observe("nocloud", "GET", 404, 0.05);
    const s = samples(m.render());
    expect(s.get('guestlink_http_requests_total{route="nocloud",method="GET",status="200"}')).toBe(2);
    expect(s.get('guestlink_http_requests_total{route="nocloud",method="GET",status="404"}')).toBe(1);
  });

  it("renders cumulative histogram buckets with +Inf, sum and count", () => {
    const m = new Metrics([0.001, 0.01, 0.1]);
    for (const sec of [0.0005, 0.001, 0.005, 0.05, 3]) m.observe("ec2", "GET", 200, sec);
    const s = samples(m.render());
    const bucket = (le: string) => s.get(`guestlink_http_request_duration_seconds_bucket{route="ec2",le="${le}"}`);
    expect([bucket("0.001"), bucket("0.01"), bucket("0.1"), bucket("+Inf")]).toEqual([2, 3, 4, 5]);
    expect(s.get('guestlink_http_request_duration_seconds_count{route="ec2"}')).toBe(5);
    expect(s.get('guestlink_http_request_duration_seconds_sum{route="ec2"}')).toBeCloseTo(3.0565, 6);
  });

  it("declares each family once with HELP and TYPE, and escapes label values", () => {
    const m = new Metrics();
    m.addGauge({ name: "guestlink_inventory_info", help: "x", samples: () => [[{ revision: 'a"b\\c\nd' }, 1]] });
    m.observe("r", "GET", 200, 0.01);
    const text = m.render();
    expect(text.match(/^# TYPE guestlink_http_requests_total counter$/gm)).toHaveLength(1);
    expect(text.match(/^# TYPE guestlink_http_request_duration_seconds histogram$/gm)).toHaveLength(1);
    expect(text).toContain('guestlink_inventory_info{revision="a\\"b\\\\c\\nd"} 1');
    expect(() => samples(text)).not.toThrow();
    expect(text.endsWith("\n")).toBe(true);
  });
});
