import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { TetherError } from '../../protocol/index.js';

export interface SchemaIssue {
  /** JSON Pointer inside the namespace value. */
  path: string;
  message: string;
}

/** Most issues reported for one value; a huge invalid document must not make a huge answer. */
const MAX_ISSUES = 20;

/**
 * Compiles namespace JSON Schemas with ajv and keeps the compiled validators. Schemas are
 * compiled once per content, so validating 10,000 writes does not recompile anything.
 */
export class SchemaValidator {
  // strict: false accepts schemas written for other tools (unknown keywords such as `x-ui`).
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** CONFIG_INVALID when `schema` is not a usable JSON Schema. */
  compile(schema: Record<string, unknown>): ValidateFunction {
    const key = JSON.stringify(schema);
    const cached = this.compiled.get(key);
    if (cached) return cached;
    // Draft-07 and 2020-12 agree on everything namespaces need; the meta-schema URI is not needed to validate.
    const { $schema: _ignored, ...body } = schema;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(body);
    } catch (err) {
      throw new TetherError('CONFIG_INVALID', `Not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.compiled.size > 1000) this.compiled.clear();
    this.compiled.set(key, validate);
    return validate;
  }

  /** The issues of `value` against `schema`; empty when it satisfies it. */
  issues(schema: Record<string, unknown>, value: unknown, prefix = ''): SchemaIssue[] {
    const validate = this.compile(schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).slice(0, MAX_ISSUES).map((e) => ({ path: `${prefix}${e.instancePath}`, message: e.message ?? 'invalid' }));
  }
}
