import { Tags, type DeviceScope } from '../../protocol/index.js';

/** `site=berlin, env=prod` → a scope; empty → null (all devices); a string explains what is wrong. */
export function parseScopeText(text: string): DeviceScope | string {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const scope: Record<string, string> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `"${part}" is not key=value`;
    scope[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const parsed = Tags.safeParse(scope);
  return parsed.success ? parsed.data : 'Tag keys are letters, digits, _ . -';
}

export function scopeText(scope: DeviceScope | undefined): string {
  return scope ? Object.entries(scope).map(([k, v]) => `${k}=${v}`).join(', ') : '';
}
