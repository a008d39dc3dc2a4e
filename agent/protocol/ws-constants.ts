// Names on the agent <-> server WebSocket that the agent bundle needs at run time. Kept apart from
// ws-messages.ts so the agent does not pull zod (the server validates; the agent only sends).
export const AGENT_WS_PATH = "/v1/agent";
export const AGENT_VM_HEADER = "x-guestlink-vm";
