import { TetherError } from '../../protocol/index.js';

/** Deepest JSON body accepted; config values stop at 32 levels, nothing we accept nests deeper. */
export const MAX_JSON_DEPTH = 64;

/**
 * BAD_REQUEST when `text` nests arrays/objects deeper than `max`. A linear scan before
 * JSON.parse: a 100,000-level body is refused without building it, and no schema or merge
 * downstream ever recurses through one.
 */
export function checkJsonDepth(text: string, max = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) throw new TetherError('BAD_REQUEST', `JSON nests deeper than ${max} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}
