// User-data templates: cloud-config text with `{{ name }}` placeholders. Each value is written as
// JSON, which is also valid YAML flow syntax, so a value can never break out of its YAML node
// (a hostname with a colon, a list of packages, a multi-line string all stay one scalar or list).
// `{{ name | default(JSON) }}` gives a fallback; a missing variable without one is an error that
// names it, never a silent empty string.

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*default\((.*?)\)\s*)?\}\}/g;

export interface TemplateResult {
  text?: string;
  missing: string[];
  badDefaults: string[];
}

export function expandTemplate(template: string, vars: Readonly<Record<string, unknown>>): TemplateResult {
  const missing: string[] = [];
  const badDefaults: string[] = [];
  const text = template.replace(PLACEHOLDER, (_whole, name: string, fallback: string | undefined) => {
    if (Object.prototype.hasOwnProperty.call(vars, name) && vars[name] !== undefined) return JSON.stringify(vars[name]);
    if (fallback !== undefined) {
      try {
        return JSON.stringify(JSON.parse(fallback));
      } catch {
        badDefaults.push(name);
        return "";
      }
    }
    missing.push(name);
    return "";
  });
  return missing.length || badDefaults.length ? { missing, badDefaults } : { text, missing, badDefaults };
}

/** Names a template uses, for documentation and `guestlink templates`. */
export function templateVariables(template: string): { name: string; hasDefault: boolean }[] {
  const seen = new Map<string, boolean>();
  for (const m of template.matchAll(PLACEHOLDER)) {
    seen.set(m[1]!, (seen.get(m[1]!) ?? false) || m[2] !== undefined);
  }
  return [...seen].map(([name, hasDefault]) => ({ name, hasDefault }));
}
