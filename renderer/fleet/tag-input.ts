import { Tags } from '../../protocol/index.js';

/**
 * Parses what the user typed to set tags: `k=v` pairs separated by commas or spaces (a bare `k`
 * sets an empty value). Checked with the protocol's schema, so the backend will not refuse it.
 */
export function parseTagAssignments(text: string): { ok: true; tags: Tags } | { ok: false; error: string } {
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (parts.length === 0) return { ok: false, error: 'Type a tag as key=value' };
  const tags: Record<string, string> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    tags[key] = eq < 0 ? '' : part.slice(eq + 1);
  }
  const parsed = Tags.safeParse(tags);
  if (!parsed.success) return { ok: false, error: 'Tag keys are 1–64 letters, digits, _ . or -; values at most 256 characters' };
  return { ok: true, tags: parsed.data };
}

/** Parses tag keys to remove (separated by commas or spaces); `k=v` is read as `k`. */
export function parseTagKeys(text: string): string[] {
  return [...new Set(text.split(/[,\s]+/).filter(Boolean).map((part) => part.split('=')[0] ?? part))].filter(Boolean);
}
