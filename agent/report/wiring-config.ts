// Where cloud-init's vendor-data puts the agent's reporting config (server URL and credential).
export const DEFAULT_REPORT_CONFIG = "/etc/guestlink/agent.json";
