import { z } from 'zod';
import { isErrorCode, TetherError, type ErrorCode } from './errors.js';

/** C0 controls, DEL and C1 controls: what a terminal acts on (ESC, CSI) or a page would hide. */
function isControl(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}

/**
 * Shows each control character as a `\u001b`-style escape, so that text from outside (a device
 * name, a tag) never drives the terminal or page it is printed in. The escape is also valid
 * inside a JSON string, so JSON output stays JSON. Characters in `keep` (e.g. "\n") pass as they are.
 */
export function escapeControlCharacters(text: string, keep = ''): string {
  // The common case, on every render of a name: nothing to escape, no new string.
  if (!hasControlCharacters(text)) return text;
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out += isControl(code) && !keep.includes(char) ? `\\u${code.toString(16).padStart(4, '0')}` : char;
  }
  return out;
}

/** Where a schema issue asks for its own error code rather than BAD_REQUEST (see {@link printable}). */
const ISSUE_CODE_PARAM = 'errorCode';

/** A string schema that refuses control characters with the CONTROL_CHARACTERS code. */
export function printable<T extends z.ZodString>(schema: T): T {
  return schema.refine((text) => !hasControlCharacters(text), {
    message: 'must not contain control characters',
    params: { [ISSUE_CODE_PARAM]: 'CONTROL_CHARACTERS' satisfies ErrorCode },
  });
}

/**
 * The error code a zod issue carries in its params, looking into nested issues (a record key's
 * `invalid_key` wraps the key's own). Takes a zod issue, or the `params` of Fastify's copy of one.
 */
export function issueErrorCode(issue: unknown): ErrorCode | undefined {
  if (typeof issue !== 'object' || issue === null) return undefined;
  const { params, issues } = issue as { params?: unknown; issues?: unknown };
  if (typeof params === 'object' && params !== null) {
    const code = (params as Record<string, unknown>)[ISSUE_CODE_PARAM];
    if (isErrorCode(code)) return code;
  }
  if (Array.isArray(issues)) {
    for (const inner of issues) {
      const code = issueErrorCode(inner);
      if (code) return code;
    }
  }
  return undefined;
}

/** `/tags/site` for an issue's path; a key with control characters is shown escaped. */
export function issuePath(path: readonly PropertyKey[]): string {
  return `/${path.map((p) => escapeControlCharacters(String(p))).join('/')}`;
}

/**
 * Parses `value` or throws a TetherError naming the first offending field: the code an issue
 * carries (CONTROL_CHARACTERS), else BAD_REQUEST. For inputs that reach a service without
 * passing the HTTP layer's schemas, such as the CLI's.
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues.find((i) => issueErrorCode(i) !== undefined) ?? parsed.error.issues[0];
  throw new TetherError(issueErrorCode(issue) ?? 'BAD_REQUEST', `${what} ${issuePath(issue?.path ?? [])}: ${issueMessage(issue)}`);
}

/** An issue's message, or the message of the nested issue that carries a code. */
export function issueMessage(issue: unknown): string {
  if (typeof issue !== 'object' || issue === null) return 'invalid';
  const { message, issues } = issue as { message?: unknown; issues?: unknown };
  if (Array.isArray(issues)) {
    const inner = issues.find((i) => issueErrorCode(i) !== undefined);
    if (inner) return issueMessage(inner);
  }
  return typeof message === 'string' ? message : 'invalid';
}
