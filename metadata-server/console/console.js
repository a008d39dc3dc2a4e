// The guestlink console: one table of VMs and NICs, kept live over /v1/events. No framework and no
// external assets, so it works offline on an operator's laptop and loads in one round trip.
"use strict";
(() => {
  const state = { vms: new Map(), networks: [], revision: "" };
  const $ = (id) => document.getElementById(id);
  const tbody = document.querySelector("#vms tbody");
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (k === "class") e.className = v; else e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  };

  function age(iso) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  }

  function addresses(list, cls) {
    return list.map((a) => el("span", { class: `addr ${cls(a)}` }, a));
  }

  /** cloud-init's verdict on the VM's boot: running, done, or done with errors (listed in the tooltip). */
  function cloudInitBadge(ci) {
    if (!ci) return "";
    if (!ci.done) return el("span", { class: "cloud-init running", title: "cloud-init has not finished" }, "cloud-init …");
    if (ci.errors.length === 0) return el("span", { class: "cloud-init ok", title: ci.datasource ?? "" }, "cloud-init ✓");
    return el("span", { class: "cloud-init failed", title: ci.errors.join("\n") }, `cloud-init: ${ci.errors.length} error${ci.errors.length > 1 ? "s" : ""}`);
  }

  /** A report the server refused for going over a limit: the row shows the last good one. */
  function refusedBadge(r) {
    return r ? el("span", { class: "cloud-init failed", title: r.message }, `report refused (${r.source})`) : "";
  }

  /** The guest's clock, when the server found it far off or unreadable (ages use the server's clock). */
  function clockBadge(c) {
    return c && c.problem ? el("span", { class: "cloud-init failed", title: c.problem }, "guest clock") : "";
  }

  function row(vm, nic, first) {
    const bad = nic.mtu.verdict === "inconsistent" || nic.unexpected.length > 0 || (nic.link && nic.link !== "up");
    const tr = el("tr", { class: bad ? "problem" : "", "data-vm": vm.id, "data-network": nic.network });
    const vmCell = el("td", { class: "vm" });
    if (first) vmCell.append(el("button", { type: "button", "data-open": vm.id }, vm.name), cloudInitBadge(vm.cloudInit), refusedBadge(vm.refused), clockBadge(vm.guestClock));
    const chain = el("div", { class: "chain" }, ...nic.mtu.chain.map((l) => el("span", { class: `layer ${l.status}`, title: l.status }, `${l.layer} ${l.mtu ?? "–"}`)));
    tr.append(
      vmCell,
      el("td", {}, nic.name, el("span", { class: "addr" }, nic.mac)),
      el("td", {}, nic.network),
      el("td", {}, ...addresses(nic.assigned, (a) => (nic.missing.includes(a) ? "missing" : ""))),
      el("td", {}, ...(nic.reported === null ? ["–"] : addresses(nic.reported, (a) => (nic.unexpected.includes(a) ? "unexpected" : "")))),
      el("td", { class: nic.link && nic.link !== "up" ? "link-down" : "" }, nic.link ?? "–"),
      el("td", {}, el("span", { class: `verdict ${nic.mtu.verdict}` }, `${nic.mtu.expected} ${nic.mtu.verdict === "consistent" ? "✓" : "✗"}`), chain),
      el("td", { class: "age", "data-at": vm.reportedAt ?? "" }, first ? age(vm.reportedAt) : ""),
    );
    return tr;
  }

  function render() {
    const network = $("f-network").value;
    const problemsOnly = $("f-problems").checked;
    const text = $("f-text").value.trim().toLowerCase();
    const rows = [];
    let nics = 0, problems = 0;
    for (const vm of state.vms.values()) {
      let first = true;
      for (const nic of vm.nics) {
        nics++;
        const bad = nic.mtu.verdict === "inconsistent" || nic.unexpected.length > 0 || (nic.link && nic.link !== "up");
        if (bad) problems++;
        if (network && nic.network !== network) continue;
        if (problemsOnly && !bad) continue;
        if (text && ![vm.name, nic.mac, ...nic.assigned, ...(nic.reported ?? [])].some((s) => s.toLowerCase().includes(text))) continue;
        rows.push(row(vm, nic, first));
        first = false;
      }
    }
    tbody.replaceChildren(...rows);
    $("summary").textContent = `${state.vms.size} VMs, ${nics} NICs, ${problems} with problems · revision ${state.revision}`;
  }

  async function loadState() {
    const res = await fetch("/v1/console/state");
    const s = await res.json();
    state.revision = s.revision;
    state.vms = new Map(s.vms.map((v) => [v.id, v]));
    const select = $("f-network");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"), ...s.networks.map((n) => el("option", { value: n.name }, `${n.name} (${n.type}, ${n.mtu})`)));
    select.value = chosen;
    render();
  }

  async function openDetail(vmId) {
    const vm = state.vms.get(vmId);
    $("detail").hidden = false;
    $("detail-title").textContent = `${vm.name} (${vm.id})`;
    $("detail-problems").replaceChildren(
      ...(vm.refused ? [el("p", { class: "problem-text" }, `report refused at ${vm.refused.at}: ${vm.refused.message}`)] : []),
      ...(vm.guestClock?.problem ? [el("p", { class: "problem-text" }, vm.guestClock.problem)] : []),
      ...vm.nics.flatMap((n) => n.mtu.problems.map((p) => el("p", { class: "problem-text" }, p))));
    const res = await fetch(`/v1/vms/${encodeURIComponent(vmId)}/guest`);
    $("detail-raw").textContent = res.ok ? JSON.stringify(await res.json(), null, 2) : `no report yet (${res.status})`;
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/events`);
    ws.onopen = () => { $("live").className = "live on"; $("live").textContent = "live"; loadState(); };
    ws.onclose = () => { $("live").className = "live off"; $("live").textContent = "offline"; setTimeout(connect, 2000); };
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "vm") { state.vms.set(msg.vm.id, msg.vm); render(); }
      else if (msg.type === "revision") loadState();
    };
  }

  $("f-network").onchange = render;
  $("f-problems").onchange = render;
  $("f-text").oninput = render;
  $("detail-close").onclick = () => { $("detail").hidden = true; };
  tbody.onclick = (e) => { const id = e.target.getAttribute && e.target.getAttribute("data-open"); if (id) openDetail(id); };
  setInterval(() => document.querySelectorAll("td.age[data-at]").forEach((td) => { if (td.textContent) td.textContent = age(td.getAttribute("data-at")); }), 1000);
  loadState().then(connect, connect);
})();
