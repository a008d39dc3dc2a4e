// The MTU libvirt really gives each vNIC, read from a domain's XML (`virsh dumpxml VM`). libvirt
// writes its XML in a regular form, so a targeted scan is enough; a parse failure is an error,
// never a guess.

/** MAC -> <mtu size> of the interface (null: the interface has no <mtu>, so the guest sees 1500). */
export function mtusFromDomainXml(xml: string): Map<string, number | null> | { error: string } {
  if (!/<domain[\s>]/.test(xml)) return { error: "not a libvirt domain XML (no <domain> element)" };
  return interfaceMtus(xml);
}

/** The same scan over bare <interface> elements (what `guestlink render --format libvirt` prints). */
export function interfaceMtus(xml: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const block of xml.match(/<interface\b[\s\S]*?<\/interface>/g) ?? []) {
    const mac = /<mac\s+address=['"]([0-9a-fA-F:]{17})['"]/.exec(block)?.[1];
    if (!mac) continue;
    const size = /<mtu\s+size=['"](\d+)['"]/.exec(block)?.[1];
    out.set(mac.toLowerCase(), size !== undefined ? Number(size) : null);
  }
  return out;
}
