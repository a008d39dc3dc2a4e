// Response header objects, shared between requests.
//
// Every reply needs its route's headers plus content-length. Building that object per request
// by spreading the route's constant cost more than its allocation: under wrk load those objects
// reached V8's old generation at about 180 KB per scavenge (a literal of the same shape: about
// 20 KB; measured with --trace-gc-nvp), which forced a full mark-compact every 1.5-3 s. On the
// 44 MB heap of a 10,000-VM inventory each one stalled the event loop for about 90 ms, and every
// connection's request in flight waited: that was what remained of the p99 after acceptors.ts.
//
// Routes reply with module-level header constants, and documents come in a few hundred
// lengths, so one object per (constant, length) serves every request. node:http only reads the
// object it is given to writeHead; the objects are frozen so that nothing can change them later.
export type HeaderObject = Readonly<Record<string, string | number>>;

/** Distinct body lengths kept per header constant; beyond it objects are built per request. */
const MAX_LENGTHS_PER_HEADERS = 4096;

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

export class ResponseHeaders {
  // Keyed weakly: a route that builds its headers per request (405's allow, say) leaves nothing behind.
  private readonly byHeaders = new WeakMap<object, Map<number, HeaderObject>>();

  /** `headers` plus content-length, and connection: close when the server is closing. */
  get(headers: Readonly<Record<string, string>> | undefined, contentLength: number, closing: boolean): HeaderObject {
    if (closing) return { ...headers, "content-length": contentLength, connection: "close" };
    const base = headers ?? EMPTY;
    let byLength = this.byHeaders.get(base);
    if (!byLength) this.byHeaders.set(base, (byLength = new Map()));
    let result = byLength.get(contentLength);
    if (!result) {
      result = Object.freeze({ ...base, "content-length": contentLength });
      if (byLength.size < MAX_LENGTHS_PER_HEADERS) byLength.set(contentLength, result);
    }
    return result;
  }
}
